import type { PodRecord, StoredObject } from "../db/types.js";
import type { Snapshot } from "./snapshot.js";

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
}

/** A live pod: not on its way out and not finished. */
const isLive = (pod: PodRecord) =>
  pod.deletionRequestedAt === null && pod.phase !== "Failed" && pod.phase !== "Succeeded";

/** A node's pods never ask for more than the node has: CPU, memory and pod slots. */
export const nodeCapacity: Invariant = {
  name: "node-capacity",
  rule: "no node is ever committed beyond its capacity (CPU, memory, pods)",
  check(s) {
    const problems: string[] = [];
    const real = new Map(s.providerNodes.map((n) => [n.name, n]));
    const bound = new Map<string, { cpu: number; memory: number; pods: number }>();
    for (const pod of s.pods) {
      if (pod.nodeName === null) continue;
      const sum = bound.get(pod.nodeName) ?? { cpu: 0, memory: 0, pods: 0 };
      sum.cpu += pod.cpuMillis;
      sum.memory += pod.memoryBytes;
      sum.pods += 1;
      bound.set(pod.nodeName, sum);
    }
    for (const node of s.storeNodes) {
      // The provider's figures are the truth; the store's are what the platform believes.
      const capacity = real.get(node.name) ?? node;
      const sum = bound.get(node.name) ?? { cpu: 0, memory: 0, pods: 0 };
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
  },
};

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
    const liveByOwner = new Map<string, number>();
    for (const pod of s.pods) {
      if (pod.ownerUid !== null && isLive(pod)) liveByOwner.set(pod.ownerUid, (liveByOwner.get(pod.ownerUid) ?? 0) + 1);
    }
    for (const dep of s.deployments) {
      const sets = s.replicaSets.filter((rs) => rs.ownerUid === dep.uid);
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

export const INVARIANTS: readonly Invariant[] = [
  nodeCapacity,
  uniqueOrdinals,
  noReadyOnCrashedNode,
  noReadyOnNotReadyNode,
  rolloutSurge,
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

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}
