/**
 * The `WorkQueue` on BullMQ and Redis, for when `REDIS_URL` is set: several processes share one
 * prefix and each runs workers for the queues it registers. It keeps the semantics of queue.ts
 * (Kubernetes' workqueue) across processes. Why they hold:
 *
 * Every key has at most one BullMQ "run" job, whose id is derived from the key. BullMQ adds a job
 * only if no job with that id exists (waiting, delayed, active), and a job is active on one worker
 * at a time, guarded by a lock the worker renews. Completed and failed jobs are removed at once,
 * which frees the id. Beside the job, a Redis hash holds a "dirty" field per key.
 *
 * - enqueue: set dirty, then add the run job. Both go out on one connection, in that order.
 * - a run starts: clear dirty, and only then call the handler, so a handler reads whatever an
 *   enqueuer wrote before setting dirty.
 * - a run ends (completed, or failed for good): after BullMQ has removed the job, if dirty is set,
 *   add the run job again.
 *
 * (1) Enqueued N times while waiting: one job (the id), one run, which clears dirty; nothing re-adds.
 * (2) Enqueued while running: the add is a no-op (the job is active), but dirty stays set; when the
 *     run ends the job is removed, dirty is seen and the job is added once: exactly one more run.
 *     An enqueue between the handler's end and the job's removal is the same case: its add is a
 *     no-op, and the check comes after the removal, so it sees the dirty mark. Enqueues after the
 *     removal add the job themselves; the re-add then finds the job present (a no-op), or dirty
 *     already cleared by that job's run, or (when that job was added, run and removed between the
 *     re-add's check and its add) adds a job that finds no dirty mark at its first start: such a
 *     job is skipped, as no enqueue came since the last run began. A job added by an enqueue or a
 *     re-add always finds the mark, since the mark is set before the job is added and only a run
 *     start of the same key clears it; a retry or a job taken back from a dead worker runs anyway.
 * (3) One key never runs twice at once: there is one job per key and BullMQ activates it on one
 *     worker at a time. The exception is BullMQ's: a worker whose event loop stalls longer than the
 *     lock (`lockDurationMs`) loses the job to the stalled check while its handler still runs.
 * (4) Delays are timers, not runs: `enqueue(q, k, d)` adds a delayed "timer" job whose only effect,
 *     when it fires, is an immediate enqueue of k (as InProcessQueue's timer does). An immediate
 *     enqueue meanwhile is not held back by it. Per key only the earliest pending timer counts: a
 *     Redis "due" value (set by a script, with a TTL so a lost timer cannot block later ones) keeps
 *     the earliest time; a later delay is dropped, and an earlier one replaces it (the replaced timer
 *     job is removed; one that escapes removal finds an earlier "due" and fires as a no-op). A timer
 *     that finds no "due" mark (expired because it came very late) fires all the same.
 * (5) `requeueAfterMs` is a delayed enqueue made by the run.
 * (6) A handler that throws: the job fails and BullMQ retries it (same job, so still one per key)
 *     after `retryDelayMs(attempts)`; `UnrecoverableError` fails it for good. An enqueue during the
 *     back-off is absorbed by the retry (its add is a no-op, the retry clears dirty).
 * (7) A worker that dies mid-job stops renewing the job's lock; another worker's stalled check moves
 *     the job back to waiting (still the same id, so (3) holds) and runs it.
 * (8) `close()` closes the workers, which stop fetching and wait for running handlers; then it waits
 *     for the re-adds those runs started, then closes the connections.
 * (9) `repeat` is a BullMQ job scheduler (upserted under an id per key, so one per key whichever
 *     process calls it) whose jobs are timers, so a periodic enqueue is an ordinary enqueue.
 *
 * A process killed after a run's job is removed but before the re-add loses the "once more" run of
 * an enqueue made during that run: the dirty mark stays, so the next enqueue or the periodic resync
 * runs the key. Handlers being level-triggered, that costs latency, not correctness.
 *
 * Round trips: an enqueue is one (the dirty mark and BullMQ's add are pipelined on one connection);
 * a run adds two to BullMQ's own (clear dirty before, check dirty after).
 */
import { type Job, Queue, Worker } from "bullmq";
import { Redis, type RedisOptions } from "ioredis";
import type { Clock } from "../core/clock.js";
import { type Handler, type QueueName, retryDelayMs, type WorkQueue } from "./queue.js";

export { UnrecoverableError } from "bullmq";

export interface BullmqQueueOptions {
  /** A `redis://` URL or ioredis options. */
  connection: string | RedisOptions;
  /** Namespace of every Redis key this queue uses (BullMQ's and its own). */
  prefix: string;
  clock: Clock;
  /** Called with each error a handler throws, and with worker errors (key `""`). */
  onError?: (queue: QueueName, key: string, error: unknown) => void;
  /** A job whose worker has not renewed its lock for this long is taken back. BullMQ's default: 30 s. */
  lockDurationMs?: number;
  /** How often each worker looks for jobs whose lock expired. BullMQ's default: 30 s. */
  stalledIntervalMs?: number;
  /** How many times a job may be taken back from a dead worker before it fails. */
  maxStalledCount?: number;
  /** Attempts (first run and retries) of a failing key before its job is dropped, until its next enqueue. */
  maxAttempts?: number;
}

interface JobData {
  key: string;
  /** A timer's due time; absent for a scheduler's timers, which always fire. */
  atMs?: number;
}

const RUN = "run";
const TIMER = "timer";
/**
 * How long a "due" mark outlives its time: while it stands, later delays of the key are dropped, so a
 * timer lost by a crash (between the mark and the job) blocks them for this long at most.
 */
const DUE_GRACE_MS = 60_000;

/**
 * The id of a key's run job (exported for tests and tools that look into Redis). Job ids may be
 * neither integers nor contain ":"; keys hold "/" and anything else, so they are escaped.
 */
export const runJobId = (key: string) => `r-${encodeURIComponent(key)}`;
const timerJobId = (key: string, atMs: number) => `t-${encodeURIComponent(key)}-${atMs}`;
const schedulerId = (key: string) => `s-${encodeURIComponent(key)}`;

/**
 * Keeps the earliest pending timer per key. KEYS[1]: the key's due mark. ARGV: atMs, ttlMs.
 * Returns -1 when an earlier or equal timer is pending (nothing to add), else the replaced time or 0.
 */
const DELAY_SCRIPT = `
local cur = tonumber(redis.call('GET', KEYS[1]))
local at = tonumber(ARGV[1])
if cur and cur <= at then return -1 end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
return cur or 0
`;

/**
 * A timer fires: unless an earlier timer is pending in its place, it marks the key dirty (and clears
 * its own due mark), and the caller adds the run job. KEYS: due mark, dirty hash. ARGV: atMs ("" for
 * a scheduler's timer, which always fires), key. Returns 1 when the run job is to be added.
 */
const FIRE_SCRIPT = `
if ARGV[1] ~= '' then
  local due = tonumber(redis.call('GET', KEYS[1]))
  local at = tonumber(ARGV[1])
  if due and due < at then return 0 end
  if due == at then redis.call('DEL', KEYS[1]) end
end
redis.call('HSET', KEYS[2], ARGV[2], '1')
return 1
`;

type ScriptedRedis = Redis & {
  kqDelay(dueKey: string, atMs: number, ttlMs: number): Promise<number>;
  kqFire(dueKey: string, dirtyKey: string, atMs: string, key: string): Promise<number>;
};

/** The `WorkQueue` on BullMQ; see the top of this file for why its semantics hold across processes. */
export class BullmqQueue implements WorkQueue {
  /** Queues and this class's own commands share one connection, as BullMQ allows. */
  private readonly redis: ScriptedRedis;
  /** Workers need `maxRetriesPerRequest: null`; BullMQ gives each its own blocking duplicate. */
  private workerRedis?: Redis;
  private readonly queues = new Map<QueueName, Queue<JobData>>();
  private readonly workers = new Map<QueueName, Worker<JobData>>();
  /** Enqueues under way and re-adds started by finished runs; `close()` waits for them. */
  private readonly pending = new Set<Promise<void>>();
  private closed = false;

  constructor(private readonly options: BullmqQueueOptions) {
    this.redis = this.connect({}) as ScriptedRedis;
    this.redis.defineCommand("kqDelay", { numberOfKeys: 1, lua: DELAY_SCRIPT });
    this.redis.defineCommand("kqFire", { numberOfKeys: 2, lua: FIRE_SCRIPT });
  }

  async enqueue(queue: QueueName, key: string, delayMs = 0): Promise<void> {
    if (this.closed) return;
    await this.track(this.push(queue, key, delayMs));
  }

  register(queue: QueueName, handler: Handler, options: { concurrency?: number } = {}): void {
    if (this.closed) throw new Error("the queue is closed");
    if (this.workers.has(queue)) throw new Error(`a handler is already registered for queue ${queue}`);
    this.workerRedis ??= this.connect({ maxRetriesPerRequest: null });
    const worker = new Worker<JobData>(queue, (job) => this.process(queue, handler, job), {
      connection: this.workerRedis,
      prefix: this.options.prefix,
      concurrency: options.concurrency ?? 4,
      lockDuration: this.options.lockDurationMs ?? 30_000,
      stalledInterval: this.options.stalledIntervalMs ?? 30_000,
      maxStalledCount: this.options.maxStalledCount ?? 3,
      settings: { backoffStrategy: (attemptsMade: number) => retryDelayMs(attemptsMade) },
    });
    worker.on("completed", (job) => this.afterRun(queue, job));
    // "failed" comes after every failed attempt; while a retry is pending the job still exists and the
    // re-add is a no-op, so only a final failure can add the key again.
    worker.on("failed", (job) => {
      if (job) this.afterRun(queue, job);
    });
    worker.on("error", (error) => this.options.onError?.(queue, "", error));
    this.workers.set(queue, worker);
  }

  /**
   * Enqueues `key` every `everyMs`, starting now. One schedule per (queue, key), however many
   * processes call this; calling it again with another period replaces the period.
   */
  async repeat(queue: QueueName, key: string, everyMs: number): Promise<void> {
    if (this.closed) throw new Error("the queue is closed");
    await this.queue(queue).upsertJobScheduler(
      schedulerId(key),
      { every: everyMs },
      { name: TIMER, data: { key }, opts: { removeOnComplete: true, removeOnFail: true } },
    );
  }

  /** Stops the schedule `repeat` set for (queue, key). */
  async unrepeat(queue: QueueName, key: string): Promise<void> {
    await this.queue(queue).removeJobScheduler(schedulerId(key));
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    // Workers first: each stops fetching and waits for its running handlers (graceful drain).
    await Promise.allSettled([...this.workers.values()].map((worker) => worker.close()));
    // Bounded: the workers are closed, so no run starts another re-add, and enqueue takes no more.
    await Promise.allSettled([...this.pending]);
    await Promise.allSettled([...this.queues.values()].map((queue) => queue.close()));
    await Promise.allSettled([this.redis.quit(), this.workerRedis?.quit()]);
  }

  /** An enqueue, also made by runs and timers once `close()` has begun: work in Redis outlives this process. */
  private async push(queue: QueueName, key: string, delayMs: number): Promise<void> {
    if (delayMs > 0) return this.pushDelayed(queue, key, delayMs);
    // Issued together on one connection, so Redis applies the mark before the add.
    await Promise.all([this.redis.hset(this.dirtyKey(queue), key, "1"), this.addRun(queue, key)]);
  }

  private async pushDelayed(queue: QueueName, key: string, delayMs: number): Promise<void> {
    // Whole milliseconds, rounded up: never earlier than asked.
    const delay = Math.ceil(delayMs);
    const atMs = this.options.clock.now() + delay;
    const replaced = await this.redis.kqDelay(this.dueKey(queue, key), atMs, delay + DUE_GRACE_MS);
    if (replaced < 0) return;
    await this.queue(queue).add(
      TIMER,
      { key, atMs },
      { jobId: timerJobId(key, atMs), delay, removeOnComplete: true, removeOnFail: true },
    );
    if (replaced > 0) await this.dropTimer(queue, key, replaced);
  }

  /**
   * Removes a replaced timer. It may be firing at this moment (BullMQ then refuses, the job being
   * locked): it finds the earlier due mark and does nothing, or, if that one fired already, costs
   * one extra run at most.
   */
  private async dropTimer(queue: QueueName, key: string, atMs: number): Promise<void> {
    try {
      await this.queue(queue).remove(timerJobId(key, atMs));
    } catch {
      // Locked by the worker firing it: see above.
    }
  }

  private async addRun(queue: QueueName, key: string): Promise<void> {
    await this.queue(queue).add(
      RUN,
      { key },
      {
        jobId: runJobId(key),
        removeOnComplete: true,
        removeOnFail: true,
        attempts: this.options.maxAttempts ?? 1000,
        backoff: { type: "retryDelayMs" },
      },
    );
  }

  private async process(queue: QueueName, handler: Handler, job: Job<JobData>): Promise<void> {
    const { key, atMs } = job.data;
    if (job.name === TIMER) {
      const fired = await this.redis.kqFire(this.dueKey(queue, key), this.dirtyKey(queue), `${atMs ?? ""}`, key);
      if (fired === 1) await this.addRun(queue, key);
      return;
    }
    // Cleared before the handler reads anything: an enqueue from now on asks for one more run.
    const marked = await this.redis.hdel(this.dirtyKey(queue), key);
    // A job's first start finds the mark set by what added it, unless a run of the key has started
    // since (see (2) at the top): then nothing was enqueued after that run began and this one is
    // skipped. Retries and jobs taken back from a dead worker (started before) always run.
    if (marked === 0 && job.attemptsStarted <= 1) return;
    let result: Awaited<ReturnType<Handler>>;
    try {
      result = await handler(key);
    } catch (error) {
      this.options.onError?.(queue, key, error);
      throw error;
    }
    if (result?.requeueAfterMs !== undefined) await this.push(queue, key, result.requeueAfterMs);
  }

  /** After BullMQ removed a run's job: one more run if the key was enqueued meanwhile. */
  private afterRun(queue: QueueName, job: Job<JobData>): void {
    if (job.name !== RUN) return;
    const key = job.data.key;
    const readd = (async () => {
      if ((await this.redis.hexists(this.dirtyKey(queue), key)) === 1) await this.addRun(queue, key);
    })();
    void this.track(readd).catch((error) => this.options.onError?.(queue, key, error));
  }

  /** Keeps `work` in `pending` until it settles, so that `close()` does not cut its connection. */
  private async track(work: Promise<void>): Promise<void> {
    this.pending.add(work);
    try {
      await work;
    } finally {
      this.pending.delete(work);
    }
  }

  private queue(name: QueueName): Queue<JobData> {
    let queue = this.queues.get(name);
    if (!queue) {
      queue = new Queue<JobData>(name, { connection: this.redis, prefix: this.options.prefix });
      queue.on("error", (error) => this.options.onError?.(name, "", error));
      this.queues.set(name, queue);
    }
    return queue;
  }

  private dirtyKey(queue: QueueName): string {
    return `${this.options.prefix}:${queue}:kq:dirty`;
  }

  private dueKey(queue: QueueName, key: string): string {
    return `${this.options.prefix}:${queue}:kq:due:${encodeURIComponent(key)}`;
  }

  private connect(extra: RedisOptions): Redis {
    const { connection } = this.options;
    return typeof connection === "string" ? new Redis(connection, extra) : new Redis({ ...connection, ...extra });
  }
}
