import { isAvailable, msUntilNextAvailable } from "./availability.js";
import { statusChanged } from "./deploymentStatus.js";
import { cheapestFirst, isFinished } from "./podRank.js";
import { podDraft } from "./pods.js";
import type { Action, PodView, ReplicaSetView } from "./types.js";

export const TEMPLATE_HASH_LABEL = "pod-template-hash";

/**
 * Keeps `spec.replicas` pods of a ReplicaSet's template alive. Pure:
 * finished pods are replaced, missing ones created, extra ones deleted cheapest
 * first; status counts ready and available (ready for `minReadySeconds`) pods.
 */
export function reconcileReplicaSet(rs: ReplicaSetView, pods: PodView[], nowMs: number): Action[] {
  const replicas = rs.spec.replicas ?? 1;
  const finished = pods.filter((p) => !p.deleting && isFinished(p));
  const live = pods.filter((p) => !p.deleting && !isFinished(p));
  const actions: Action[] = finished.map((p) => ({ type: "deletePod", podId: p.id, reason: `pod ${p.phase}` }));

  const missing = replicas - live.length;
  if (missing > 0) {
    const owner = { kind: rs.kind ?? "ReplicaSet", name: rs.name, uid: rs.uid };
    const hash = rs.labels[TEMPLATE_HASH_LABEL] ?? rs.spec.template.metadata?.labels?.[TEMPLATE_HASH_LABEL] ?? "";
    for (let i = 0; i < missing; i++) {
      actions.push({ type: "createPod", pod: podDraft(owner, rs.namespace, rs.spec.template, `${rs.name}-`, hash) });
    }
    actions.push({
      type: "recordEvent",
      eventType: "Normal",
      reason: "SuccessfulCreate",
      message: `Created ${missing} pod(s)`,
    });
  } else if (missing < 0) {
    for (const pod of cheapestFirst(live).slice(0, -missing)) {
      actions.push({ type: "deletePod", podId: pod.id, reason: "scaled down" });
    }
    actions.push({
      type: "recordEvent",
      eventType: "Normal",
      reason: "SuccessfulDelete",
      message: `Deleted ${-missing} pod(s)`,
    });
  }

  const minReadySeconds = rs.spec.minReadySeconds ?? 0;
  const status = {
    replicas: live.length,
    fullyLabeledReplicas: live.length,
    readyReplicas: live.filter((p) => p.ready).length,
    availableReplicas: live.filter((p) => isAvailable(p, minReadySeconds, nowMs)).length,
    observedGeneration: rs.generation,
  };
  if (statusChanged(rs.status, status)) actions.push({ type: "updateStatus", status });
  const wait = msUntilNextAvailable(live, minReadySeconds, nowMs);
  if (wait !== undefined) actions.push({ type: "requeue", afterMs: wait });
  return actions;
}
