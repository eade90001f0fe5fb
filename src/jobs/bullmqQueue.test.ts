import { type ChildProcess, spawn } from "node:child_process";
import { randomUUID } from "node:crypto";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { Queue } from "bullmq";
import { Redis } from "ioredis";
import { afterEach, expect, it } from "vitest";
import { TYPESCRIPT_LOADER } from "../../test/helpers/processes.js";
import { describeRedis, isRedisReachable, redisUrl } from "../../test/helpers/redis.js";
import { systemClock } from "../core/clock.js";
import { BullmqQueue, type BullmqQueueOptions, runJobId, UnrecoverableError } from "./bullmqQueue.js";
import { type QueueName, retryDelayMs } from "./queue.js";

const ROOT = fileURLToPath(new URL("../..", import.meta.url));

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** Polls until `done()` holds; bounded in time, failing with `what`. */
async function waitFor(what: string, done: () => boolean | Promise<boolean>, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await done())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(10);
  }
}

/** A promise and the function that resolves it. */
function gate(): { promise: Promise<void>; open: () => void } {
  let open: () => void = () => {};
  const promise = new Promise<void>((resolve) => (open = resolve));
  return { promise, open };
}

// One prefix per test, every key under it deleted afterwards, every queue closed.
let prefix = "";
const opened: BullmqQueue[] = [];
const admins: { queue: Queue; redis: Redis }[] = [];

function newQueue(options: Partial<BullmqQueueOptions> = {}): BullmqQueue {
  const queue = new BullmqQueue({ connection: redisUrl, prefix, clock: systemClock, ...options });
  opened.push(queue);
  return queue;
}

/** A plain BullMQ view of one queue under the test's prefix, to count what is left in Redis. */
function admin(name: QueueName): Queue {
  const redis = new Redis(redisUrl);
  const queue = new Queue(name, { connection: redis, prefix });
  admins.push({ queue, redis });
  return queue;
}

async function jobsLeft(queue: Queue): Promise<number> {
  const counts = await queue.getJobCounts("wait", "active", "delayed", "prioritized");
  return Object.values(counts).reduce((a, b) => a + b, 0);
}

const reachable = await isRedisReachable();

describeRedis("BullmqQueue (Kubernetes workqueue semantics on BullMQ)", reachable, () => {
  afterEach(async () => {
    await Promise.allSettled(opened.splice(0).map((q) => q.close()));
    for (const { queue, redis } of admins.splice(0)) {
      await queue.close();
      await redis.quit();
    }
    const redis = new Redis(redisUrl);
    try {
      let cursor = "0";
      // Bounded: SCAN ends when the cursor comes back to 0; the cap only guards a misbehaving server.
      for (let i = 0; i < 10_000; i++) {
        const [next, keys] = await redis.scan(cursor, "MATCH", `${prefix}:*`, "COUNT", 1000);
        if (keys.length > 0) await redis.del(...keys);
        cursor = next;
        if (cursor === "0") break;
      }
    } finally {
      await redis.quit();
    }
  });

  const fresh = () => {
    prefix = `kn-test-${randomUUID().slice(0, 8)}`;
  };

  it("runs a key enqueued several times while waiting once", async () => {
    fresh();
    const queue = newQueue();
    const runs: string[] = [];
    await queue.enqueue("reconcile", "a");
    await queue.enqueue("reconcile", "a");
    await queue.enqueue("reconcile", "b");
    await queue.enqueue("reconcile", "a");
    queue.register(
      "reconcile",
      async (key) => {
        runs.push(key);
        return undefined;
      },
      { concurrency: 1 },
    );
    await waitFor("a and b to run", () => runs.length >= 2);
    // One worker, first in first out: a second job for "a", added before register, would run before "z".
    await queue.enqueue("reconcile", "z");
    await waitFor("z to run", () => runs.includes("z"));
    expect(runs).toEqual(["a", "b", "z"]);
  });

  it("runs a key enqueued while it runs exactly once more, round after round", async () => {
    fresh();
    const queue = newQueue();
    const other = newQueue(); // another process enqueueing
    const rounds = 30;
    const runs = new Map<string, number>();
    const running = new Map<string, number>();
    let overlaps = 0;
    const gates = new Map<string, ReturnType<typeof gate>>();
    queue.register(
      "reconcile",
      async (key) => {
        running.set(key, (running.get(key) ?? 0) + 1);
        if ((running.get(key) ?? 0) > 1) overlaps++;
        const n = (runs.get(key) ?? 0) + 1;
        runs.set(key, n);
        if (n === 1) {
          await gates.get(key)?.promise;
          // The last thing the run does: as close to the job's removal as an enqueue "during the run" gets.
          await other.enqueue("reconcile", key);
        }
        running.set(key, (running.get(key) ?? 1) - 1);
        return undefined;
      },
      { concurrency: 4 },
    );
    for (let round = 0; round < rounds; round++) {
      const key = `k${round}`;
      gates.set(key, gate());
      await queue.enqueue("reconcile", key);
      await waitFor(`${key} to start`, () => runs.get(key) === 1);
      await other.enqueue("reconcile", key);
      await queue.enqueue("reconcile", key);
      await other.enqueue("reconcile", key);
      gates.get(key)?.open();
      await waitFor(`${key} to run again`, () => (runs.get(key) ?? 0) >= 2);
    }
    // close() drains running handlers and the re-adds they started: a third run is either counted
    // or still in Redis as a job.
    await queue.close();
    await other.close();
    expect([...runs.values()]).toEqual(Array(rounds).fill(2));
    expect(await jobsLeft(admin("reconcile"))).toBe(0);
    expect(overlaps).toBe(0);
  });

  it("runs a key enqueued as its run ends (racing the job's removal) once more, round after round", async () => {
    fresh();
    const queue = newQueue();
    const other = newQueue();
    const rounds = 100;
    // Logical time: the racing enqueue begins after the handler returned, so a run must start after it.
    let tick = 0;
    const runsStarted = new Map<string, number[]>();
    const racingEnqueueBegan = new Map<string, number>();
    const racing: Promise<void>[] = [];
    queue.register(
      "reconcile",
      async (key) => {
        const started = [...(runsStarted.get(key) ?? []), ++tick];
        runsStarted.set(key, started);
        if (started.length === 1) {
          setImmediate(() => {
            racingEnqueueBegan.set(key, ++tick);
            racing.push(other.enqueue("reconcile", key));
          });
        }
        return undefined;
      },
      { concurrency: 4 },
    );
    for (let round = 0; round < rounds; round++) {
      const key = `k${round}`;
      await queue.enqueue("reconcile", key);
      await waitFor(`${key} to run after the racing enqueue`, () =>
        (runsStarted.get(key) ?? []).some((at) => at > (racingEnqueueBegan.get(key) ?? Number.POSITIVE_INFINITY)),
      );
    }
    await Promise.all(racing);
    await queue.close();
    await other.close();
    // Never lost, and exactly one more run: the racing enqueue is the only one after the first run began.
    for (const started of runsStarted.values()) expect(started.length).toBe(2);
    expect(runsStarted.size).toBe(rounds);
    expect(await jobsLeft(admin("reconcile"))).toBe(0);
  });

  it("skips a run job that finds no enqueue since the key's last run began (a re-add that lost a race)", async () => {
    fresh();
    const queue = newQueue();
    const view = admin("reconcile");
    const runs: string[] = [];
    queue.register("reconcile", async (key) => {
      runs.push(key);
      return undefined;
    });
    await queue.enqueue("reconcile", "k");
    await waitFor("the first run", async () => runs.length === 1 && (await jobsLeft(view)) === 0);
    // What a re-add does when, between its check of the mark and its add, another job of the key was
    // added, run and removed: a run job with no enqueue behind it.
    await view.add("run", { key: "k" }, { jobId: runJobId("k"), removeOnComplete: true, removeOnFail: true });
    // A job is removed only after its handler returned, so had it run, it would be counted by now.
    await waitFor("the stale job to be taken and removed", async () => (await jobsLeft(view)) === 0);
    expect(runs).toEqual(["k"]);
    await queue.enqueue("reconcile", "k");
    await waitFor("k to run again on a real enqueue", () => runs.length === 2);
    expect(runs).toEqual(["k", "k"]);
  });

  it("never runs one key in two handlers at once with two instances on one prefix", async () => {
    fresh();
    const first = newQueue();
    const second = newQueue();
    const keys = ["a", "b", "c", "d"];
    const running = new Map<string, number>();
    let overlaps = 0;
    const ranOn = { first: 0, second: 0 };
    // Logical time: a run must start after the last enqueue of its key began (a run that started
    // earlier cannot have seen what that enqueue announced).
    let tick = 0;
    const lastEnqueueBegan = new Map<string, number>();
    const lastRunStarted = new Map<string, number>();
    const handler = (who: "first" | "second") => async (key: string) => {
      const now = (running.get(key) ?? 0) + 1;
      running.set(key, now);
      if (now > 1) overlaps++;
      ranOn[who]++;
      lastRunStarted.set(key, ++tick);
      await sleep(1 + (key.charCodeAt(0) % 4));
      running.set(key, (running.get(key) ?? 1) - 1);
      return undefined;
    };
    first.register("reconcile", handler("first"), { concurrency: 8 });
    second.register("reconcile", handler("second"), { concurrency: 8 });
    for (let i = 0; i < 1000; i++) {
      const key = keys[i % keys.length] as string;
      lastEnqueueBegan.set(key, ++tick);
      await (i % 2 === 0 ? first : second).enqueue("reconcile", key);
      if (i % 16 === 0) await sleep(2);
    }
    // Each key was enqueued while idle, waiting or running: in every case a run starts after that.
    await waitFor("every key to run after its last enqueue", () =>
      keys.every((key) => (lastRunStarted.get(key) ?? 0) > (lastEnqueueBegan.get(key) ?? 0)),
    );
    expect(overlaps).toBe(0);
    expect(ranOn.first).toBeGreaterThan(0);
    expect(ranOn.second).toBeGreaterThan(0);
  });

  it("runs a delayed key no earlier than its delay, keeps the earliest timer, and does not hold back an immediate enqueue", async () => {
    fresh();
    const queue = newQueue();
    const view = admin("schedule");
    const runsAt = new Map<string, number[]>();
    queue.register("schedule", async (key) => {
      runsAt.set(key, [...(runsAt.get(key) ?? []), Date.now()]);
      return undefined;
    });

    await queue.enqueue("schedule", "late", 60_000);
    const start = Date.now();
    await queue.enqueue("schedule", "late", 800); // earlier: replaces the 60 s timer
    await queue.enqueue("schedule", "late", 30_000); // later than the pending one: dropped
    await waitFor("the delayed key to run", () => runsAt.has("late"));
    expect((runsAt.get("late")?.[0] ?? 0) - start).toBeGreaterThanOrEqual(800);
    // The replaced and the dropped timers left nothing behind that would run "late" again.
    await waitFor("the replaced timer to go", async () => (await view.getDelayedCount()) === 0);

    await queue.enqueue("schedule", "soon", 60_000);
    await queue.enqueue("schedule", "soon");
    await waitFor("the immediate enqueue to run", () => runsAt.has("soon"));
    // The 60 s timer is still pending (and will run the key once more).
    expect(await view.getDelayedCount()).toBe(1);
  });

  it("requeues after the delay a handler asks for", async () => {
    fresh();
    const queue = newQueue();
    const times: { start: number; end: number }[] = [];
    queue.register("schedule", async () => {
      const start = Date.now();
      const result = times.length === 0 ? { requeueAfterMs: 700 } : undefined;
      times.push({ start, end: Date.now() });
      return result;
    });
    await queue.enqueue("schedule", "p");
    await waitFor("the requeued run", () => times.length === 2);
    expect((times[1]?.start ?? 0) - (times[0]?.end ?? 0)).toBeGreaterThanOrEqual(700);
    await queue.close();
    expect(times.length).toBe(2);
    expect(await jobsLeft(admin("schedule"))).toBe(0);
  });

  it("retries a throwing handler with exponential back-off and reports each error", async () => {
    fresh();
    const errors: string[] = [];
    const queue = newQueue({ onError: (q, key) => errors.push(`${q}/${key}`) });
    const attempts: number[] = [];
    queue.register("schedule", async () => {
      attempts.push(Date.now());
      if (attempts.length <= 3) throw new Error("transient");
      return undefined;
    });
    await queue.enqueue("schedule", "p");
    await waitFor("the fourth attempt", () => attempts.length === 4);
    for (let failure = 1; failure <= 3; failure++) {
      const gapMs = (attempts[failure] ?? 0) - (attempts[failure - 1] ?? 0);
      expect(gapMs).toBeGreaterThanOrEqual(retryDelayMs(failure));
    }
    expect(errors).toEqual(["schedule/p", "schedule/p", "schedule/p"]);
    await queue.close();
    expect(attempts.length).toBe(4);
    expect(await jobsLeft(admin("schedule"))).toBe(0);
  });

  it("does not retry an UnrecoverableError, and still runs once more for an enqueue made during that run", async () => {
    fresh();
    const errors: unknown[] = [];
    const queue = newQueue({ onError: (_q, _key, error) => errors.push(error) });
    const view = admin("reconcile");
    let attempts = 0;
    queue.register("reconcile", async (key) => {
      attempts++;
      if (key === "again" && attempts === 2) await queue.enqueue("reconcile", key);
      throw new UnrecoverableError("permanent");
    });
    await queue.enqueue("reconcile", "once");
    // A retry would keep the job in Redis (delayed) until it ran again.
    await waitFor("the failed job to be removed", async () => errors.length === 1 && (await jobsLeft(view)) === 0);
    expect(attempts).toBe(1);
    expect(errors[0]).toBeInstanceOf(UnrecoverableError);

    await queue.enqueue("reconcile", "again");
    await waitFor("the second key to run twice", () => attempts === 3);
    await queue.close();
    expect(attempts).toBe(3);
    expect(errors.length).toBe(3);
    expect(await jobsLeft(view)).toBe(0);
  });

  it("runs on another instance the job of a worker process killed mid-run", async () => {
    fresh();
    const dir = mkdtempSync(join(tmpdir(), "kn-bullmq-"));
    const script = join(dir, "worker.mts");
    writeFileSync(
      script,
      [
        `import { systemClock } from ${JSON.stringify(join(ROOT, "src/core/clock.ts"))};`,
        `import { BullmqQueue } from ${JSON.stringify(join(ROOT, "src/jobs/bullmqQueue.ts"))};`,
        "const [url, prefix] = process.argv.slice(2);",
        "const queue = new BullmqQueue({ connection: url, prefix, clock: systemClock, lockDurationMs: 1000, stalledIntervalMs: 300 });",
        `queue.register("reconcile", async (key) => {`,
        `  process.stdout.write("started " + key + "\\n");`,
        "  await new Promise((resolve) => setTimeout(resolve, 120_000));",
        "  return undefined;",
        "});",
        `process.stdout.write("ready\\n");`,
      ].join("\n"),
    );
    let child: ChildProcess | undefined;
    try {
      child = spawn(process.execPath, ["--import", TYPESCRIPT_LOADER, script, redisUrl, prefix], {
        cwd: ROOT,
        stdio: ["ignore", "pipe", "pipe"],
      });
      let output = "";
      child.stdout?.on("data", (d) => (output += d));
      child.stderr?.on("data", (d) => (output += d));
      const survivor = newQueue({ lockDurationMs: 1000, stalledIntervalMs: 300 });
      await waitFor("the child worker to start", () => output.includes("ready") || child?.exitCode !== null, 60_000);
      await survivor.enqueue("reconcile", "k");
      await waitFor("the child to take the job", () => output.includes("started k") || child?.exitCode !== null);
      expect(output).toContain("started k");
      const exited = new Promise((resolve) => child?.once("exit", resolve));
      child.kill("SIGKILL");
      await exited;

      const ran: string[] = [];
      survivor.register("reconcile", async (key) => {
        ran.push(key);
        return undefined;
      });
      await waitFor("the survivor to run the dead worker's job", () => ran.includes("k"), 30_000);
      expect(ran).toEqual(["k"]);
    } finally {
      if (child && child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("close() stops taking work, waits for running handlers, and leaves waiting work in Redis", async () => {
    fresh();
    const queue = newQueue();
    const view = admin("pod");
    const started: string[] = [];
    let finished = false;
    const release = gate();
    queue.register(
      "pod",
      async (key) => {
        started.push(key);
        if (key === "slow") {
          await release.promise;
          finished = true;
        }
        return undefined;
      },
      { concurrency: 1 },
    );
    await queue.enqueue("pod", "slow");
    await waitFor("the slow handler to start", () => started.includes("slow"));
    await queue.enqueue("pod", "waiting");
    await queue.enqueue("pod", "slow"); // during the run: one more run, which must outlive this process
    const closing = queue.close();
    let closed = false;
    void closing.then(() => (closed = true));
    await sleep(200);
    expect(closed).toBe(false);
    release.open();
    await closing;
    expect(finished).toBe(true);
    expect(started).toEqual(["slow"]);
    await queue.enqueue("pod", "after-close"); // ignored
    // "waiting" and the re-added "slow" are in Redis for another process to run.
    expect(await jobsLeft(view)).toBe(2);

    const next = newQueue();
    const ran: string[] = [];
    next.register("pod", async (key) => {
      ran.push(key);
      return undefined;
    });
    await waitFor("another instance to run what was left", () => ran.length === 2);
    expect(ran.sort()).toEqual(["slow", "waiting"]);
  });

  it("repeats a key on one schedule however many instances ask for it", async () => {
    fresh();
    const first = newQueue();
    const second = newQueue();
    const everyMs = 300;
    let runs = 0;
    const handler = async () => {
      runs++;
      return undefined;
    };
    const start = Date.now();
    await first.repeat("observe", "resync", everyMs);
    await second.repeat("observe", "resync", everyMs);
    await first.repeat("observe", "resync", everyMs);
    first.register("observe", handler);
    second.register("observe", handler);
    await waitFor("four periodic runs", () => runs >= 4);
    const elapsedMs = Date.now() - start;
    expect(await admin("observe").getJobSchedulersCount()).toBe(1);
    // One schedule cannot run more often than its period (the first run comes at once).
    expect(runs).toBeLessThanOrEqual(Math.floor(elapsedMs / everyMs) + 2);
    await first.unrepeat("observe", "resync");
    expect(await admin("observe").getJobSchedulersCount()).toBe(0);
  });
});
