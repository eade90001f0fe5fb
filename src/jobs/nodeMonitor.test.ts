import { describe, expect, it } from "vitest";
import { countingCalls } from "../../test/helpers/counting.js";
import { ManualClock } from "../core/clock.js";
import { seededRng } from "../core/rng.js";
import { MemoryStore } from "../db/memoryStore.js";
import type { JobContext } from "./context.js";
import { NodeMonitor } from "./nodeMonitor.js";

const GRACE_MS = 5_000;
const HEARTBEAT_MS = 2_000;

async function setup() {
  const clock = new ManualClock(0);
  const store = new MemoryStore();
  for (const name of ["n1", "n2", "n3"]) {
    await store.upsertNode(
      {
        ...{ name, provider: "simulated", address: "192.0.2.1", labels: {}, cpuMillis: 4_000 },
        ...{ memoryBytes: 2 ** 33, maxPods: 110, ready: true, unschedulable: false, lastHeartbeatAt: 0 },
      },
      0,
    );
  }
  const calls: string[] = [];
  const ctx = {
    store: countingCalls(store, calls),
    queue: { enqueue: async () => {} },
    clock,
    rng: seededRng("monitor"),
    log: () => {},
  } as unknown as JobContext;
  const monitor = new NodeMonitor(ctx, GRACE_MS, undefined, HEARTBEAT_MS);
  /** A heartbeat pass at the clock's time that hears `names`. */
  const pass = async (names: string[]) => {
    await store.stampHeartbeats(names, clock.now());
    monitor.heartbeat(true, clock.now());
  };
  const ready = async () => (await store.listNodes()).filter((n) => n.ready).map((n) => n.name);
  return { clock, monitor, pass, ready, store, calls };
}

describe("the node monitor", () => {
  it("marks no node NotReady while its own heartbeat passes fall behind", async () => {
    const { clock, monitor, pass, ready } = await setup();
    await pass(["n1", "n2", "n3"]);
    // An overloaded control plane: no pass for ten seconds, though the monitor keeps looking.
    for (let t = 1_000; t <= 10_000; t += 1_000) {
      clock.advance(1_000);
      await monitor.look();
    }
    expect(await ready()).toEqual(["n1", "n2", "n3"]);
  });

  it("marks a node NotReady when the passes that ran did not hear it for the grace period", async () => {
    const { clock, monitor, pass, ready } = await setup();
    await pass(["n1", "n2", "n3"]);
    for (let t = 1_000; t <= 8_000; t += 1_000) {
      clock.advance(1_000);
      if (t % HEARTBEAT_MS === 0) await pass(["n1", "n2"]);
      await monitor.look();
    }
    expect(await ready()).toEqual(["n1", "n2"]);
  });

  it("counts pods only when a node is down, and then declares the silent node's pods lost", async () => {
    const { clock, monitor, pass, store, calls } = await setup();
    await store.createPod({
      ...{ id: "pod_1", tenantId: "ten_a", namespace: "default", name: "web-1", uid: "uid-1" },
      ...{ ownerKind: "ReplicaSet", ownerName: "web", ownerUid: "rs", labels: {}, annotations: {} },
      ...{ templateHash: "1", spec: { containers: [{ name: "web", image: "web:1" }] }, cpuMillis: 10 },
      ...{ memoryBytes: 2 ** 24, createdAt: 0 },
    });
    await store.bindPod("pod_1", "n3", 0);
    await pass(["n1", "n2", "n3"]);
    for (let t = 1_000; t <= 4_000; t += 1_000) {
      clock.advance(1_000);
      if (t % HEARTBEAT_MS === 0) await pass(["n1", "n2", "n3"]);
      await monitor.look();
    }
    // Every node heard: no look read the pods.
    expect(calls).not.toContain("listPodPlacements");
    for (let t = 5_000; t <= 12_000; t += 1_000) {
      clock.advance(1_000);
      if (t % HEARTBEAT_MS === 0) await pass(["n1", "n2"]);
      await monitor.look();
    }
    expect(calls).toContain("listPodPlacements");
    expect(await store.getPod("pod_1")).toMatchObject({ phase: "Failed" });
  });
});
