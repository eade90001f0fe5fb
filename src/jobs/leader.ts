/**
 * Leader election on a lease in the store (`StoreOps.acquireLease`): of the
 * processes running one control plane, one holds the lease and runs the
 * singleton duties; the others try again every `renewMs`, and take over once a
 * holder stops renewing (it was killed, or cannot reach the store).
 *
 * A holder that cannot renew steps down `renewMs` before its lease runs out,
 * so that two processes never both believe they lead while the clocks agree;
 * the duties themselves are idempotent and level-triggered, so a short overlap
 * (a process paused past its lease) costs repeated work, never wrong state.
 */
import type { Clock } from "../core/clock.js";
import type { StoreOps } from "../db/types.js";

export interface LeaderOptions {
  name: string;
  holder: string;
  ttlMs: number;
  /** How often to take or renew the lease; a third of `ttlMs` when absent. */
  renewMs?: number;
  onElected: (term: number) => void;
  onDeposed: () => void;
  log: (message: string, fields?: Record<string, unknown>) => void;
}

export class LeaderElector {
  private leading = false;
  /** Until when the lease last renewed holds. */
  private heldUntilMs = 0;
  private cancelTimer: (() => void) | undefined;
  private stopped = false;
  private trying: Promise<void> = Promise.resolve();

  constructor(
    private readonly store: Pick<StoreOps, "acquireLease" | "releaseLease">,
    private readonly clock: Clock,
    private readonly options: LeaderOptions,
  ) {}

  private get renewMs(): number {
    return this.options.renewMs ?? Math.max(1, Math.floor(this.options.ttlMs / 3));
  }

  get isLeader(): boolean {
    return this.leading;
  }

  /** Tries now, then every `renewMs` until stopped. */
  start(): void {
    const tick = () => {
      if (this.stopped) return;
      this.trying = this.tryOnce().finally(() => {
        if (!this.stopped) this.cancelTimer = this.clock.setTimer(this.renewMs, tick);
      });
    };
    tick();
  }

  /** One attempt to take or renew the lease. */
  async tryOnce(): Promise<void> {
    const { name, holder, ttlMs } = this.options;
    const nowMs = this.clock.now();
    let lease: Awaited<ReturnType<StoreOps["acquireLease"]>> | "unknown";
    try {
      // Bounded: a store that hangs rather than fails must not keep a leader past its lease.
      let cancel = () => {};
      const timeout = new Promise<never>((_, reject) => {
        cancel = this.clock.setTimer(this.renewMs, () => reject(new Error("the store did not answer in time")));
      });
      lease = await Promise.race([this.store.acquireLease(name, holder, ttlMs, nowMs), timeout]).finally(cancel);
    } catch (error) {
      this.options.log("renewing the lease failed", { lease: name, error: String(error) });
      lease = "unknown";
    }
    if (this.stopped) return;
    if (lease === "unknown") {
      // The store did not answer: keep leading only while the lease surely still holds.
      if (this.leading && this.clock.now() >= this.heldUntilMs - this.renewMs) this.depose();
      return;
    }
    if (lease === null) {
      if (this.leading) this.depose();
      return;
    }
    this.heldUntilMs = lease.expiresAt;
    if (!this.leading) {
      this.leading = true;
      this.options.onElected(lease.term);
    }
  }

  private depose(): void {
    this.leading = false;
    this.options.onDeposed();
  }

  /** Stops trying; a leader steps down and gives the lease up, so another takes over at once. */
  async stop(): Promise<void> {
    this.stopped = true;
    this.cancelTimer?.();
    await this.trying;
    if (!this.leading) return;
    this.depose();
    await this.store.releaseLease(this.options.name, this.options.holder).catch(() => {});
  }
}
