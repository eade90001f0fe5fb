import { describe, expect, it } from "vitest";
import { countingCalls } from "../../test/helpers/counting.js";
import { ManualClock } from "../core/clock.js";
import { seededRng } from "../core/rng.js";
import { MemoryStore } from "../db/memoryStore.js";
import type { NewPod } from "../db/types.js";
import type { NodeProvider, ObservedContainer, ObservedPod } from "../providers/types.js";
import type { JobContext } from "./context.js";
import { Observer, OWNER_LOOK_MS, OwnerLooks } from "./observe.js";
import type { QueueName, WorkQueue } from "./queue.js";

const MiB = 2 ** 20;

function pod(i: number): NewPod {
  return {
    ...{ id: `pod_${i}`, tenantId: "ten_a", namespace: "default", name: `web-${i}`, uid: `uid-${i}` },
    ...{ ownerKind: "ReplicaSet", ownerName: "web-1", ownerUid: "rs-uid", labels: {}, annotations: {} },
    ...{ templateHash: "1", spec: { containers: [{ name: "web", image: "web:1" }] } },
    ...{ cpuMillis: 10, memoryBytes: 16 * MiB, createdAt: 1_000, status: { phase: "Pending", conditions: [] } },
  };
}

function running(i: number): ObservedPod {
  return {
    ...{ podId: `pod_${i}`, nodeName: "n1", phase: "Running", podIP: `10.0.0.${i}`, startedAt: 2_000 },
    containers: [{ name: "web", image: "web:1", containerID: `c-${i}`, state: { running: { startedAt: "x" } } }],
  };
}

async function setup(count = 12) {
  const clock = new ManualClock();
  const store = new MemoryStore();
  for (let i = 0; i < count; i++) {
    await store.createPod(pod(i));
    await store.upsertNode(
      {
        ...{ name: "n1", provider: "simulated", address: "192.0.2.1", labels: {}, cpuMillis: 4_000 },
        ...{ memoryBytes: 8 * 1024 * MiB, maxPods: 110, ready: true, unschedulable: false, lastHeartbeatAt: 0 },
      },
      0,
    );
    await store.bindPod(`pod_${i}`, "n1", 1_500);
  }
  const calls: string[] = [];
  const enqueued: [QueueName, string, number][] = [];
  const queue: WorkQueue = {
    async enqueue(name: QueueName, key: string, delayMs = 0) {
      enqueued.push([name, key, delayMs]);
    },
    register() {},
    async close() {},
  };
  const ctx: JobContext = {
    store: countingCalls(store, calls),
    queue,
    provider: {} as NodeProvider,
    clock,
    rng: seededRng("observe"),
    schedulingPolicy: "spread",
    unschedulableRetryMs: 500,
    log: () => {},
  };
  return { ctx, store, calls, enqueued, clock, observer: new Observer(ctx) };
}

/** Lets the recordings that timers started run to their end (the store answers at once). */
const settle = () => new Promise((resolve) => setTimeout(resolve, 20));

/** Makes `ctx`'s queue refuse `reconcile` enqueues while `failing` holds (a queue out of reach). */
function reconcilesFail(ctx: JobContext): { failing: boolean } {
  const outage = { failing: true };
  const original = ctx.queue.enqueue.bind(ctx.queue);
  ctx.queue = {
    ...ctx.queue,
    enqueue: async (queue, key, delayMs) => {
      if (queue === "reconcile" && outage.failing) throw new Error("the queue is out of reach");
      return original(queue, key, delayMs);
    },
  };
  return outage;
}

describe("the observe job", () => {
  it("records the observations this process holds together: one read, one write, the owner told once", async () => {
    const { store, calls, enqueued, observer } = await setup();
    for (let i = 0; i < 12; i++) observer.onProviderEvent({ type: "pod", pod: running(i) });
    expect(enqueued.filter(([q]) => q === "observe")).toHaveLength(12);
    enqueued.length = 0;
    expect(await observer.job("pod_3")).toBeUndefined();
    expect(calls.filter((c) => c === "getPods" || c === "updatePodStatuses")).toEqual(["getPods", "updatePodStatuses"]);
    expect(calls).not.toContain("getPod");
    expect(calls).not.toContain("updatePodStatus");
    for (const p of await store.listPods({ tenantId: "ten_a" })) {
      expect(p).toMatchObject({ phase: "Running", status: { podIP: `10.0.0.${p.id.slice(4)}` } });
    }
    // Twelve at once is no burst yet: the owner looks at once.
    expect(enqueued.filter(([q]) => q === "reconcile")).toEqual([["reconcile", "ReplicaSet/ten_a/default/web-1", 0]]);
    // The others' own jobs find nothing left.
    calls.length = 0;
    for (let i = 0; i < 12; i++) expect(await observer.job(`pod_${i}`)).toBeUndefined();
    expect(calls).toEqual([]);
  });

  it("tells of the pods it recorded running once their statuses are written, and of no other", async () => {
    const { ctx, store } = await setup(3);
    const told: string[][] = [];
    const observer = new Observer(ctx, "queued", (podIds) => told.push([...podIds].sort()));
    observer.onProviderEvent({ type: "pod", pod: running(0) });
    observer.onProviderEvent({ type: "pod", pod: running(1) });
    observer.onProviderEvent({
      type: "pod",
      pod: { podId: "pod_2", nodeName: "n1", phase: "Pending", containers: [] },
    });
    await observer.job("pod_0");
    expect(told).toEqual([["pod_0", "pod_1"]]);
    expect((await store.getPod("pod_1"))?.phase).toBe("Running");
    // Told again of nothing that did not change.
    observer.onProviderEvent({ type: "pod", pod: running(0) });
    await observer.job("pod_0");
    expect(told).toHaveLength(1);
  });

  it("has the owner of a burst of changed pods look once, a little later", async () => {
    const { enqueued, observer } = await setup(40);
    for (let i = 0; i < 40; i++) observer.onProviderEvent({ type: "pod", pod: running(i) });
    enqueued.length = 0;
    await observer.job("pod_0");
    expect(enqueued.filter(([q]) => q === "reconcile")).toEqual([
      ["reconcile", "ReplicaSet/ten_a/default/web-1", OWNER_LOOK_MS],
    ]);
  });

  it("has an owner whose pods keep changing look at once, then once a period, each look seeing the changes before it", () => {
    const looks = new OwnerLooks();
    const web = "ReplicaSet/ten_a/default/web-1";
    expect(looks.delayMs(web, 10_000)).toBe(0);
    // Changes within the period wait for one look a period after the last.
    expect(looks.delayMs(web, 10_200)).toBe(OWNER_LOOK_MS - 200);
    expect(looks.delayMs(web, 10_900)).toBe(OWNER_LOOK_MS - 900);
    // At the look's own instant, a change comes to the next one.
    expect(looks.delayMs(web, 11_000)).toBe(OWNER_LOOK_MS);
    // Another owner is not held up; after a quiet period, the owner looks at once again.
    expect(looks.delayMs("ReplicaSet/ten_a/default/api-1", 11_100)).toBe(0);
    expect(looks.delayMs(web, 15_000)).toBe(0);
    // A burst recorded together waits a period in any case.
    expect(looks.delayMs("ReplicaSet/ten_a/default/db-1", 15_000, true)).toBe(OWNER_LOOK_MS);
  });

  it("records on its own, re-read, a pod that changed between the batch's read and its write", async () => {
    const { ctx, store, observer } = await setup();
    // A write lands between the batch's read and its write.
    const original = ctx.store.getPods.bind(ctx.store);
    ctx.store.getPods = async (ids) => {
      const read = await original(ids);
      const p1 = read.find((p) => p.id === "pod_1");
      if (p1) await store.updatePodStatus("pod_1", { ...p1, status: { ...p1.status, marked: true } }, { nowMs: 2 });
      return read;
    };
    observer.onProviderEvent({ type: "pod", pod: running(0) });
    observer.onProviderEvent({ type: "pod", pod: running(1) });
    expect(await observer.job("pod_0")).toBeUndefined();
    expect(await store.getPod("pod_0")).toMatchObject({ phase: "Running" });
    expect(await store.getPod("pod_1")).toMatchObject({
      phase: "Running",
      status: { marked: true, podIP: "10.0.0.1" },
    });
  });

  it("tells the owner what it counts of a pod (readiness, restarts, an end) and the Services what they select on", async () => {
    const { ctx, store, enqueued } = await setup(0);
    // A pod whose readiness waits for its probe: running is not yet ready.
    const probed = { ...pod(0), spec: { containers: [{ name: "web", image: "web:1", readinessProbe: { exec: {} } }] } };
    await store.createPod(probed);
    await store.bindPod("pod_0", "n1", 1_500);
    await store.createObject({
      ...{ id: "obj_1", uid: "svc-uid", tenantId: "ten_a", namespace: "default", kind: "Service", name: "web" },
      ...{ apiVersion: "v1", labels: {}, annotations: {}, spec: { selector: { app: "web" } }, createdAt: 1_500 },
    });
    const observer = new Observer(ctx);
    const told = async (report: ObservedPod | undefined) => {
      enqueued.length = 0;
      if (report) observer.onProviderEvent({ type: "pod", pod: report });
      else observer.onProviderEvent({ type: "podGone", podId: "pod_0", nodeName: "n1" });
      await observer.job("pod_0");
      return enqueued.filter(([q]) => q === "reconcile").map(([, key]) => key.split("/")[0]);
    };
    const container = (containerID: string | undefined, state: ObservedContainer["state"]) => ({
      ...{ name: "web", image: "web:1", state },
      ...(containerID ? { containerID } : {}),
    });
    const creating = { waiting: { reason: "ContainerCreating" } };
    const runningState = { running: { startedAt: "x" } };
    // Its containers first reported (restarts: none → 0): no one's count changes.
    expect(
      await told({ ...running(0), phase: "Pending", podIP: undefined, containers: [container(undefined, creating)] }),
    ).toEqual([]);
    // Running, not Ready: the Services list its address; the owner counts nothing new.
    expect(await told({ ...running(0), containers: [container("c-1", runningState)] })).toEqual(["Service"]);
    expect(await store.getPod("pod_0")).toMatchObject({ phase: "Running", ready: false });
    // A restart (a new container id): the owner counts restarts, the Services do not.
    expect(await told({ ...running(0), containers: [container("c-2", runningState)] })).toEqual(["ReplicaSet"]);
    // Lost: it ended, which both see.
    expect(await told(undefined)).toEqual(["ReplicaSet", "Service"]);
    expect(await store.getPod("pod_0")).toMatchObject({ phase: "Failed" });
  });

  it("fails the job when what follows a written status fails, and its retry does that again", async () => {
    const { ctx, store, enqueued } = await setup(1);
    const outage = reconcilesFail(ctx);
    const observer = new Observer(ctx);
    observer.onProviderEvent({ type: "pod", pod: running(0) });
    await expect(observer.job("pod_0")).rejects.toThrow("the queue is out of reach");
    expect(await store.getPod("pod_0")).toMatchObject({ phase: "Running" });
    outage.failing = false;
    await observer.job("pod_0");
    expect(enqueued.filter(([q]) => q === "reconcile").map(([, key]) => key)).toEqual([
      "ReplicaSet/ten_a/default/web-1",
    ]);
  });

  it("never takes a pod back to Pending: another worker may record an older report after a newer one", async () => {
    const { store, ctx } = await setup(1);
    const first = new Observer(ctx);
    const second = new Observer(ctx);
    // Both workers hear the pod's sandbox come up; only the first hears it run before its job.
    const creating = { waiting: { reason: "ContainerCreating" } };
    const pending: ObservedPod = {
      ...running(0),
      phase: "Pending",
      containers: [{ name: "web", image: "web:1", state: creating }],
    };
    first.onProviderEvent({ type: "pod", pod: pending });
    second.onProviderEvent({ type: "pod", pod: pending });
    first.onProviderEvent({ type: "pod", pod: running(0) });
    await first.job("pod_0");
    expect(await store.getPod("pod_0")).toMatchObject({ phase: "Running" });
    await second.job("pod_0");
    expect(await store.getPod("pod_0")).toMatchObject({ phase: "Running", status: { podIP: "10.0.0.0" } });
  });
});

describe("local recording (a worker on a shared queue)", () => {
  it("records what the process hears itself, in one read and one write, with no observe job", async () => {
    const { ctx, store, calls, enqueued, clock } = await setup();
    const observer = new Observer(ctx, "local");
    for (let i = 0; i < 12; i++) observer.onProviderEvent({ type: "pod", pod: running(i) });
    expect(enqueued.filter(([q]) => q === "observe")).toEqual([]);
    // Nothing is recorded before the observations have gathered.
    expect(calls).toEqual([]);
    clock.advance(5);
    await settle();
    expect(calls.filter((c) => c === "getPods" || c === "updatePodStatuses")).toEqual(["getPods", "updatePodStatuses"]);
    for (const p of await store.listPods({ tenantId: "ten_a" })) expect(p).toMatchObject({ phase: "Running" });
    expect(enqueued.filter(([q]) => q === "reconcile")).toEqual([["reconcile", "ReplicaSet/ten_a/default/web-1", 0]]);
    await observer.close();
  });

  it("records what it still holds when closed, not only the batch under way", async () => {
    const { ctx, store, clock } = await setup(600);
    const observer = new Observer(ctx, "local");
    for (let i = 0; i < 600; i++) observer.onProviderEvent({ type: "pod", pod: running(i) });
    // Closed while its first batch (256 of the 600) is being recorded.
    clock.advance(5);
    await observer.close();
    const pods = await store.listPods({ tenantId: "ten_a" });
    expect(pods.filter((p) => p.phase === "Running")).toHaveLength(600);
    // It hears nothing more, and arms no timer.
    observer.onProviderEvent({ type: "pod", pod: { ...running(0), phase: "Failed" } });
    clock.advance(1_000);
    await settle();
    expect(await store.getPod("pod_0")).toMatchObject({ phase: "Running" });
  });

  it("records the batch's other pods when a pod unknown to the store cannot be stopped", async () => {
    const { ctx, store, clock, calls } = await setup(3);
    const stops: string[] = [];
    ctx.provider = {
      stopPod: async (_node: string, podId: string) => {
        stops.push(podId);
        throw new Error("the node does not answer");
      },
    } as unknown as NodeProvider;
    const logged: string[] = [];
    ctx.log = (message: string) => void logged.push(message);
    const observer = new Observer(ctx, "local");
    for (let i = 0; i < 3; i++) observer.onProviderEvent({ type: "pod", pod: running(i) });
    observer.onProviderEvent({ type: "pod", pod: { ...running(9), podId: "pod_unknown" } });
    clock.advance(5);
    await settle();
    for (let i = 0; i < 3; i++) expect(await store.getPod(`pod_${i}`)).toMatchObject({ phase: "Running" });
    expect(stops).toEqual(["pod_unknown"]);
    expect(logged).toEqual(["stopping a pod unknown to the store failed; its next report tries again"]);
    expect(calls.filter((c) => c === "updatePodStatuses")).toHaveLength(1);
    await observer.close();
  });

  it("does again, after a back-off, what followed written statuses and failed (telling the owner)", async () => {
    const { ctx, store, clock, enqueued } = await setup(3);
    const outage = reconcilesFail(ctx);
    const observer = new Observer(ctx, "local");
    for (let i = 0; i < 3; i++) observer.onProviderEvent({ type: "pod", pod: running(i) });
    clock.advance(5);
    await settle();
    // The statuses are written; telling their ReplicaSet failed.
    for (let i = 0; i < 3; i++) expect(await store.getPod(`pod_${i}`)).toMatchObject({ phase: "Running" });
    expect(enqueued.filter(([q]) => q === "reconcile")).toEqual([]);
    outage.failing = false;
    clock.advance(50);
    await settle();
    expect(enqueued.filter(([q]) => q === "reconcile").map(([, key]) => key)).toEqual([
      "ReplicaSet/ten_a/default/web-1",
    ]);
    await observer.close();
  });

  it("keeps what it could not record and records it after a back-off", async () => {
    const { ctx, store, clock } = await setup(3);
    const original = ctx.store.updatePodStatuses.bind(ctx.store);
    let failing = true;
    ctx.store.updatePodStatuses = async (writes, nowMs) => {
      if (failing) throw new Error("the database went away");
      return original(writes, nowMs);
    };
    const observer = new Observer(ctx, "local");
    for (let i = 0; i < 3; i++) observer.onProviderEvent({ type: "pod", pod: running(i) });
    clock.advance(5);
    await settle();
    expect(await store.getPod("pod_0")).toMatchObject({ phase: "Pending" });
    failing = false;
    // The first retry waits `retryDelayMs(1)` (50 ms).
    clock.advance(49);
    await settle();
    expect(await store.getPod("pod_0")).toMatchObject({ phase: "Pending" });
    clock.advance(1);
    await settle();
    for (let i = 0; i < 3; i++) expect(await store.getPod(`pod_${i}`)).toMatchObject({ phase: "Running" });
    await observer.close();
  });

  it("records a pod that changed between the batch's read and its write in the next read", async () => {
    const { ctx, store, clock, calls } = await setup(2);
    const original = ctx.store.getPods.bind(ctx.store);
    let raced = false;
    ctx.store.getPods = async (ids) => {
      const read = await original(ids);
      const p1 = read.find((p) => p.id === "pod_1");
      if (p1 && !raced) {
        raced = true;
        await store.updatePodStatus("pod_1", { ...p1, status: { ...p1.status, marked: true } }, { nowMs: 2 });
      }
      return read;
    };
    const observer = new Observer(ctx, "local");
    observer.onProviderEvent({ type: "pod", pod: running(0) });
    observer.onProviderEvent({ type: "pod", pod: running(1) });
    clock.advance(5);
    await settle();
    expect(await store.getPod("pod_1")).toMatchObject({ phase: "Running", status: { marked: true } });
    // Read again with the others that raced (none here), in a batch of its own: not a read of its own.
    expect(calls.filter((c) => c === "updatePodStatuses")).toHaveLength(2);
    expect(calls).not.toContain("getPod");
    await observer.close();
  });
});
