import { MinHeap } from "./heap.js";

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
  /** Cancelled: left in the heap and skipped when it comes up, so cancelling costs nothing. */
  cancelled: boolean;
}

/** Earlier first; at one time, in the order set. */
const before = (a: PendingTimer, b: PendingTimer): boolean => a.atMs < b.atMs || (a.atMs === b.atMs && a.seq < b.seq);

/** A clock whose time only moves through `advance`/`set`; timers fire in time order, then in the order set. */
export class ManualClock implements Clock {
  private nowMs: number;
  private seq = 0;
  private readonly timers = new MinHeap<PendingTimer>(before);
  private pending = 0;

  constructor(startMs = Date.UTC(2026, 0, 1)) {
    this.nowMs = startMs;
  }

  now(): number {
    return this.nowMs;
  }

  setTimer(delayMs: number, fn: () => void): () => void {
    const timer: PendingTimer = { atMs: this.nowMs + Math.max(0, delayMs), seq: this.seq++, fn, cancelled: false };
    this.timers.push(timer);
    this.pending++;
    return () => {
      if (timer.cancelled) return;
      timer.cancelled = true;
      this.pending--;
      // Cancelled timers wait in the heap until they come up; when they are most of it, it is rebuilt.
      if (this.timers.size > 1024 && this.pending * 2 < this.timers.size)
        this.timers.rebuild(this.timers.entries().filter((t) => !t.cancelled));
    };
  }

  /** The time of the next pending timer, if any. */
  nextTimerAt(): number | undefined {
    return this.next()?.atMs;
  }

  pendingTimers(): number {
    return this.pending;
  }

  /** Moves time forward by `ms`, firing every timer that falls due on the way, in order. */
  advance(ms: number): void {
    this.advanceTo(this.nowMs + ms);
  }

  advanceTo(targetMs: number): void {
    // Bounded: a timer that re-arms itself at zero delay cannot spin forever.
    for (let fired = 0; fired < 1_000_000; fired++) {
      const next = this.next();
      if (!next || next.atMs > targetMs) break;
      this.timers.pop();
      next.cancelled = true;
      this.pending--;
      this.nowMs = Math.max(this.nowMs, next.atMs);
      next.fn();
    }
    this.nowMs = Math.max(this.nowMs, targetMs);
  }

  /** The earliest timer still pending; cancelled ones on top of the heap are dropped on the way. */
  private next(): PendingTimer | undefined {
    // Bounded by the heap's size: each pass removes one cancelled timer.
    for (let top = this.timers.peek(); top; top = this.timers.peek()) {
      if (!top.cancelled) return top;
      this.timers.pop();
    }
    return undefined;
  }
}

/** Resolves after `delayMs` on the given clock. */
export function sleep(clock: Clock, delayMs: number): Promise<void> {
  return new Promise((resolve) => clock.setTimer(delayMs, resolve));
}

let lastIso = { ms: Number.NaN, text: "" };

/**
 * `ms` as the timestamp Kubernetes writes (`2026-01-01T00:00:00.000Z`). The last one is kept: the
 * writes of one instant (a status's conditions, a pod's container states) each ask for the same.
 */
export function isoTime(ms: number): string {
  if (ms !== lastIso.ms) lastIso = { ms, text: new Date(ms).toISOString() };
  return lastIso.text;
}
