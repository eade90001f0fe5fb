import type { Clock } from "../core/clock.js";
import type { Store } from "../db/types.js";
import type { QueueName, WorkQueue } from "./queue.js";

/**
 * The transactional outbox's relay: an apply commits its objects and outbox rows
 * together; this moves the rows onto the queue, then deletes them. A crash in
 * between re-enqueues a key, which is harmless (handlers are idempotent).
 * Runs on a timer and at once when kicked after a commit.
 */
export class OutboxRelay {
  private running: Promise<void> | undefined;
  private again = false;
  private cancelTimer: (() => void) | undefined;
  private stopped = false;

  constructor(
    private readonly store: Store,
    private readonly queue: WorkQueue,
    private readonly clock: Clock,
    private readonly options: { pollMs: number; batch: number; onError: (error: unknown) => void },
  ) {}

  start(): void {
    this.schedule();
    this.kick();
  }

  /** Relays now (or right after the pass under way). */
  kick(): void {
    if (this.stopped) return;
    if (this.running) {
      this.again = true;
      return;
    }
    this.running = this.drain()
      .catch(this.options.onError)
      .finally(() => {
        this.running = undefined;
        if (this.again) {
          this.again = false;
          this.kick();
        }
      });
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.cancelTimer?.();
    await this.running;
  }

  private schedule(): void {
    this.cancelTimer = this.clock.setTimer(this.options.pollMs, () => {
      this.kick();
      if (!this.stopped) this.schedule();
    });
  }

  private async drain(): Promise<void> {
    // Bounded: at most 100 batches a pass; the timer picks up the rest.
    for (let pass = 0; pass < 100; pass++) {
      const rows = await this.store.peekOutbox(this.options.batch);
      if (rows.length === 0) return;
      for (const row of rows) await this.queue.enqueue(row.queue as QueueName, row.key);
      await this.store.ackOutbox(rows.map((r) => r.id));
    }
  }
}
