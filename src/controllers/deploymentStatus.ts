import { canonicalJson } from "../core/hash.js";
import { rollingBounds } from "./intOrPercent.js";
import type { DeploymentView, Json, PodView } from "./types.js";

interface Condition {
  type: string;
  status: "True" | "False";
  reason: string;
  message: string;
  lastUpdateTime: string;
  lastTransitionTime: string;
}

/** The status Kubernetes reports for a Deployment, computed from its live pods. */
export function deploymentStatus(dep: DeploymentView, current: PodView[], all: PodView[], nowMs: number): Json {
  const replicas = dep.spec.replicas ?? 1;
  const ready = all.filter((p) => p.ready).length;
  const updated = current.length;
  const updatedReady = current.filter((p) => p.ready).length;
  const { maxUnavailable } =
    dep.spec.strategy?.type === "Recreate"
      ? { maxUnavailable: replicas }
      : rollingBounds(replicas, dep.spec.strategy?.rollingUpdate);
  const available = ready >= replicas - maxUnavailable;
  const complete = updated === replicas && all.length === replicas && updatedReady === replicas;
  const previous = (dep.status.conditions as Condition[] | undefined) ?? [];
  const conditions = [
    condition(
      previous,
      nowMs,
      "Available",
      available,
      available ? "MinimumReplicasAvailable" : "MinimumReplicasUnavailable",
      available ? "Deployment has minimum availability." : "Deployment does not have minimum availability.",
    ),
    condition(
      previous,
      nowMs,
      "Progressing",
      true,
      complete ? "NewReplicaSetAvailable" : "ReplicaSetUpdated",
      complete
        ? `Pods of template "${dep.name}" have successfully progressed.`
        : `Pods of template "${dep.name}" are progressing.`,
    ),
  ];
  return {
    observedGeneration: dep.generation,
    replicas: all.length,
    updatedReplicas: updated,
    readyReplicas: ready,
    availableReplicas: ready,
    unavailableReplicas: Math.max(0, replicas - ready),
    conditions,
  };
}

function condition(
  previous: Condition[],
  nowMs: number,
  type: string,
  ok: boolean,
  reason: string,
  message: string,
): Condition {
  const status = ok ? "True" : "False";
  const before = previous.find((c) => c.type === type);
  const now = new Date(nowMs).toISOString();
  const unchanged = before && before.status === status && before.reason === reason;
  return {
    type,
    status,
    reason,
    message,
    lastUpdateTime: unchanged ? before.lastUpdateTime : now,
    lastTransitionTime: before && before.status === status ? before.lastTransitionTime : now,
  };
}

/** True when two statuses differ in anything but timestamps (so an unchanged status is not rewritten). */
export function statusChanged(before: Json, after: Json): boolean {
  return canonicalJson(before) !== canonicalJson(after);
}
