/**
 * Time enters the platform only through a `Clock`. Production uses `systemClock`;
 * tests and the simulator use `ManualClock`, whose time moves only when told to,
 * so that a run replays byte for byte from its seed.
 */
export interface Clock {
  /** Milliseconds since the Unix epoch. */
  now(): number;
  /** Calls `fn` once after `delayMs`; the returned function cancels it. */
  setTimer(delayMs: number, fn: () => void): () => void;
}

export const systemClock: Clock = {
  now: () => Date.now(),
  setTimer(delayMs, fn) {
    const handle = setTimeout(fn, Math.max(0, delayMs));
    // A pending timer must never keep a finished process alive.
    handle.unref?.();
    return () => clearTimeout(handle);
  },
};

interface PendingTimer {
  atMs: number;
  seq: number;
  fn: () => void;
}

/** A clock whose time only moves through `advance`/`set`; timers fire in time order, then in the order set. */
export class ManualClock implements Clock {
  private nowMs: number;
  private seq = 0;
  private timers: PendingTimer[] = [];

  constructor(startMs = Date.UTC(2026, 0, 1)) {
    this.nowMs = startMs;
  }

  now(): number {
    return this.nowMs;
  }

  setTimer(delayMs: number, fn: () => void): () => void {
    const timer = { atMs: this.nowMs + Math.max(0, delayMs), seq: this.seq++, fn };
    this.timers.push(timer);
    return () => {
      this.timers = this.timers.filter((t) => t !== timer);
    };
  }

  /** The time of the next pending timer, if any. */
  nextTimerAt(): number | undefined {
    return this.sorted()[0]?.atMs;
  }

  pendingTimers(): number {
    return this.timers.length;
  }

  /** Moves time forward by `ms`, firing every timer that falls due on the way, in order. */
  advance(ms: number): void {
    this.advanceTo(this.nowMs + ms);
  }

  advanceTo(targetMs: number): void {
    // Bounded: a timer that re-arms itself at zero delay cannot spin forever.
    for (let fired = 0; fired < 1_000_000; fired++) {
      const next = this.sorted()[0];
      if (!next || next.atMs > targetMs) break;
      this.timers = this.timers.filter((t) => t !== next);
      this.nowMs = Math.max(this.nowMs, next.atMs);
      next.fn();
    }
    this.nowMs = Math.max(this.nowMs, targetMs);
  }

  private sorted(): PendingTimer[] {
    return this.timers.sort((a, b) => a.atMs - b.atMs || a.seq - b.seq);
  }
}

/** Resolves after `delayMs` on the given clock. */
export function sleep(clock: Clock, delayMs: number): Promise<void> {
  return new Promise((resolve) => clock.setTimer(delayMs, resolve));
}
