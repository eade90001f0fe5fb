import { describe, expect, it } from "vitest";
import { countingCalls } from "../../test/helpers/counting.js";
import { conditionsOf } from "../controllers/podStatus.js";
import { ManualClock } from "../core/clock.js";
import { seededRng } from "../core/rng.js";
import { MemoryStore } from "../db/memoryStore.js";
import type { NewPod, PodRecord } from "../db/types.js";
import type { PodRuntimeSpec } from "../providers/types.js";
import { schedule } from "../scheduler/index.js";
import type { JobContext } from "./context.js";
import { waitingPodsKey } from "./keys.js";
import { demandOf, placedPods, scheduleJob } from "./schedulePod.js";

const MiB = 2 ** 20;

function pod(name: string, spec: Record<string, unknown>, labels: Record<string, string> = {}): NewPod {
  return {
    ...{ id: `pod_${name}`, tenantId: "ten_a", namespace: "default", name, uid: `uid-${name}` },
    ...{ ownerKind: null, ownerName: null, ownerUid: null, labels, annotations: {}, templateHash: null },
    ...{ spec: { containers: [{ name: "c", image: "i" }], ...spec }, cpuMillis: 100, memoryBytes: 128 * MiB },
    createdAt: 1_000,
  };
}

const keepAwayFromB = {
  affinity: {
    podAntiAffinity: {
      requiredDuringSchedulingIgnoredDuringExecution: [
        { labelSelector: { matchLabels: { app: "b" } }, topologyKey: "kubernetes.io/hostname" },
      ],
    },
  },
};

async function cluster() {
  const store = new MemoryStore();
  for (const name of ["n1", "n2"]) {
    await store.upsertNode(
      {
        ...{ name, provider: "simulated", address: "192.0.2.1", labels: { "kubernetes.io/hostname": name } },
        ...{ cpuMillis: 4_000, memoryBytes: 8 * 1024 * MiB, maxPods: 110, ready: true, unschedulable: false },
        lastHeartbeatAt: 0,
      },
      0,
    );
  }
  // On n1: a pod that keeps `app: b` away from its node, and two plain pods.
  for (const [p, node] of [
    [pod("guard", keepAwayFromB), "n1"],
    [pod("plain-1", {}, { app: "c" }), "n1"],
    [pod("plain-2", {}, { app: "c" }), "n2"],
  ] as const) {
    await store.createPod(p);
    await store.bindPod(p.id, node, 1_000);
  }
  return store;
}

/** A job context on `store` whose queue records what is enqueued, as "queue key", and starts as "start id". */
function recording(store: MemoryStore, seed: string) {
  const enqueued: string[] = [];
  const ctx = {
    store,
    queue: { enqueue: async (q: string, key: string) => void enqueued.push(`${q} ${key}`) },
    // A batch's starts, asked for by the job itself.
    provider: { startPod: async (spec: PodRuntimeSpec) => void enqueued.push(`start ${spec.podId}`) },
    clock: new ManualClock(),
    rng: seededRng(seed),
    schedulingPolicy: "spread",
    unschedulableRetryMs: 500,
  } as unknown as JobContext;
  return { ctx, enqueued };
}

describe("placed pods for scheduling", () => {
  it("leaves out, for a pod without pod affinity or spread, the placed pods that hold no affinity of their own", async () => {
    const store = await cluster();
    const newcomer = await store.createPod(pod("b", {}, { app: "b" }));
    const placed = await placedPods({ store }, "ten_a", demandOf(newcomer, undefined));
    expect(placed.map((p) => p.labels)).toEqual([{}]);
    // Symmetry still holds: the guard's anti-affinity keeps the newcomer off n1.
    const result = schedule(demandOf(newcomer, undefined), await store.listNodes(), { policy: "spread", placed });
    expect(result.ok && result.nodeName).toBe("n2");
  });

  it("keeps every placed pod for a pod with affinity or spread of its own, and when no pod is named", async () => {
    const store = await cluster();
    const spread = {
      topologySpreadConstraints: [
        {
          maxSkew: 1,
          topologyKey: "kubernetes.io/hostname",
          whenUnsatisfiable: "DoNotSchedule",
          labelSelector: { matchLabels: { app: "c" } },
        },
      ],
    };
    const spreading = await store.createPod(pod("c", spread, { app: "c" }));
    expect(await placedPods({ store }, "ten_a", demandOf(spreading, undefined))).toHaveLength(3);
    expect(await placedPods({ store }, "ten_a")).toHaveLength(3);
  });
});

describe("the schedule job", () => {
  it("places the tenant's other waiting pods on one look, binds them in one write, stops where none fits", async () => {
    const store = await cluster();
    for (let i = 0; i < 1_205; i++) {
      await store.createPod({ ...pod(`w-${String(i).padStart(4, "0")}`, {}), cpuMillis: 1, memoryBytes: MiB });
    }
    const calls: string[] = [];
    const counted = countingCalls(store, calls);
    const enqueued: string[] = [];
    const started: string[] = [];
    const ctx = {
      store: counted,
      queue: { enqueue: async (q: string, key: string) => void enqueued.push(`${q} ${key}`) },
      provider: {
        concurrentStarts: 50,
        startPod: async (spec: PodRuntimeSpec) => {
          // A start that fails: the pod gets a job of its own, which tries again.
          if (spec.name === "w-0100") throw new Error("the node process did not answer");
          started.push(spec.podId);
        },
      },
      clock: new ManualClock(),
      schedulingPolicy: "spread",
      log: () => {},
    } as unknown as JobContext;
    // n1 and n2 hold 110 pods each, three of them taken: 217 of the waiting pods find a place.
    expect(await scheduleJob(ctx, "pod_w-0000")).toBeUndefined();
    const bound = (await store.listPods({ tenantId: "ten_a" })).filter((p) => p.name.startsWith("w-") && p.nodeName);
    expect(bound).toHaveLength(217);
    // Two reads (the tenant's unbound pods, its pods holding affinity terms; none of these pods needs
    // every placed pod) and one write.
    expect(calls.filter((c) => c === "listPods" || c === "bindPods")).toEqual(["listPods", "listPods", "bindPods"]);
    for (const p of bound) {
      expect(conditionsOf(p.status)).toEqual([expect.objectContaining({ type: "PodScheduled", status: "True" })]);
    }
    // The batch's pods are started by the job itself, with no job each: a job for the job's own pod,
    // for the pod whose start failed, and for the first that found no place, which says why it waits
    // and hands on to the rest.
    const unplaced = (await store.listPods({ tenantId: "ten_a" })).filter(
      (p) => p.name.startsWith("w-") && !p.nodeName,
    );
    expect(unplaced[0]?.name).toBe("w-0217");
    const others = bound.filter((p) => p.name !== "w-0000" && p.name !== "w-0100");
    expect(started.sort()).toEqual(others.map((p) => p.id).sort());
    expect(enqueued.sort()).toEqual(["pod pod_w-0000", "pod pod_w-0100", `schedule ${unplaced[0]?.id}`].sort());
    // A bound pod's own job, once its provider reported it, asks for nothing more.
    const first = bound[0] as PodRecord;
    await store.updatePodStatus(first.id, { ...first, phase: "Running" }, { nowMs: 1 });
    enqueued.length = 0;
    expect(await scheduleJob(ctx, first.id)).toBeUndefined();
    expect(enqueued).toEqual([]);
  });

  it("finishes, with the other pods started, when a failed start's own job cannot be enqueued either", async () => {
    const store = await cluster();
    const ids: string[] = [];
    for (let i = 0; i < 20; i++) ids.push((await store.createPod(pod(`f-${String(i).padStart(2, "0")}`, {}))).id);
    const started: string[] = [];
    const logged: string[] = [];
    const ctx = {
      store,
      queue: {
        enqueue: async (q: string, key: string) => {
          if (q === "pod" && key === ids[3]) throw new Error("the queue is out of reach");
        },
      },
      provider: {
        concurrentStarts: 4,
        startPod: async (spec: PodRuntimeSpec) => {
          if (spec.name === "f-03") throw new Error("the node process did not answer");
          started.push(spec.name);
        },
      },
      clock: new ManualClock(),
      schedulingPolicy: "spread",
      log: (message: string) => void logged.push(message),
    } as unknown as JobContext;
    // Each lane carries on past the pod it could not hand on; the resync gives that pod a job.
    await expect(scheduleJob(ctx, ids[1] as string)).resolves.toBeUndefined();
    expect(started).toHaveLength(18);
    expect(started).not.toContain("f-03");
    expect(logged).toContain("a bound pod's job could not be enqueued; the resync gives it one");
  });

  it("lets the next placement go on while a batch's starts are under way, and ends once they are done", async () => {
    const store = await cluster();
    const burst: string[] = [];
    for (let i = 0; i < 10; i++) burst.push((await store.createPod(pod(`b-${i}`, {}))).id);
    const other = await store.createPod({ ...pod("other", {}), id: "pod_other", tenantId: "ten_b" });
    let release = () => {};
    const gate = new Promise<void>((resolve) => {
      release = resolve;
    });
    const started: string[] = [];
    const ctx = {
      store,
      queue: { enqueue: async () => {} },
      provider: {
        startPod: async (spec: PodRuntimeSpec) => {
          // The burst's starts take long (a Docker Engine creating containers); the other tenant's do not.
          if (spec.tenantId === "ten_a") await gate;
          started.push(spec.name);
        },
      },
      clock: new ManualClock(),
      schedulingPolicy: "spread",
      log: () => {},
    } as unknown as JobContext;
    let burstDone = false;
    const burstJob = scheduleJob(ctx, burst[0] as string).then(() => {
      burstDone = true;
    });
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect((await store.getPods(burst)).every((p) => p.nodeName !== null)).toBe(true);
    // Placed and bound while the burst's starts wait: the placement lock was let go after the bind.
    await scheduleJob(ctx, other.id);
    expect((await store.getPod(other.id))?.nodeName).not.toBeNull();
    expect(burstDone).toBe(false);
    release();
    await burstJob;
    expect(started.filter((name) => name.startsWith("b-"))).toHaveLength(9);
  });

  it("counts, for a batch's pod with affinity of its own, the pods the batch bound before it", async () => {
    const store = await cluster();
    const onN2 = { nodeSelector: { "kubernetes.io/hostname": "n2" } };
    for (const name of ["a-0", "a-1", "a-2"]) await store.createPod(pod(name, onN2, { app: "s" }));
    // Only the pods just bound, on n2, match its term: without them it has nowhere to go.
    const follower = {
      affinity: {
        podAffinity: {
          requiredDuringSchedulingIgnoredDuringExecution: [
            { labelSelector: { matchLabels: { app: "s" } }, topologyKey: "kubernetes.io/hostname" },
          ],
        },
      },
    };
    await store.createPod(pod("z", follower, { app: "other" }));
    const { ctx } = recording(store, "batch-affinity");
    await scheduleJob(ctx, "pod_a-0");
    const nodes = Object.fromEntries((await store.listPods({ tenantId: "ten_a" })).map((p) => [p.name, p.nodeName]));
    expect(nodes).toMatchObject({ "a-0": "n2", "a-1": "n2", "a-2": "n2", z: "n2" });
  });

  it("places one job at a time in a process: jobs run side by side find their pods bound by the first one's batch", async () => {
    const store = await cluster();
    const ids: string[] = [];
    for (let i = 0; i < 50; i++) ids.push((await store.createPod(pod(`s-${String(i).padStart(2, "0")}`, {}))).id);
    const calls: string[] = [];
    const ctx = {
      store: countingCalls(store, calls),
      queue: { enqueue: async () => {} },
      provider: { startPod: async () => {} },
      clock: new ManualClock(),
      schedulingPolicy: "spread",
    } as unknown as JobContext;
    await Promise.all(ids.map((id) => scheduleJob(ctx, id)));
    expect((await store.getPods(ids)).every((p) => p.nodeName !== null)).toBe(true);
    // One read of the cluster and one bind for all fifty.
    expect(calls.filter((c) => c === "listNodes" || c === "bindPods" || c === "bindPod")).toEqual([
      "listNodes",
      "bindPod",
      "bindPods",
    ]);
  });

  it("hands on, when its own pod finds no place, to the oldest pod never tried, and to no pod refused before", async () => {
    const store = await cluster();
    const huge = await store.createPod({ ...pod("huge", {}), cpuMillis: 64_000, createdAt: 1_000 });
    const refused = await store.createPod({ ...pod("refused", {}), createdAt: 1_001 });
    await store.updatePodStatus(
      refused.id,
      { phase: "Pending", ready: false, status: { conditions: [{ type: "PodScheduled", status: "False" }] } },
      { nowMs: 1 },
    );
    const next = await store.createPod({ ...pod("next", {}), createdAt: 1_002 });
    await store.createPod({ ...pod("later", {}), createdAt: 1_003 });
    const { ctx, enqueued } = recording(store, "hand-on");
    expect(await scheduleJob(ctx, huge.id)).toEqual({ requeueAfterMs: 500 });
    expect(enqueued).toEqual([`schedule ${next.id}`]);
    // The one handed on places itself and the pod after it together.
    enqueued.length = 0;
    expect(await scheduleJob(ctx, next.id)).toBeUndefined();
    const placed = (await store.listPods({ tenantId: "ten_a" })).filter((p) => p.nodeName !== null).map((p) => p.name);
    expect(placed).toEqual(expect.arrayContaining(["next", "later"]));
    expect(placed).not.toContain("refused");
  });

  it("hands on when its pod went before it was placed: the tenant's oldest never tried, or each tenant's", async () => {
    const store = await cluster();
    const lead = await store.createPod({ ...pod("lead", {}), createdAt: 1_000 });
    const second = await store.createPod({ ...pod("second", {}), createdAt: 1_001 });
    await store.createPod({ ...pod("third", {}), createdAt: 1_002 });
    const other = await store.createPod({ ...pod("other", {}), id: "pod_other", tenantId: "ten_b", createdAt: 5 });
    const { ctx, enqueued } = recording(store, "gone");
    // Being deleted: its tenant's oldest pod never tried takes over.
    await store.markPodDeleting(lead.id, 1);
    expect(await scheduleJob(ctx, lead.id)).toBeUndefined();
    expect(enqueued).toEqual([`schedule ${second.id}`]);
    // Gone altogether: its tenant is unknown, so each tenant's oldest takes over.
    enqueued.length = 0;
    await store.deletePod(lead.id);
    expect(await scheduleJob(ctx, lead.id)).toBeUndefined();
    expect(enqueued.sort()).toEqual([`schedule ${second.id}`, `schedule ${other.id}`].sort());
  });

  it("places a tenant's waiting pods by the tenant's job, which has no pod of its own, and starts them", async () => {
    const store = await cluster();
    const ids: string[] = [];
    for (let i = 0; i < 30; i++) ids.push((await store.createPod(pod(`t-${String(i).padStart(2, "0")}`, {}))).id);
    // A pod with a claim waits for its own job.
    const claimed = await store.createPod(
      pod("claimed", { volumes: [{ name: "d", persistentVolumeClaim: { claimName: "data" } }] }),
    );
    const { ctx, enqueued } = recording(store, "tenant-job");
    expect(await scheduleJob(ctx, waitingPodsKey("ten_a"))).toBeUndefined();
    expect((await store.getPods(ids)).every((p) => p.nodeName !== null)).toBe(true);
    expect((await store.getPod(claimed.id))?.nodeName).toBeNull();
    expect(enqueued.sort()).toEqual(ids.map((id) => `start ${id}`).sort());
    // Nothing left: a run asked for meanwhile finds nothing to do.
    enqueued.length = 0;
    expect(await scheduleJob(ctx, waitingPodsKey("ten_a"))).toBeUndefined();
    expect(enqueued).toEqual([]);
  });
});
