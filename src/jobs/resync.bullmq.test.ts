import { randomUUID } from "node:crypto";
import { afterEach, expect, it } from "vitest";
import { describeRedis, dropRedisPrefix, isRedisReachable, redisUrl } from "../../test/helpers/redis.js";
import { systemClock } from "../core/clock.js";
import { seededRng } from "../core/rng.js";
import { MemoryStore } from "../db/memoryStore.js";
import { SimulatedProvider } from "../providers/simulated/index.js";
import { BullmqQueue } from "./bullmqQueue.js";
import { ControlPlane } from "./controlPlane.js";

const MiB = 2 ** 20;
const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

describeRedis("the periodic resync on BullMQ", await isRedisReachable(), () => {
  it("is a repeatable job that runs while no process leads", async () => {
    const prefix = `kn-test-resync-${randomUUID()}`;
    cleanups.push(() => dropRedisPrefix(prefix));
    const store = new MemoryStore();
    // Another holder has the lease for the whole test: this process never runs the singleton duties.
    expect(await store.acquireLease("control-plane", "someone-else", 600_000, systemClock.now())).not.toBeNull();
    const provider = new SimulatedProvider({
      clock: systemClock,
      rng: seededRng("resync"),
      startLatencyMs: { min: 1, max: 1 },
      pools: [{ name: "default", count: 1, cpuMillis: 4_000, memoryBytes: 8 * 1024 * MiB }],
    });
    cleanups.push(() => provider.close());
    const [node] = await provider.listNodes();
    if (!node) throw new Error("the simulated pool has no node");
    const { name, address, labels, cpuMillis, memoryBytes, maxPods } = node;
    const nowMs = systemClock.now();
    await store.upsertNode(
      {
        ...{ name, provider: "simulated", address, labels, cpuMillis, memoryBytes, maxPods },
        ...{ ready: true, unschedulable: false, lastHeartbeatAt: nowMs },
      },
      nowMs,
    );
    // A pod bound without its start ever being asked for: only a resync finds it.
    await store.createPod({
      ...{ id: "pod_lost", tenantId: "ten_a", namespace: "default", name: "web-1", uid: "uid-1" },
      ...{ ownerKind: null, ownerName: null, ownerUid: null, labels: {}, annotations: {}, templateHash: null },
      ...{ spec: { containers: [{ name: "web", image: "web:1" }] }, cpuMillis: 10, memoryBytes: MiB, createdAt: 1 },
    });
    expect(await store.bindPod("pod_lost", name, 2)).toBe("bound");

    const queue = new BullmqQueue({ connection: redisUrl, prefix, clock: systemClock });
    const cp = new ControlPlane(
      {
        ...{ store, queue, provider, clock: systemClock, rng: seededRng("workers") },
        ...{ schedulingPolicy: "spread", unschedulableRetryMs: 500, log: () => {} },
      },
      { leader: { holder: "me", ttlMs: 600_000 }, resyncMs: 200 },
    );
    cleanups.push(async () => {
      await cp.stop();
      await queue.close();
    });
    await cp.start();
    const deadline = Date.now() + 20_000;
    while (!(await provider.listPods()).some((p) => p.podId === "pod_lost")) {
      if (Date.now() > deadline) throw new Error("the pod was never started");
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    expect(cp.leading).toBe(false);
  });
});
