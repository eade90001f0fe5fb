import { canonicalEqual } from "../core/hash.js";
import { rollingBounds } from "./intOrPercent.js";
import { condition, type DeploymentCondition } from "./progress.js";
import type { DeploymentView, Json, ReplicaSetView } from "./types.js";

export interface DeploymentCounts {
  /** Live pods of every revision. */
  replicas: number;
  /** Live pods of the current template. */
  updated: number;
  ready: number;
  available: number;
}

/** The status Kubernetes reports for a Deployment. */
export function deploymentStatus(
  dep: DeploymentView,
  counts: DeploymentCounts,
  progressing: DeploymentCondition,
  nowMs: number,
  sets: ReplicaSetView[] = [],
): Json {
  const replicas = dep.spec.replicas ?? 1;
  // Recreate allows no unavailability by the book: Kubernetes counts it as 0 there.
  const { maxUnavailable } =
    dep.spec.strategy?.type === "Recreate"
      ? { maxUnavailable: 0 }
      : rollingBounds(replicas, dep.spec.strategy?.rollingUpdate);
  const ok = counts.available >= replicas - maxUnavailable;
  const previous = previousConditions(dep.status);
  const available = condition(
    previous.find((c) => c.type === "Available"),
    "Available",
    ok ? "True" : "False",
    ok ? "MinimumReplicasAvailable" : "MinimumReplicasUnavailable",
    ok ? "Deployment has minimum availability." : "Deployment does not have minimum availability.",
    nowMs,
  );
  return {
    observedGeneration: dep.generation,
    replicas: counts.replicas,
    updatedReplicas: counts.updated,
    readyReplicas: counts.ready,
    availableReplicas: counts.available,
    unavailableReplicas: Math.max(0, replicas - counts.available),
    conditions: [available, progressing, ...replicaFailure(previous, sets, nowMs)],
  };
}

/**
 * As Kubernetes does, a Deployment copies the `ReplicaFailure` of one of its
 * ReplicaSets (pods refused, e.g. by quota) and drops its own once none has one.
 */
function replicaFailure(previous: DeploymentCondition[], sets: ReplicaSetView[], nowMs: number): DeploymentCondition[] {
  const failing = sets
    .flatMap(
      (rs) => (rs.status.conditions as { type?: string; status?: string; reason?: string; message?: string }[]) ?? [],
    )
    .find((c) => c.type === "ReplicaFailure" && c.status === "True");
  if (!failing) return [];
  const before = previous.find((c) => c.type === "ReplicaFailure");
  return [condition(before, "ReplicaFailure", "True", failing.reason ?? "FailedCreate", failing.message ?? "", nowMs)];
}

export function previousConditions(status: Json): DeploymentCondition[] {
  return (status.conditions as DeploymentCondition[] | undefined) ?? [];
}

/** True when two statuses differ (so an unchanged status is not rewritten). */
export function statusChanged(before: Json, after: Json): boolean {
  return !canonicalEqual(before, after);
}
