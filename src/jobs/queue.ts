/**
 * The work queue every job goes through, with the semantics of Kubernetes'
 * workqueue: a key enqueued while it waits runs once; a key enqueued while its
 * job runs runs exactly once more afterwards; one key never runs on two workers
 * at once. Handlers are level-triggered and idempotent, so a repeated or lost
 * run is harmless (a periodic resync catches what an enqueue missed).
 * In-process here; BullMQ implements the same interface when `REDIS_URL` is set.
 */
export type QueueName = "reconcile" | "schedule" | "pod" | "observe" | "lifecycle" | "periodic";

export interface HandlerResult {
  /** Run this key again after the delay (for example, to retry scheduling). */
  requeueAfterMs?: number;
}

export type Handler = (key: string) => Promise<HandlerResult | undefined>;

export interface WorkQueue {
  enqueue(queue: QueueName, key: string, delayMs?: number): Promise<void>;
  register(queue: QueueName, handler: Handler, options?: { concurrency?: number }): void;
  /** Stops taking work and waits for running jobs to finish. */
  close(): Promise<void>;
  /**
   * Where the queue outlives processes (BullMQ): enqueues `key` every `everyMs`, one schedule per
   * (queue, key) however many processes ask, run by whichever process takes the job.
   */
  repeat?(queue: QueueName, key: string, everyMs: number): Promise<void>;
}

/** Retry delays for failed jobs: exponential from `baseMs`, capped at `maxMs`. */
export function retryDelayMs(failures: number, baseMs = 50, maxMs = 30_000): number {
  return Math.min(maxMs, baseMs * 2 ** Math.min(20, Math.max(0, failures - 1)));
}
