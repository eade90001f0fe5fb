import { describe, expect, it } from "vitest";
import { schedule } from "../scheduler/index.js";
import type { PodDemand } from "../scheduler/types.js";
import {
  type AutoscaledNode,
  type AutoscalerInput,
  type AutoscalerMemory,
  type AutoscalerSettings,
  type BoundPod,
  DEFAULT_AUTOSCALER_SETTINGS,
  EMPTY_AUTOSCALER_MEMORY,
  type PendingPod,
  planAutoscaling,
  type ScalingPool,
} from "./nodeAutoscaler.js";

const GiB = 2 ** 30;
const POOL = "kubernease.dev/pool";
const ZONE = "topology.kubernetes.io/zone";
const NOW = 1_000_000;
const UNNEEDED_MS = 1_000;
const COOLDOWN_MS = 500;

function pool(name: string, over: Partial<ScalingPool> = {}): ScalingPool {
  return {
    name,
    cpuMillis: 2000,
    memoryBytes: 4 * GiB,
    maxPods: 110,
    labels: { [ZONE]: "zone-a", [POOL]: name },
    min: 1,
    max: 5,
    ...over,
  };
}

function demand(id: string, cpuMillis: number, over: Partial<PodDemand> = {}): PodDemand {
  return { id, namespace: "default", labels: { app: "web" }, cpuMillis, memoryBytes: 64 * 2 ** 20, ...over };
}

const pending = (id: string, cpuMillis: number, over: Partial<PodDemand> = {}): PendingPod => ({
  tenantId: "acme",
  demand: demand(id, cpuMillis, over),
});

const bound = (id: string, cpuMillis: number, over: Partial<BoundPod> = {}): BoundPod => ({
  tenantId: "acme",
  demand: demand(id, cpuMillis),
  replaceable: true,
  ...over,
});

/** A node of a pool (2 CPU, 4 GiB) holding the pods given, its allocation summed from them. */
function node(name: string, poolName: string | undefined, pods: BoundPod[] = [], over: Partial<AutoscaledNode> = {}) {
  const sum = (f: (p: BoundPod) => number) => pods.reduce((n, p) => n + f(p), 0);
  return {
    name,
    ...(poolName ? { pool: poolName } : {}),
    labels: { "kubernetes.io/hostname": name, [ZONE]: "zone-a", ...(poolName ? { [POOL]: poolName } : {}) },
    cpuMillis: 2000,
    memoryBytes: 4 * GiB,
    maxPods: 110,
    allocatedCpuMillis: sum((p) => p.demand.cpuMillis),
    allocatedMemoryBytes: sum((p) => p.demand.memoryBytes),
    allocatedPods: pods.length,
    ready: true,
    unschedulable: false,
    pods,
    daemons: { cpuMillis: 0, memoryBytes: 0, pods: 0 },
    terminatingPods: 0,
    ...over,
  } satisfies AutoscaledNode;
}

type InputOver = Partial<Omit<AutoscalerInput, "memory" | "settings">> & {
  memory?: Partial<AutoscalerMemory>;
  settings?: Partial<AutoscalerSettings>;
};

function input(over: InputOver = {}): AutoscalerInput {
  return {
    nodes: [],
    pending: [],
    pools: [pool("default")],
    nowMs: NOW,
    ...over,
    memory: { ...EMPTY_AUTOSCALER_MEMORY, ...over.memory },
    settings: {
      ...DEFAULT_AUTOSCALER_SETTINGS,
      maxNodes: 10,
      scaleUpCooldownMs: COOLDOWN_MS,
      scaleDownUnneededMs: UNNEEDED_MS,
      ...over.settings,
    },
  };
}

const plan = (i: AutoscalerInput) => planAutoscaling(i, schedule);
const full = (name: string, poolName = "default") => node(name, poolName, [bound(`${name}-pod`, 2000)]);

describe("node autoscaler: scale-up", () => {
  it("adds as few nodes as the pending pods need, packed first-fit, and remembers when", () => {
    const pods = ["a", "b", "c", "d", "e"].map((id) => pending(id, 700));
    const out = plan(input({ nodes: [full("n1")], pending: pods }));
    // Two 700m pods fit a 2 CPU node: five need three.
    expect(out.add).toEqual([{ pool: "default", count: 3 }]);
    expect(out.scaleUpFor.sort()).toEqual(["a", "b", "c", "d", "e"]);
    expect(out.memory.lastScaleUpMs).toBe(NOW);
    expect(out.drain).toEqual([]);
  });

  it("picks the smallest pool whose shape takes the pod, and the pool a node selector names", () => {
    const pools = [pool("big", { cpuMillis: 8000 }), pool("small"), pool("gpu", { cpuMillis: 4000 })];
    const one = (p: PendingPod) => plan(input({ pools, pending: [p] })).add;
    expect(one(pending("fits-small", 500))).toEqual([{ pool: "small", count: 1 }]);
    expect(one(pending("needs-big", 6000))).toEqual([{ pool: "big", count: 1 }]);
    expect(one(pending("wants-gpu", 100, { nodeSelector: { [POOL]: "gpu" } }))).toEqual([{ pool: "gpu", count: 1 }]);
    // Packed together: the small pod shares the big node rather than opening one of its own.
    const together = plan(input({ pools, pending: [pending("fits-small", 500), pending("needs-big", 6000)] }));
    expect(together.add).toEqual([{ pool: "big", count: 1 }]);
  });

  it("respects required node affinity against the pool's labels", () => {
    const pools = [pool("small"), pool("eu", { cpuMillis: 4000, labels: { [ZONE]: "eu-1", [POOL]: "eu" } })];
    const affinity = {
      nodeAffinity: {
        requiredDuringSchedulingIgnoredDuringExecution: {
          nodeSelectorTerms: [{ matchExpressions: [{ key: ZONE, operator: "In" as const, values: ["eu-1"] }] }],
        },
      },
    };
    const out = plan(input({ pools, pending: [pending("p", 100, { affinity })] }));
    expect(out.add).toEqual([{ pool: "eu", count: 1 }]);
  });

  it("opens one node per replica when their anti-affinity keeps them apart, whatever would fit together", () => {
    const affinity = {
      podAntiAffinity: {
        requiredDuringSchedulingIgnoredDuringExecution: [
          { labelSelector: { matchLabels: { app: "web" } }, topologyKey: "kubernetes.io/hostname" },
        ],
      },
    };
    const pods = ["a", "b", "c"].map((id) => pending(id, 100, { affinity }));
    const out = plan(input({ nodes: [node("n1", "default", [bound("placed", 100)])], pending: pods }));
    expect(out.add).toEqual([{ pool: "default", count: 3 }]);
  });

  it("never goes above a pool's max nor maxNodes, and says so", () => {
    const pods = ["a", "b", "c", "d", "e", "f"].map((id) => pending(id, 1000));
    const byPool = plan(input({ nodes: [full("n1")], pending: pods, pools: [pool("default", { max: 3 })] }));
    expect(byPool.add).toEqual([{ pool: "default", count: 2 }]);
    expect(byPool.reasons.join("\n")).toMatch(/at their max/);
    const byTotal = plan(
      input({ nodes: [full("n1"), full("other", undefined)], pending: pods, settings: { maxNodes: 3 } }),
    );
    expect(byTotal.add).toEqual([{ pool: "default", count: 1 }]);
    const atMax = plan(input({ nodes: [full("n1"), full("n2")], pending: pods, pools: [pool("default", { max: 2 })] }));
    expect(atMax.add).toEqual([]);
  });

  it("scales up once per cool-down", () => {
    const one = { nodes: [full("n1")], pending: [pending("a", 500)] };
    const cooling = plan(input({ ...one, memory: { lastScaleUpMs: NOW - COOLDOWN_MS + 1 } }));
    expect(cooling.add).toEqual([]);
    expect(cooling.memory.lastScaleUpMs).toBe(NOW - COOLDOWN_MS + 1);
    const after = plan(input({ ...one, memory: { lastScaleUpMs: NOW - COOLDOWN_MS } }));
    expect(after.add).toEqual([{ pool: "default", count: 1 }]);
  });

  it("adds nothing for pods too big for every pool's shape, nor for pods an existing node takes", () => {
    const tooBig = plan(input({ nodes: [full("n1")], pending: [pending("huge", 3000)] }));
    expect(tooBig.add).toEqual([]);
    expect(tooBig.reasons.join("\n")).toMatch(/fit no pool's node shape/);
    const fits = plan(input({ nodes: [node("n1", "default")], pending: [pending("a", 500)] }));
    expect(fits.add).toEqual([]);
  });

  it("counts the daemons a new node would run: a pod that only fits without them opens nothing", () => {
    const daemons = { cpuMillis: 500, memoryBytes: 0, pods: 1 };
    const withDaemons = node("n1", "default", [bound("x", 1500)], { daemons, allocatedCpuMillis: 2000 });
    const out = plan(input({ nodes: [withDaemons], pending: [pending("a", 1800)] }));
    expect(out.add).toEqual([]);
  });
});

describe("node autoscaler: scale-down", () => {
  const idlePair = () => [node("n1", "default", [bound("p1", 500)]), node("n2", "default", [bound("p2", 500)])];

  it("drains one idle node whose pods fit elsewhere, only after it has been unneeded long enough", () => {
    const first = plan(input({ nodes: idlePair() }));
    expect(first.drain).toEqual([]);
    expect(first.memory.unneededSinceMs).toEqual({ n1: NOW, n2: NOW });
    const early = plan(input({ nodes: idlePair(), nowMs: NOW + UNNEEDED_MS - 1, memory: first.memory }));
    expect(early.drain).toEqual([]);
    const due = plan(input({ nodes: idlePair(), nowMs: NOW + UNNEEDED_MS, memory: first.memory }));
    expect(due.drain).toEqual(["n1"]);
    expect(due.memory.drainingSinceMs).toEqual({ n1: NOW + UNNEEDED_MS });
  });

  it("drains one node at a time, evicts again until it is empty, then removes it", () => {
    const memory = { unneededSinceMs: { n2: NOW - UNNEEDED_MS }, drainingSinceMs: { n1: NOW - 10 } };
    const [n1, n2] = idlePair() as [AutoscaledNode, AutoscaledNode];
    const cordoned = { ...n1, unschedulable: true };
    const still = plan(input({ nodes: [cordoned, n2], memory }));
    expect(still.drain).toEqual(["n1"]);
    expect(still.remove).toEqual([]);
    const terminating = { ...cordoned, pods: [], terminatingPods: 1 };
    expect(plan(input({ nodes: [terminating, n2], memory })).remove).toEqual([]);
    const empty = { ...cordoned, pods: [], allocatedCpuMillis: 0, allocatedPods: 0 };
    const done = plan(input({ nodes: [empty, n2], memory }));
    expect(done.remove).toEqual(["n1"]);
    expect(done.drain).toEqual([]);
    const gone = plan(input({ nodes: [n2], memory: done.memory }));
    expect(gone.memory.drainingSinceMs).toEqual({});
  });

  it("never goes below the pool's min", () => {
    const memory = { unneededSinceMs: { n1: NOW - UNNEEDED_MS, n2: NOW - UNNEEDED_MS } };
    const out = plan(input({ nodes: idlePair(), memory, pools: [pool("default", { min: 2 })] }));
    expect(out.drain).toEqual([]);
    expect(Object.keys(out.memory.unneededSinceMs)).toEqual(["n1", "n2"]);
  });

  it("keeps a node whose pods fit nowhere else, a busy node, a bare pod's node and nodes outside scaling pools", () => {
    const memory = { unneededSinceMs: { n1: 0, n2: 0, n3: 0 } };
    const busy = node("n1", "default", [bound("big", 1500)]);
    const small = node("n2", "default", [bound("small", 700)]);
    // n2's pod fits nowhere else (1500 + 700 > 2000); n1 is above half its CPU.
    const neither = plan(input({ nodes: [busy, small], memory }));
    expect(neither.drain).toEqual([]);
    expect(neither.memory.unneededSinceMs).toEqual({});
    const bare = node("n2", "default", [bound("bare", 100, { replaceable: false })]);
    const withBare = plan(input({ nodes: [node("n1", "default"), bare], memory }));
    expect(withBare.memory.unneededSinceMs).not.toHaveProperty("n2");
    expect(withBare.drain).toEqual(["n1"]);
    const unmanaged = [node("n1", undefined), node("n2", undefined), node("n3", "default")];
    const managed = plan(input({ nodes: unmanaged, memory, pools: [pool("default", { min: 0 })] }));
    expect(managed.drain).toEqual(["n3"]);
    expect(Object.keys(managed.memory.unneededSinceMs)).toEqual([]);
  });

  it("keeps a node whose pod must stay there (pinned, or its local volume)", () => {
    const pinned = bound("pinned", 100);
    pinned.demand.requiredNodes = [{ node: "n2", why: "volume" }];
    const memory = { unneededSinceMs: { n2: 0 } };
    const out = plan(input({ nodes: [node("n1", "default"), node("n2", "default", [pinned])], memory }));
    expect(out.drain).toEqual([]);
    expect(out.memory.unneededSinceMs).toEqual({ n1: NOW });
  });

  it("keeps an empty node that still holds a local volume (a claim kept after a scale-down)", () => {
    const memory = { unneededSinceMs: { n1: 0, n2: 0 } };
    const holding = { ...node("n2", "default"), localVolumes: 1 };
    const out = plan(input({ nodes: [node("n1", "default", [bound("a", 100)]), holding], memory }));
    expect(out.drain).toEqual(["n1"]);
    expect(out.memory.unneededSinceMs).not.toHaveProperty("n2");
  });

  it("holds back while pods wait for room or a scale-up is fresh, and forgets the unneeded timers", () => {
    const memory = { unneededSinceMs: { n1: 0, n2: 0 } };
    const atMax = [pool("default", { max: 2 })];
    const waiting = plan(input({ nodes: idlePair(), pools: atMax, memory, pending: [pending("w", 1800)] }));
    expect(waiting.add).toEqual([]);
    expect(waiting.drain).toEqual([]);
    expect(waiting.memory.unneededSinceMs).toEqual({});
    const fresh = plan(input({ nodes: idlePair(), memory: { ...memory, lastScaleUpMs: NOW - 1 } }));
    expect(fresh.drain).toEqual([]);
    // A pod no pool could ever take does not keep idle nodes forever.
    const hopeless = plan(input({ nodes: idlePair(), memory, pending: [pending("huge", 5000)] }));
    expect(hopeless.drain).toEqual(["n1"]);
  });

  it("leaves an operator's cordon alone: never drained, uncordoned or removed by the autoscaler", () => {
    const cordoned = node("n1", "default", [], { unschedulable: true });
    const memory = { unneededSinceMs: { n1: 0, n2: 0, n3: 0 } };
    const out = plan(input({ nodes: [cordoned, node("n2", "default"), node("n3", "default")], memory }));
    expect(out.drain).toEqual(["n2"]);
    expect(out.remove).toEqual([]);
    expect(out.uncordon).toEqual([]);
    expect(out.memory.unneededSinceMs).not.toHaveProperty("n1");
  });

  it("forgets a drain the operator undid, gives up a drain that takes too long, and gives the node back when pods need room", () => {
    const [n1, n2] = idlePair() as [AutoscaledNode, AutoscaledNode];
    const memory = { drainingSinceMs: { n1: NOW - 10 } };
    const uncordoned = plan(input({ nodes: [n1, n2], memory }));
    expect(uncordoned.memory.drainingSinceMs).toEqual({});
    expect(uncordoned.uncordon).toEqual([]);
    const cordoned = { ...n1, unschedulable: true };
    const late = { drainingSinceMs: { n1: NOW - DEFAULT_AUTOSCALER_SETTINGS.drainTimeoutMs } };
    const timedOut = plan(input({ nodes: [cordoned, n2], memory: late }));
    expect(timedOut.uncordon).toEqual(["n1"]);
    expect(timedOut.memory.drainingSinceMs).toEqual({});
    const needRoom = plan(input({ nodes: [cordoned, n2], memory, pending: [pending("w", 1800)] }));
    expect(needRoom.uncordon).toEqual(["n1"]);
    expect(needRoom.add).toEqual([]);
    expect(needRoom.drain).toEqual([]);
  });
});
