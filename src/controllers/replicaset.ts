import { isAvailable, msUntilNextAvailable } from "./availability.js";
import { statusChanged } from "./deploymentStatus.js";
import { cheapestFirst, isFinished } from "./podRank.js";
import { podDraft } from "./pods.js";
import { QUOTA_RETRY_MS, type QuotaHeadroom, quotaAllowance, replicaFailure } from "./quota.js";
import type { Action, PodView, ReplicaSetView } from "./types.js";

export const TEMPLATE_HASH_LABEL = "pod-template-hash";

/**
 * Keeps `spec.replicas` pods of a ReplicaSet's template alive. Pure:
 * finished pods are replaced, missing ones created, extra ones deleted cheapest
 * first; a pod marked for a move is replaced before it goes. Status counts
 * ready and available (ready for `minReadySeconds`) pods.
 */
export function reconcileReplicaSet(
  rs: ReplicaSetView,
  pods: PodView[],
  nowMs: number,
  headroom?: QuotaHeadroom,
): Action[] {
  const replicas = rs.spec.replicas ?? 1;
  const finished = pods.filter((p) => !p.deleting && isFinished(p));
  const live = pods.filter((p) => !p.deleting && !isFinished(p));
  const actions: Action[] = finished.map((p) => ({ type: "deletePod", podId: p.id, reason: `pod ${p.phase}` }));

  // A pod being moved (rebalancing) counts as gone: its replacement starts first, and it goes once that is available.
  const moving = live.filter((p) => p.moving);
  const staying = moving.length > 0 ? live.filter((p) => !p.moving) : live;
  const missing = replicas - staying.length;
  let refusal: string | undefined;
  if (missing > 0) {
    refusal = createPods(rs, missing, headroom, actions);
  } else if (missing < 0) {
    for (const pod of cheapestFirst(staying).slice(0, -missing)) {
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
  if (moving.length > 0) {
    // Moved pods go one by one as replacements become available, never taking the available pods below the replicas.
    const going = new Set(actions.flatMap((a) => (a.type === "deletePod" ? [a.podId] : [])));
    const available = live.filter((p) => !going.has(p.id) && isAvailable(p, minReadySeconds, nowMs)).length;
    for (const pod of moving.slice(0, Math.max(0, available - replicas))) {
      actions.push({ type: "deletePod", podId: pod.id, reason: "moved: its replacement is available" });
    }
  }
  const status = {
    replicas: live.length,
    fullyLabeledReplicas: live.length,
    readyReplicas: live.filter((p) => p.ready).length,
    availableReplicas: live.filter((p) => isAvailable(p, minReadySeconds, nowMs)).length,
    observedGeneration: rs.generation,
    ...withFailure(replicaFailure(rs.status, refusal, nowMs)),
  };
  if (statusChanged(rs.status, status)) actions.push({ type: "updateStatus", status });
  const wait = msUntilNextAvailable(live, minReadySeconds, nowMs);
  if (wait !== undefined) actions.push({ type: "requeue", afterMs: wait });
  if (refusal) actions.push({ type: "requeue", afterMs: QUOTA_RETRY_MS });
  return actions;
}

/**
 * Creates up to `missing` pods, as many as the tenant's quota leaves room for;
 * answers why the rest were refused (a `FailedCreate`, as Kubernetes reports it).
 */
function createPods(rs: ReplicaSetView, missing: number, headroom: QuotaHeadroom | undefined, actions: Action[]) {
  const owner = { kind: rs.kind ?? "ReplicaSet", name: rs.name, uid: rs.uid };
  const hash = rs.labels[TEMPLATE_HASH_LABEL] ?? rs.spec.template.metadata?.labels?.[TEMPLATE_HASH_LABEL] ?? "";
  const draft = () => podDraft(owner, rs.namespace, rs.spec.template, `${rs.name}-`, hash);
  const { allowed, refusal } = quotaAllowance(headroom, draft(), missing, `${rs.name}-`);
  for (let i = 0; i < allowed; i++) actions.push({ type: "createPod", pod: draft() });
  if (allowed > 0) {
    actions.push({
      type: "recordEvent",
      eventType: "Normal",
      reason: "SuccessfulCreate",
      message: `Created ${allowed} pod(s)`,
    });
  }
  if (refusal) {
    actions.push({
      type: "recordEvent",
      eventType: "Warning",
      reason: "FailedCreate",
      message: `Error creating: ${refusal}`,
    });
  }
  return refusal;
}

/** A ReplicaSet's only condition is `ReplicaFailure`, present while pods cannot be created. */
function withFailure(failure: ReturnType<typeof replicaFailure>) {
  return failure ? { conditions: [failure] } : {};
}
