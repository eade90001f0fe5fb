import { describe, expect, it } from "vitest";
import type { PodRecord, StoredObject } from "../../src/db/types.js";
import { eventuallyReconciled } from "../../src/simulator/invariants.js";
import type { LivenessTerms, Snapshot } from "../../src/simulator/snapshot.js";

/**
 * The liveness invariant on plain snapshots, as a checker sees them: no fake, no run. Faults
 * stop at 60 s and the quiet period ends at 120 s in every case here.
 */
const TERMS: LivenessTerms = { stoppedMs: 60_000, fromMs: 120_000, failingImages: new Set(["bad:1"]) };

function object(kind: string, name: string, extra: Partial<StoredObject> = {}): StoredObject {
  return {
    id: `id-${name}`,
    uid: `uid-${name}`,
    tenantId: "t",
    kind,
    namespace: "default",
    name,
    apiVersion: "apps/v1",
    generation: 1,
    resourceVersion: "1",
    labels: {},
    annotations: {},
    spec: { replicas: 2 },
    status: { observedGeneration: 1 },
    ownerKind: null,
    ownerName: null,
    ownerUid: null,
    createdAt: 0,
    updatedAt: 0,
    ...extra,
  };
}

function pod(name: string, owner: string, extra: Partial<PodRecord> = {}): PodRecord {
  return {
    id: `pod-${name}`,
    tenantId: "t",
    namespace: "default",
    name,
    uid: `u-${name}`,
    ownerKind: "ReplicaSet",
    ownerName: owner,
    ownerUid: `uid-${owner}`,
    labels: {},
    annotations: {},
    templateHash: null,
    spec: { containers: [{ name: "web", image: "web:1" }] },
    cpuMillis: 100,
    memoryBytes: 1,
    nodeName: "n1",
    phase: "Running",
    ready: true,
    status: {},
    deletionRequestedAt: null,
    resourceVersion: "1",
    createdAt: 0,
    updatedAt: 0,
    ...extra,
  };
}

const waiting = {
  nodeName: null,
  phase: "Pending" as const,
  ready: false,
  status: { conditions: [{ type: "PodScheduled", status: "False", reason: "Unschedulable" }] },
};

const dep = object("Deployment", "web");
const rs = (name: string, replicas = 2) =>
  object("ReplicaSet", name, { ownerKind: "Deployment", ownerName: "web", ownerUid: dep.uid, spec: { replicas } });

function snapshot(atMs: number, parts: Partial<Snapshot>, liveness = TERMS): Snapshot {
  return {
    atMs,
    storeNodes: [],
    pods: [],
    deployments: [],
    replicaSets: [],
    statefulSets: [],
    providerNodes: [],
    running: [],
    crashedNodes: new Set(),
    liveness,
    ...parts,
  };
}

const check = (...snapshots: Snapshot[]) => {
  const checker = eventuallyReconciled.forRun?.() ?? eventuallyReconciled;
  return snapshots.map((s) => checker.check(s));
};

describe("eventually-reconciled", () => {
  const healthy = { deployments: [dep], replicaSets: [rs("a")], pods: [pod("a-1", "a"), pod("a-2", "a")] };

  it("holds for a reconciled Deployment, and judges nothing before the quiet period ends", () => {
    expect(check(snapshot(120_000, healthy))).toEqual([[]]);
    const behind = { ...healthy, deployments: [{ ...dep, generation: 2 }] };
    expect(check(snapshot(119_999, behind))).toEqual([[]]);
    expect(check(snapshot(120_000, behind), snapshot(130_000, behind))).toEqual([
      [
        "Deployment default/web was not reconciled at any moment in the 1m after the faults stopped (at 1m); at 2m: generation 2 observed as 1",
      ],
      // Judged once, at the end of the quiet period.
      [],
    ]);
  });

  it("is never judged when the faults never stop", () => {
    const behind = { ...healthy, deployments: [{ ...dep, generation: 2 }] };
    expect(check(snapshot(600_000, behind, { ...TERMS, stoppedMs: null, fromMs: null }))).toEqual([[]]);
  });

  it("names a wrong pod count, a rollout left half-done, and pods neither Ready nor waiting", () => {
    const [problems] = check(
      snapshot(120_000, {
        deployments: [dep],
        replicaSets: [rs("a", 1), rs("b", 2)],
        pods: [pod("a-1", "a"), pod("b-1", "b"), pod("b-2", "b", { ready: false, phase: "Pending" })],
      }),
    );
    expect(problems).toEqual([
      "Deployment default/web was not reconciled at any moment in the 1m after the faults stopped (at 1m); at 2m: 3 live pods for 2 replicas; 1 pod(s) neither Ready nor waiting for capacity: b-2 (Pending); live pods of 2 ReplicaSets: a rollout not finished",
    ]);
  });

  it("excuses pods waiting for capacity (and the count they hold back) and images made to fail", () => {
    const short = { ...healthy, pods: [pod("a-1", "a"), pod("a-2", "a", waiting), pod("a-3", "a", waiting)] };
    expect(check(snapshot(120_000, short))).toEqual([[]]);
    const failing = {
      ...healthy,
      pods: [pod("a-1", "a"), pod("a-2", "a", { ready: false, spec: { containers: [{ name: "w", image: "bad:1" }] } })],
    };
    expect(check(snapshot(120_000, failing))).toEqual([[]]);
    // Deleting and finished pods do not count as live.
    const gone = {
      ...healthy,
      pods: [...healthy.pods, pod("a-3", "a", { deletionRequestedAt: 1 }), pod("a-4", "a", { phase: "Failed" })],
    };
    expect(check(snapshot(120_000, gone))).toEqual([[]]);
  });

  it("a workload seen reconciled after the faults stopped is not held to a later transient", () => {
    const moving = { ...healthy, pods: [...healthy.pods, pod("a-3", "a", { ready: false, phase: "Pending" })] };
    expect(check(snapshot(70_000, healthy), snapshot(120_000, moving))).toEqual([[], []]);
    // Reconciled only before the faults stopped counts for nothing.
    expect(check(snapshot(50_000, healthy), snapshot(120_000, moving))[1]).toHaveLength(1);
  });

  it("judges StatefulSets and ReplicaSets no Deployment owns by their own pods", () => {
    const sts = object("StatefulSet", "db", { spec: { replicas: 3 } });
    const bare = object("ReplicaSet", "solo", { spec: { replicas: 1 } });
    const pods = [pod("db-0", "db", { ownerKind: "StatefulSet" }), pod("solo-1", "solo")];
    expect(check(snapshot(120_000, { statefulSets: [sts], replicaSets: [bare], pods }))).toEqual([
      [
        "StatefulSet default/db was not reconciled at any moment in the 1m after the faults stopped (at 1m); at 2m: 1 live pods for 3 replicas",
      ],
    ]);
  });
});
