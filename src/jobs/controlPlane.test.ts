import { describe, expect, it } from "vitest";
import { ManualClock } from "../core/clock.js";
import { seededRng } from "../core/rng.js";
import { MemoryStore } from "../db/memoryStore.js";
import type { Store } from "../db/types.js";
import { SimulatedProvider } from "../providers/simulated/index.js";
import { ControlPlane, type ControlPlaneOptions } from "./controlPlane.js";
import { InProcessQueue } from "./inProcessQueue.js";

const POD_WRITES = new Set(["createPod", "updatePodStatus", "markPodDeleting", "bindPod", "deletePod"]);

/** A control plane on virtual time; in `push`, told of pod writes as the simulator's world tells it. */
function setup(changes: "poll" | "push") {
  const clock = new ManualClock(0);
  const provider = new SimulatedProvider({
    clock,
    rng: seededRng("provider"),
    startLatencyMs: { min: 10, max: 10 },
    pools: [{ name: "default", count: 2, cpuMillis: 4000, memoryBytes: 8 * 2 ** 30 }],
  });
  const counts = { probes: 0, heartbeatWrites: 0, rebalancePasses: 0 };
  const probe = provider.probe.bind(provider);
  provider.probe = (...args) => {
    counts.probes++;
    return probe(...args);
  };
  let podsChanged = () => {};
  const memory = new MemoryStore();
  const store = new Proxy(memory, {
    get(target, property) {
      const value = Reflect.get(target, property, target) as unknown;
      if (typeof value !== "function") return value;
      const fn = (value as (...args: unknown[]) => Promise<unknown>).bind(target);
      if (property === "updateNode") {
        return (...args: unknown[]) => {
          if ((args[1] as { lastHeartbeatAt?: number }).lastHeartbeatAt !== undefined) counts.heartbeatWrites++;
          return fn(...args);
        };
      }
      if (property === "listObjects") {
        // A rebalancer's pass reads every tenant's ReplicaSets; so does a resync, which reads every
        // tenant's Deployments too (and a pass does not).
        return (...args: unknown[]) => {
          const query = args[0] as { kind: string; tenantId?: string };
          if (query.tenantId === undefined && query.kind === "ReplicaSet") counts.rebalancePasses++;
          if (query.tenantId === undefined && query.kind === "Deployment") counts.rebalancePasses--;
          return fn(...args);
        };
      }
      if (property === "stampHeartbeats") {
        return (...args: unknown[]) => {
          if ((args[0] as string[]).length > 0) counts.heartbeatWrites++;
          return fn(...args);
        };
      }
      if (!POD_WRITES.has(String(property))) return fn;
      return (...args: unknown[]) => fn(...args).finally(() => podsChanged());
    },
  }) as Store;
  const options: ControlPlaneOptions = {
    changes,
    ...(changes === "push" ? { probeForecast: provider.probePassesUntil.bind(provider) } : {}),
  };
  const cp = new ControlPlane(
    {
      store,
      queue: new InProcessQueue({ clock }),
      provider,
      clock,
      rng: seededRng("workers"),
      schedulingPolicy: "spread",
      unschedulableRetryMs: 500,
      log: () => {},
    },
    options,
  );
  podsChanged = () => cp.podsChanged();
  return { clock, store, provider, cp, counts };
}

const settle = async () => {
  for (let i = 0; i < 20; i++) await new Promise((r) => setImmediate(r));
};

/** Runs virtual time to `untilMs`, instant by instant, as the simulator does (bounded). */
async function runTo(clock: ManualClock, untilMs: number): Promise<void> {
  for (let step = 0; step < 100_000; step++) {
    await settle();
    const next = clock.nextTimerAt();
    if (next === undefined || next > untilMs) break;
    clock.advanceTo(next);
  }
  clock.advanceTo(untilMs);
  await settle();
}

async function startPod(store: Store, clock: ManualClock, spec: Record<string, unknown>): Promise<void> {
  await store.createPod({
    ...{ id: "pod_1", tenantId: "ten_1", namespace: "default", name: "web-1", uid: "uid-1" },
    ...{ ownerKind: null, ownerName: null, ownerUid: null, labels: {}, annotations: {}, templateHash: null },
    ...{ spec, cpuMillis: 100, memoryBytes: 2 ** 20, createdAt: clock.now() },
  });
}

const PROBED = {
  containers: [
    {
      name: "web",
      image: "web:1",
      readinessProbe: { httpGet: { path: "/", port: 80 }, periodSeconds: 1, failureThreshold: 2 },
    },
  ],
};

describe("control plane, changes pushed (the simulator's mode)", () => {
  it("runs no probe the forecast says passes, and a probe fails at the time the image's new behaviour makes it fail", async () => {
    const { clock, store, provider, cp, counts } = setup("push");
    await startPod(store, clock, PROBED);
    await cp.start();
    await runTo(clock, 5_000);
    expect((await store.getPod("pod_1"))?.ready).toBe(true);
    const probesWhenReady = counts.probes;
    expect(probesWhenReady).toBeGreaterThan(0);
    await runTo(clock, 120_000);
    // Two minutes of a 1 s probe that passes: not one run.
    expect(counts.probes).toBe(probesWhenReady);

    // From 130 s into the run the probe fails; its second failure (threshold 2) makes the pod unready.
    const state = (await provider.listPods())[0]?.containers[0]?.state;
    expect(state && "running" in state).toBe(true);
    provider.setImageBehaviour("web:1", { readiness: { failAfterMs: 130_000 } });
    cp.probesChanged();
    await runTo(clock, 129_000);
    expect((await store.getPod("pod_1"))?.ready).toBe(true);
    await runTo(clock, 135_000);
    expect((await store.getPod("pod_1"))?.ready).toBe(false);
    expect(counts.probes - probesWhenReady).toBeLessThanOrEqual(10);
    await cp.stop();
  });

  it("looks for moves at the rebalancer's next period after a pod or a node changed, not every period", async () => {
    const { clock, store, provider, cp, counts } = setup("push");
    await startPod(store, clock, PROBED);
    await cp.start();
    await runTo(clock, 120_000);
    expect((await store.getPod("pod_1"))?.ready).toBe(true);
    // The pod's start and readiness (within the first 10 s) were written: one pass, at 10 s, and none since.
    expect(counts.rebalancePasses).toBe(1);
    await runTo(clock, 121_000);
    cp.podsChanged(["pod_1"]);
    await runTo(clock, 129_999);
    expect(counts.rebalancePasses).toBe(1);
    await runTo(clock, 130_000);
    expect(counts.rebalancePasses).toBe(2);
    // A node heard from (one that joins) arms a pass as well.
    provider.addNode({ name: "extra-1", cpuMillis: 4000, memoryBytes: 8 * 2 ** 30 });
    await runTo(clock, 140_000);
    expect(counts.rebalancePasses).toBe(3);
    await runTo(clock, 200_000);
    expect(counts.rebalancePasses).toBe(3);
    await cp.stop();
  });

  it("polling (production) runs every probe, and the rebalancer every period", async () => {
    const { clock, store, cp, counts } = setup("poll");
    await startPod(store, clock, PROBED);
    await cp.start();
    await runTo(clock, 60_000);
    expect((await store.getPod("pod_1"))?.ready).toBe(true);
    expect(counts.probes).toBeGreaterThanOrEqual(50);
    expect(counts.heartbeatWrites).toBeGreaterThanOrEqual(20);
    expect(counts.rebalancePasses).toBe(6);
    await cp.stop();
  });

  it("declares a silent node's pods lost at its last heartbeat plus the grace period, writing no heartbeat meanwhile", async () => {
    const { clock, store, provider, cp, counts } = setup("push");
    await startPod(store, clock, { containers: [{ name: "web", image: "web:1" }] });
    await cp.start();
    await runTo(clock, 5_000);
    const pod = await store.getPod("pod_1");
    expect(pod?.phase).toBe("Running");
    const heartbeatsBefore = counts.heartbeatWrites;
    await runTo(clock, 60_500);
    // Silent from 60.5 s: its last heartbeat (every 2 s) was at 60 s; the 5 s grace ends at 65 s.
    provider.setNodeReady(pod?.nodeName as string, false);
    await runTo(clock, 65_000);
    expect((await store.getPod("pod_1"))?.phase).toBe("Running");
    await runTo(clock, 66_000);
    expect((await store.getPod("pod_1"))?.phase).toBe("Failed");
    expect((await store.getNode(pod?.nodeName as string))?.ready).toBe(false);
    expect(counts.heartbeatWrites - heartbeatsBefore).toBeLessThanOrEqual(2);
    await cp.stop();
  });
});
