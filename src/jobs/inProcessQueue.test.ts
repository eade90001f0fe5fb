import { describe, expect, it } from "vitest";
import { ManualClock } from "../core/clock.js";
import { InProcessQueue } from "./inProcessQueue.js";

const tick = () => new Promise((r) => setImmediate(r));
async function settle(rounds = 20) {
  for (let i = 0; i < rounds; i++) await tick();
}

describe("InProcessQueue (Kubernetes workqueue semantics)", () => {
  it("runs a key enqueued several times while waiting once", async () => {
    const queue = new InProcessQueue({ clock: new ManualClock() });
    const runs: string[] = [];
    await queue.enqueue("reconcile", "a");
    await queue.enqueue("reconcile", "a");
    await queue.enqueue("reconcile", "b");
    queue.register("reconcile", async (key) => {
      runs.push(key);
      return undefined;
    });
    await settle();
    expect(runs).toEqual(["a", "b"]);
  });

  it("runs a key enqueued during its run exactly once more, and never twice at once", async () => {
    const queue = new InProcessQueue({ clock: new ManualClock() });
    let running = 0;
    let maxRunning = 0;
    let runs = 0;
    let release: () => void = () => {};
    queue.register(
      "reconcile",
      async () => {
        running++;
        runs++;
        maxRunning = Math.max(maxRunning, running);
        if (runs === 1) await new Promise<void>((r) => (release = r));
        running--;
        return undefined;
      },
      { concurrency: 4 },
    );
    await queue.enqueue("reconcile", "k");
    await settle();
    await queue.enqueue("reconcile", "k");
    await queue.enqueue("reconcile", "k");
    await settle();
    expect(runs).toBe(1);
    release();
    await settle();
    expect(runs).toBe(2);
    expect(maxRunning).toBe(1);
  });

  it("delays through the injected clock and retries failures with back-off", async () => {
    const clock = new ManualClock(0);
    const errors: string[] = [];
    const queue = new InProcessQueue({ clock, onError: (_q, key) => errors.push(key) });
    let attempts = 0;
    queue.register("schedule", async () => {
      attempts++;
      if (attempts < 3) throw new Error("transient");
      return undefined;
    });
    await queue.enqueue("schedule", "p", 1000);
    await settle();
    expect(attempts).toBe(0);
    clock.advance(1000);
    await settle();
    expect(attempts).toBe(1);
    clock.advance(50);
    await settle();
    expect(attempts).toBe(2);
    clock.advance(100);
    await settle();
    expect(attempts).toBe(3);
    expect(errors).toEqual(["p", "p"]);
  });

  it("requeues after the delay a handler asks for", async () => {
    const clock = new ManualClock(0);
    const queue = new InProcessQueue({ clock });
    let runs = 0;
    queue.register("schedule", async () => {
      runs++;
      return runs < 2 ? { requeueAfterMs: 5000 } : undefined;
    });
    await queue.enqueue("schedule", "p");
    await settle();
    clock.advance(4999);
    await settle();
    expect(runs).toBe(1);
    clock.advance(1);
    await settle();
    expect(runs).toBe(2);
  });
});
