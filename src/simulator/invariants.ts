import type { NodeRecord, PodRecord, StoredObject } from "../db/types.js";
import type { ProviderNode } from "../providers/types.js";
import { formatDurationMs } from "./duration.js";
import { isLive, type NodeSums, type PodIndex, podIndexOf } from "./podIndex.js";
import { replicaSetsOf, type Snapshot } from "./snapshot.js";

/**
 * Always-true properties of the platform, checked after every event of a run
 * (TigerBeetle style): written apart from the fakes and from the production
 * rules they judge — no controller or scheduler code is imported here, so a bug
 * in a rule cannot hide itself by being shared with its checker. Each is a pure
 * function of a `Snapshot`; a checker reports, it never steers.
 */
export interface Violation {
  invariant: string;
  /** Virtual milliseconds since the start of the run. */
  atMs: number;
  message: string;
}

export interface Invariant {
  name: string;
  /** What must always hold, in one sentence, for reports. */
  rule: string;
  check(snapshot: Snapshot): string[];
  /**
   * An invariant that remembers between looks (a liveness property: "eventually") makes a
   * fresh copy of itself for each run; the others are pure functions of one snapshot.
   */
  forRun?: () => Invariant;
}

/** Whether any member of `set` passes `test` (without copying the set). */
function someOf<T>(set: ReadonlySet<T>, test: (member: T) => boolean): boolean {
  for (const member of set) if (test(member)) return true;
  return false;
}

const NOTHING_BOUND = { cpu: 0, memory: 0, pods: 0 };

/** A node's pods never ask for more than the node has: CPU, memory and pod slots. */
export const nodeCapacity: Invariant = {
  name: "node-capacity",
  rule: "no node is ever committed beyond its capacity (CPU, memory, pods)",
  check(s) {
    const index = podIndexOf(s);
    const last = lastCapacityLook;
    // The same nodes (store and provider) and the same sums bound to them: the same answer as at the last look.
    if (
      last?.index === index &&
      last.boundVersion === index.boundVersion &&
      sameItems(last.storeNodes, s.storeNodes) &&
      sameItems(last.providerNodes, s.providerNodes)
    ) {
      return [...last.problems];
    }
    // The provider's nodes by name: the last look's map while they are the same objects.
    const byName =
      last && sameItems(last.providerNodes, s.providerNodes)
        ? last.providerByName
        : new Map(s.providerNodes.map((n) => [n.name, n]));
    const problems = overCommitted(s.storeNodes, byName, index.boundByNode);
    const storeNodes = frozenCopy(s.storeNodes);
    const providerNodes = frozenCopy(s.providerNodes);
    lastCapacityLook =
      storeNodes && providerNodes
        ? { index, boundVersion: index.boundVersion, storeNodes, providerNodes, providerByName: byName, problems }
        : undefined;
    return problems;
  },
};

function overCommitted(
  storeNodes: readonly NodeRecord[],
  real: ReadonlyMap<string, ProviderNode>,
  bound: ReadonlyMap<string, NodeSums>,
): string[] {
  const problems: string[] = [];
  for (const node of storeNodes) {
    // The provider's figures are the truth; the store's are what the platform believes.
    const capacity = real.get(node.name) ?? node;
    const sum = bound.get(node.name) ?? NOTHING_BOUND;
    const within =
      sum.cpu <= capacity.cpuMillis &&
      sum.memory <= capacity.memoryBytes &&
      sum.pods <= capacity.maxPods &&
      node.allocatedCpuMillis <= capacity.cpuMillis &&
      node.allocatedMemoryBytes <= capacity.memoryBytes;
    if (within) continue;
    const over = [
      sum.cpu > capacity.cpuMillis ? `${sum.cpu}m CPU requested of ${capacity.cpuMillis}m` : "",
      sum.memory > capacity.memoryBytes ? `${sum.memory} bytes requested of ${capacity.memoryBytes}` : "",
      sum.pods > capacity.maxPods ? `${sum.pods} pods of at most ${capacity.maxPods}` : "",
      node.allocatedCpuMillis > capacity.cpuMillis ? `${node.allocatedCpuMillis}m CPU allocated` : "",
      node.allocatedMemoryBytes > capacity.memoryBytes ? `${node.allocatedMemoryBytes} bytes allocated` : "",
    ].filter(Boolean);
    if (over.length > 0) problems.push(`node ${node.name} is over-committed: ${over.join("; ")}`);
  }
  return problems;
}

/**
 * The last look's answer of `node-capacity`, with what it was made of. The store and the provider
 * hand out a node unchanged until it changes (frozen, replaced on change), and the index counts
 * every change of the sums bound to nodes, so identities and that count tell an unchanged look.
 */
let lastCapacityLook:
  | {
      index: PodIndex;
      boundVersion: number;
      storeNodes: readonly NodeRecord[];
      providerNodes: readonly ProviderNode[];
      providerByName: ReadonlyMap<string, ProviderNode>;
      problems: string[];
    }
  | undefined;

/** A copy of the list, kept to be compared with a later one: only when every item is frozen (it stays as it is). */
function frozenCopy<T extends object>(list: readonly T[]): readonly T[] | undefined {
  return list.every((item) => Object.isFrozen(item)) ? [...list] : undefined;
}

/** Whether two lists hold the very same objects, in the same order. */
function sameItems(a: readonly object[], b: readonly object[]): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** One StatefulSet ordinal never runs twice: not on two nodes, not as two pods. */
export const uniqueOrdinals: Invariant = {
  name: "statefulset-ordinal",
  rule: "never two live pods for one StatefulSet ordinal (store and provider together)",
  check(s) {
    const problems: string[] = [];
    for (const sts of s.statefulSets) {
      const ordinal = new RegExp(`^${escapeRegExp(sts.name)}-(\\d+)$`);
      const instances = new Map<string, Set<string>>();
      const add = (name: string, id: string) => instances.set(name, (instances.get(name) ?? new Set()).add(id));
      for (const pod of s.running) {
        if (pod.tenantId === sts.tenantId && pod.namespace === sts.namespace && ordinal.test(pod.name)) {
          add(pod.name, pod.podId);
        }
      }
      for (const pod of s.pods) {
        if (pod.ownerUid === sts.uid && isLive(pod) && pod.phase !== "Unknown" && pod.nodeName !== null) {
          add(pod.name, pod.id);
        }
      }
      for (const [name, ids] of instances) {
        if (ids.size > 1)
          problems.push(
            `StatefulSet ${sts.namespace}/${sts.name}: ordinal ${name} is live ${ids.size} times (pods ${[...ids].sort().join(", ")})`,
          );
      }
    }
    return problems;
  },
};

/** A node the provider has crashed runs nothing, so nothing on it may count as Ready. */
export const noReadyOnCrashedNode: Invariant = {
  name: "ready-on-crashed-node",
  rule: "no pod counts as Ready on a node that has crashed",
  check(s) {
    const readyByNode = podIndexOf(s).readyByNode;
    if (!someOf(s.crashedNodes, (node) => readyByNode.has(node))) return [];
    return s.pods
      .filter((p) => p.ready && p.nodeName !== null && s.crashedNodes.has(p.nodeName))
      .map((p) => `pod ${p.namespace}/${p.name} is Ready on crashed node ${p.nodeName}`);
  },
};

/**
 * A node the platform has marked NotReady is one it cannot vouch for: its pods
 * no longer count as Ready (Kubernetes' node lifecycle controller marks them
 * NotReady at once, whether or not it evicts them), so no Service sends traffic
 * to a pod nobody can see.
 */
export const noReadyOnNotReadyNode: Invariant = {
  name: "ready-on-notready-node",
  rule: "no pod counts as Ready on a node the platform has marked NotReady",
  check(s) {
    const readyByNode = podIndexOf(s).readyByNode;
    const judged = (n: NodeRecord) => !n.ready && readyByNode.has(n.name) && !s.crashedNodes.has(n.name);
    if (!s.storeNodes.some(judged)) return [];
    const notReady = new Set(s.storeNodes.filter((n) => !n.ready).map((n) => n.name));
    return s.pods
      .filter((p) => p.ready && p.nodeName !== null && notReady.has(p.nodeName) && !s.crashedNodes.has(p.nodeName))
      .map((p) => `pod ${p.namespace}/${p.name} is Ready on NotReady node ${p.nodeName}`);
  },
};

/**
 * A rolling update never runs more than `replicas + maxSurge` live pods (a
 * Recreate never runs two templates at once). Judged only while a rollout is
 * under way — two or more ReplicaSets with live pods — as Kubernetes bounds it.
 */
export const rolloutSurge: Invariant = {
  name: "rollout-surge",
  rule: "a Deployment rollout never exceeds replicas + maxSurge live pods",
  check(s) {
    const problems: string[] = [];
    const liveByOwner = podIndexOf(s).liveByOwner;
    for (const dep of s.deployments) {
      const sets = replicaSetsOf(s, dep.uid);
      const livePerSet = sets.map((rs) => liveByOwner.get(rs.uid) ?? 0);
      if (livePerSet.filter((n) => n > 0).length < 2) continue;
      const live = livePerSet.reduce((a, b) => a + b, 0);
      const { replicas, maxSurge, recreate } = surgeBound(dep);
      if (recreate) {
        problems.push(
          `Deployment ${dep.namespace}/${dep.name} (Recreate) runs pods of ${livePerSet.filter((n) => n > 0).length} templates at once`,
        );
      } else if (live > replicas + maxSurge) {
        problems.push(
          `Deployment ${dep.namespace}/${dep.name} runs ${live} live pods mid-rollout; replicas ${replicas} + maxSurge ${maxSurge} allow ${replicas + maxSurge}`,
        );
      }
    }
    return problems;
  },
};

/**
 * Liveness: every acknowledged object is eventually reconciled, once faults stop.
 *
 * The faults stop at a moment read from the scenario alone (see `liveness.ts`: a crash, an
 * apply, a scale or a drain when it happens, a partition when it heals, …; a partition or a
 * crash loop without `for:` never stops, and then this is never judged). From then on, within
 * the quiet period (`quiet:`, 2 minutes unless the scenario says), every Deployment,
 * StatefulSet and ReplicaSet no Deployment owns must be seen reconciled at some look, where
 * reconciled means:
 *
 * 1. its controller has acted on its latest spec: `status.observedGeneration` equals
 *    `generation` (a Deployment's ReplicaSets, old and new, included);
 * 2. it has exactly `spec.replicas` live pods (not deleting, not Failed or Succeeded), a
 *    Deployment's all of one ReplicaSet (no rollout left half-done) — unless one of them waits
 *    for capacity (below): short of room, a rollout may hold its surge pod and an ordered
 *    StatefulSet the ordinals after the one that waits;
 * 3. each of those pods is Ready, or waits unbound because no node has room for it
 *    (`PodScheduled` False, reason Unschedulable: "where capacity allows"), or runs an image
 *    the scenario makes fail on purpose (`images:` with a crash or a failing probe), which
 *    tests the application rather than the platform.
 *
 * Judged at the first look once the quiet period is over — the run looks at that instant even
 * when nothing was written, since a workload nobody reconciles is one nothing writes — against
 * the looks since the faults stopped. "Eventually" is that one moment: a workload reconciled
 * once and later disturbed by the platform's own voluntary moves (the autoscaler consolidating
 * nodes) is not held to the transient. It remembers which workloads it saw reconciled, so
 * each run checks with a fresh copy (`forRun`).
 *
 * What it cannot see: a pod left Unschedulable while some node could take it (that needs the
 * scheduler's rules, which a checker must not share), and DaemonSets (not judged here).
 */
const LIVENESS_NAME = "eventually-reconciled";
const LIVENESS_RULE =
  "once faults stop, every workload is reconciled within the quiet period: latest generation observed, its replicas live and Ready where capacity allows";

export const eventuallyReconciled: Invariant = {
  name: LIVENESS_NAME,
  rule: LIVENESS_RULE,
  // Asked of one snapshot alone, it judges that snapshot as if it were the only look.
  check: (s) => livenessChecker().check(s),
  forRun: livenessChecker,
};

function livenessChecker(): Invariant {
  const seen = new Set<string>();
  let judged = false;
  return {
    name: LIVENESS_NAME,
    rule: LIVENESS_RULE,
    check(s) {
      const { fromMs, stoppedMs } = s.liveness;
      if (fromMs === null || stoppedMs === null || s.atMs < stoppedMs || judged) return [];
      const now = unreconciled(s);
      const problems: string[] = [];
      for (const [workload, why] of now) {
        if (seen.has(workload.uid) || s.atMs < fromMs) continue;
        problems.push(
          `${workload.kind} ${workload.namespace}/${workload.name} was not reconciled at any moment in the ${formatDurationMs(fromMs - stoppedMs)} after the faults stopped (at ${formatDurationMs(stoppedMs)}); at ${formatDurationMs(s.atMs)}: ${why.join("; ")}`,
        );
      }
      const behind = new Set(now.map(([w]) => w.uid));
      for (const w of [...s.deployments, ...s.statefulSets, ...s.replicaSets]) if (!behind.has(w.uid)) seen.add(w.uid);
      judged = s.atMs >= fromMs;
      return problems;
    },
  };
}

/** The workloads not reconciled in this snapshot, each with why. */
function unreconciled(s: Snapshot): [StoredObject, string[]][] {
  const podsByOwner = new Map<string, PodRecord[]>();
  for (const pod of s.pods) {
    if (pod.ownerUid === null || !isLive(pod)) continue;
    const owned = podsByOwner.get(pod.ownerUid);
    if (owned) owned.push(pod);
    else podsByOwner.set(pod.ownerUid, [pod]);
  }
  const out: [StoredObject, string[]][] = [];
  const judge = (workload: StoredObject, owned: readonly StoredObject[], podsPerOwner: PodRecord[][]) => {
    const pods = podsPerOwner.flat();
    const why = [
      ...[workload, ...owned].flatMap(unobservedGeneration),
      ...podShortfall(workload, pods, s.liveness.failingImages),
    ];
    const sets = podsPerOwner.filter((p) => p.length > 0).length;
    if (sets > 1 && !pods.some(waitsForCapacity)) why.push(`live pods of ${sets} ReplicaSets: a rollout not finished`);
    if (why.length > 0) out.push([workload, why]);
  };
  for (const dep of s.deployments) {
    const sets = replicaSetsOf(s, dep.uid);
    judge(
      dep,
      sets,
      sets.map((rs) => podsByOwner.get(rs.uid) ?? []),
    );
  }
  for (const sts of s.statefulSets) judge(sts, [], [podsByOwner.get(sts.uid) ?? []]);
  for (const rs of s.replicaSets) if (rs.ownerUid === null) judge(rs, [], [podsByOwner.get(rs.uid) ?? []]);
  return out;
}

export const INVARIANTS: readonly Invariant[] = [
  nodeCapacity,
  uniqueOrdinals,
  noReadyOnCrashedNode,
  noReadyOnNotReadyNode,
  rolloutSurge,
  eventuallyReconciled,
];

export function checkInvariants(snapshot: Snapshot, invariants: readonly Invariant[] = INVARIANTS): Violation[] {
  return invariants.flatMap((inv) =>
    inv.check(snapshot).map((message) => ({ invariant: inv.name, atMs: snapshot.atMs, message })),
  );
}

/** maxSurge as Kubernetes resolves it: an int, or a percentage of replicas rounded up; 25% when unset. */
function surgeBound(dep: StoredObject): { replicas: number; maxSurge: number; recreate: boolean } {
  const spec = dep.spec as {
    replicas?: number;
    strategy?: { type?: string; rollingUpdate?: { maxSurge?: number | string } };
  };
  const replicas = spec.replicas ?? 1;
  const recreate = spec.strategy?.type === "Recreate";
  const surge = spec.strategy?.rollingUpdate?.maxSurge ?? "25%";
  const maxSurge = typeof surge === "number" ? surge : Math.ceil((Number.parseFloat(surge) * replicas) / 100);
  return { replicas, maxSurge: Number.isFinite(maxSurge) ? maxSurge : 0, recreate };
}

function unobservedGeneration(object: StoredObject): string[] {
  const observed = (object.status as { observedGeneration?: number } | null)?.observedGeneration ?? 0;
  if (observed === object.generation) return [];
  const what = object.kind === "Deployment" || object.kind === "StatefulSet" ? "" : ` of ${object.kind} ${object.name}`;
  return [`generation ${object.generation}${what} observed as ${observed}`];
}

/** Why the live pods fall short of the desired ones: wrong count, or pods neither Ready nor excused. */
function podShortfall(workload: StoredObject, pods: PodRecord[], failingImages: ReadonlySet<string>): string[] {
  const replicas = (workload.spec as { replicas?: number }).replicas ?? 1;
  const why: string[] = [];
  // Short of room, a rollout may hold its surge pod and an ordered StatefulSet the ordinals after the waiting one.
  const capacityBound = pods.some(waitsForCapacity);
  if (pods.length !== replicas && !capacityBound) why.push(`${pods.length} live pods for ${replicas} replicas`);
  const stuck = pods.filter((p) => !p.ready && !waitsForCapacity(p) && !runsFailingImage(p, failingImages));
  if (stuck.length > 0) {
    const names = stuck
      .map((p) => `${p.name} (${p.phase}${p.nodeName === null ? ", unbound" : ""})`)
      .sort()
      .slice(0, 5);
    why.push(`${stuck.length} pod(s) neither Ready nor waiting for capacity: ${names.join(", ")}`);
  }
  return why;
}

/** Unbound because the scheduler found no room: the one reason a desired pod may stay not Ready. */
function waitsForCapacity(pod: PodRecord): boolean {
  if (pod.nodeName !== null) return false;
  const conditions = (pod.status as { conditions?: { type: string; status: string; reason?: string }[] } | null)
    ?.conditions;
  return (conditions ?? []).some(
    (c) => c.type === "PodScheduled" && c.status === "False" && c.reason === "Unschedulable",
  );
}

/** An image the scenario names, by exact reference, by repository (no tag or digest), or `*`. */
function runsFailingImage(pod: PodRecord, failingImages: ReadonlySet<string>): boolean {
  if (failingImages.size === 0) return false;
  const containers = (pod.spec.containers as { image?: string }[] | undefined) ?? [];
  return containers.some(({ image = "" }) => {
    const repository = image.replace(/@.*$/, "").replace(/:[^/:]*$/, "");
    return failingImages.has(image) || failingImages.has(repository) || failingImages.has("*");
  });
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}
