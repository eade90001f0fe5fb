import type { Clock } from "../core/clock.js";
import { type Handler, type QueueName, retryDelayMs, type WorkQueue } from "./queue.js";

interface Lane {
  handler?: Handler;
  concurrency: number;
  running: number;
  order: Fifo;
  /** Keys waiting to run (in `order`) or waiting to run again after their current run. */
  dirty: Set<string>;
  processing: Set<string>;
  delayed: Map<string, { atMs: number; cancel: () => void }>;
  failures: Map<string, number>;
}

export interface InProcessQueueOptions {
  clock: Clock;
  onError?: (queue: QueueName, key: string, error: unknown) => void;
  /** Bound on waiting keys per queue; beyond it an enqueue throws rather than grow without limit. */
  maxQueued?: number;
}

/** The in-process `WorkQueue`, driven by the injected `Clock` (real time in the server, virtual in the simulator). */
export class InProcessQueue implements WorkQueue {
  private readonly lanes = new Map<QueueName, Lane>();
  private closed = false;
  private readonly inFlight = new Set<Promise<void>>();

  constructor(private readonly options: InProcessQueueOptions) {}

  register(queue: QueueName, handler: Handler, options: { concurrency?: number } = {}): void {
    const lane = this.lane(queue);
    lane.handler = handler;
    lane.concurrency = options.concurrency ?? 4;
    this.pump(queue, lane);
  }

  async enqueue(queue: QueueName, key: string, delayMs = 0): Promise<void> {
    if (this.closed) return;
    const lane = this.lane(queue);
    if (delayMs > 0) return this.delay(queue, lane, key, delayMs);
    if (lane.dirty.has(key)) return;
    if (lane.order.size >= (this.options.maxQueued ?? 100_000)) throw new Error(`queue ${queue} is full`);
    lane.dirty.add(key);
    if (!lane.processing.has(key)) lane.order.push(key);
    this.pump(queue, lane);
  }

  /** Keys waiting or running, summed over queues (delayed keys not counted). */
  depth(): number {
    let n = 0;
    for (const lane of this.lanes.values()) n += lane.order.size + lane.running;
    return n;
  }

  async close(): Promise<void> {
    this.closed = true;
    for (const lane of this.lanes.values()) {
      for (const { cancel } of lane.delayed.values()) cancel();
      lane.delayed.clear();
      lane.order = new Fifo();
    }
    await Promise.allSettled([...this.inFlight]);
  }

  private delay(queue: QueueName, lane: Lane, key: string, delayMs: number): void {
    const atMs = this.options.clock.now() + delayMs;
    const existing = lane.delayed.get(key);
    if (existing && existing.atMs <= atMs) return;
    existing?.cancel();
    const cancel = this.options.clock.setTimer(delayMs, () => {
      lane.delayed.delete(key);
      void this.enqueue(queue, key);
    });
    lane.delayed.set(key, { atMs, cancel });
  }

  private pump(queue: QueueName, lane: Lane): void {
    while (!this.closed && lane.handler && lane.running < lane.concurrency && lane.order.size > 0) {
      const key = lane.order.shift();
      lane.dirty.delete(key);
      lane.processing.add(key);
      lane.running++;
      const run = this.run(queue, lane, lane.handler, key);
      this.inFlight.add(run);
      void run.finally(() => this.inFlight.delete(run));
    }
  }

  private async run(queue: QueueName, lane: Lane, handler: Handler, key: string): Promise<void> {
    try {
      const result = await handler(key);
      lane.failures.delete(key);
      if (result?.requeueAfterMs !== undefined) await this.enqueue(queue, key, result.requeueAfterMs);
    } catch (error) {
      const failures = (lane.failures.get(key) ?? 0) + 1;
      lane.failures.set(key, failures);
      this.options.onError?.(queue, key, error);
      await this.enqueue(queue, key, retryDelayMs(failures));
    } finally {
      lane.processing.delete(key);
      lane.running--;
      if (lane.dirty.has(key)) lane.order.push(key);
      this.pump(queue, lane);
    }
  }

  private lane(queue: QueueName): Lane {
    let lane = this.lanes.get(queue);
    if (!lane) {
      lane = {
        concurrency: 4,
        running: 0,
        order: new Fifo(),
        dirty: new Set(),
        processing: new Set(),
        delayed: new Map(),
        failures: new Map(),
      };
      this.lanes.set(queue, lane);
    }
    return lane;
  }
}

/**
 * Keys in arrival order. Taking the first is O(1), unlike `Array.shift` on a long array (which moves
 * every key behind it): a queue holding 150,000 keys is drained in linear time.
 */
class Fifo {
  private items: string[] = [];
  private head = 0;

  get size(): number {
    return this.items.length - this.head;
  }

  push(key: string): void {
    this.items.push(key);
  }

  /** The first key, taken out; only called when `size > 0`. */
  shift(): string {
    const key = this.items[this.head] as string;
    this.head++;
    // The taken keys are dropped once they are half the array: each key is moved once at most on average.
    if (this.head * 2 >= this.items.length) {
      this.items = this.items.slice(this.head);
      this.head = 0;
    }
    return key;
  }
}
