import { describe, expect, it } from "vitest";
import { ManualClock } from "../core/clock.js";
import { MemoryStore } from "../db/memoryStore.js";
import type { StoreOps } from "../db/types.js";
import { LeaderElector } from "./leader.js";

const settle = async () => {
  for (let i = 0; i < 50; i++) await Promise.resolve();
};

/** A store whose lease calls fail while `down` is set, as when a process cannot reach Postgres. */
function flakyStore(store: MemoryStore) {
  const state = { down: false, hanging: false };
  const ops: Pick<StoreOps, "acquireLease" | "releaseLease"> = {
    acquireLease: (...args) =>
      state.hanging
        ? new Promise(() => {})
        : state.down
          ? Promise.reject(new Error("store down"))
          : store.acquireLease(...args),
    releaseLease: (...args) => store.releaseLease(...args),
  };
  return { ops, state };
}

function elector(store: Pick<StoreOps, "acquireLease" | "releaseLease">, clock: ManualClock, holder: string) {
  const log: string[] = [];
  const e = new LeaderElector(store, clock, {
    name: "control-plane",
    holder,
    ttlMs: 3_000,
    onElected: (term) => log.push(`elected ${term}`),
    onDeposed: () => log.push("deposed"),
    log: () => {},
  });
  return { e, log };
}

describe("LeaderElector", () => {
  it("elects one of two; the other takes over once the leader stops renewing, with the next term", async () => {
    const clock = new ManualClock();
    const store = new MemoryStore();
    const a = flakyStore(store);
    const one = elector(a.ops, clock, "a");
    const two = elector(store, clock, "b");
    one.e.start();
    await settle();
    two.e.start();
    await settle();
    expect([one.e.isLeader, two.e.isLeader]).toEqual([true, false]);
    // a renews every second: b stays out for as long as that goes on.
    for (let i = 0; i < 10; i++) {
      clock.advance(1_000);
      await settle();
    }
    expect([one.e.isLeader, two.e.isLeader]).toEqual([true, false]);

    // a loses the store: it steps down a renewal before its lease ends, and b takes over only after it ends.
    a.state.down = true;
    const lostAt = clock.now();
    let stepDownMs = -1;
    let takeOverMs = -1;
    for (let i = 0; i < 20 && takeOverMs < 0; i++) {
      clock.advance(250);
      await settle();
      if (stepDownMs < 0 && !one.e.isLeader) stepDownMs = clock.now() - lostAt;
      if (two.e.isLeader) takeOverMs = clock.now() - lostAt;
    }
    expect(one.log).toEqual(["elected 1", "deposed"]);
    expect(two.log).toEqual(["elected 2"]);
    expect(stepDownMs).toBeGreaterThanOrEqual(0);
    expect(takeOverMs).toBeGreaterThan(stepDownMs);
    // The lease was last renewed at lostAt: it ran until lostAt + 3 s.
    expect(takeOverMs).toBeGreaterThanOrEqual(3_000);

    a.state.down = false;
    clock.advance(1_000);
    await settle();
    expect([one.e.isLeader, two.e.isLeader]).toEqual([false, true]);
    await one.e.stop();
    await two.e.stop();
    expect(clock.pendingTimers()).toBe(0);
  });

  it("steps down before its lease ends when the store hangs instead of failing", async () => {
    const clock = new ManualClock();
    const store = new MemoryStore();
    const a = flakyStore(store);
    const one = elector(a.ops, clock, "a");
    one.e.start();
    await settle();
    expect(one.e.isLeader).toBe(true);
    a.state.hanging = true;
    const hungAt = clock.now();
    for (let i = 0; i < 12 && one.e.isLeader; i++) {
      clock.advance(250);
      await settle();
    }
    // Renewed last at hungAt (lease until hungAt + 3 s): it is out before then.
    expect(one.e.isLeader).toBe(false);
    expect(clock.now() - hungAt).toBeLessThan(3_000);
    a.state.hanging = false;
    await one.e.stop();
  });

  it("gives the lease up on stop, so another takes over without waiting for it to expire", async () => {
    const clock = new ManualClock();
    const store = new MemoryStore();
    const one = elector(store, clock, "a");
    const two = elector(store, clock, "b");
    one.e.start();
    await settle();
    two.e.start();
    await settle();
    await one.e.stop();
    expect(one.log).toEqual(["elected 1", "deposed"]);
    clock.advance(1_000);
    await settle();
    expect(two.e.isLeader).toBe(true);
    await two.e.stop();
  });
});
