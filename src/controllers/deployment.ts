import { templateHash } from "../core/hash.js";
import { isAvailable, msUntilNextAvailable } from "./availability.js";
import { deploymentStatus, previousConditions, statusChanged } from "./deploymentStatus.js";
import { isFinished } from "./podRank.js";
import { msUntilDeadline, ProgressReason, progressing } from "./progress.js";
import { recreateStep } from "./recreate.js";
import { TEMPLATE_HASH_LABEL } from "./replicaset.js";
import { expiredRevisions, maxRevision, REVISION_ANNOTATION, revisionOf } from "./revision.js";
import { autoRollbackEnabled, failureOf, rollbackTarget, templateOf } from "./rollback.js";
import { rollingStep, type ScaleTargets, type SetState } from "./rolling.js";
import type { Action, DeploymentView, PodView, ReplicaSetDraft, ReplicaSetView } from "./types.js";

export { TEMPLATE_HASH_LABEL } from "./replicaset.js";

/**
 * Reconciles one Deployment against its ReplicaSets (one per template revision)
 * and their pods. Pure: `(desired, observed, now) → actions`. The new template's
 * ReplicaSet is found or created, the strategy sets each ReplicaSet's target,
 * progress and availability become status, a failed rollout rolls back, and
 * history beyond `revisionHistoryLimit` is dropped.
 */
export function reconcileDeployment(
  dep: DeploymentView,
  sets: ReplicaSetView[],
  podsOf: (rs: ReplicaSetView) => PodView[],
  nowMs: number,
): Action[] {
  const hash = templateHash(dep.spec.template);
  const replicas = dep.spec.replicas ?? 1;
  const minReadySeconds = dep.spec.minReadySeconds ?? 0;
  const tally = remembered((rs: ReplicaSetView) => tallied(podsOf(rs), minReadySeconds, nowMs));
  const existing = sets.find((rs) => rs.labels[TEMPLATE_HASH_LABEL] === hash);
  const old = sets.filter((rs) => rs !== existing);
  const top = maxRevision(sets);
  const actions: Action[] = [];

  const current: ReplicaSetView = existing ?? newReplicaSet(dep, hash, top + 1);
  const state = remembered(
    (rs: ReplicaSetView): SetState => ({
      name: rs.name,
      replicas: rs === current && !existing ? 0 : (rs.spec.replicas ?? 0),
      available: tally(rs).available,
      pods: tally(rs).live,
    }),
  );
  const targets: ScaleTargets = dep.spec.paused
    ? pausedTargets(replicas, state(current), old.map(state))
    : strategyTargets(
        dep,
        replicas,
        state(current),
        old.map(state),
        old.reduce((n, rs) => n + podsOf(rs).length, 0),
      );

  const created = !existing && !dep.spec.paused;
  if (created) {
    const draft = draftOf(dep, current, targets.get(current.name) ?? 0);
    actions.push({ type: "createReplicaSet", replicaSet: draft });
    actions.push({
      type: "recordEvent",
      eventType: "Normal",
      reason: "ScalingReplicaSet",
      message: `Scaled up replica set ${current.name} to ${draft.spec.replicas}`,
    });
  }
  // A rollback to an older template makes its ReplicaSet the newest revision again, as in Kubernetes.
  const bump = existing && revisionOf(existing) < top ? { [REVISION_ANNOTATION]: String(top + 1) } : undefined;
  actions.push(
    ...scaleActions(sets, targets, bump && existing ? { name: existing.name, annotations: bump } : undefined),
  );

  const counts = {
    replicas: sets.reduce((n, rs) => n + tally(rs).live, 0),
    updated: existing ? tally(existing).live : 0,
    ready: sets.reduce((n, rs) => n + tally(rs).ready, 0),
    available: sets.reduce((n, rs) => n + state(rs).available, 0),
  };
  const previous = previousConditions(dep.status);
  const before = dep.status as {
    replicas?: number;
    updatedReplicas?: number;
    readyReplicas?: number;
    availableReplicas?: number;
    observedGeneration?: number;
  };
  const progressed =
    targets.size > 0 ||
    before.observedGeneration !== dep.generation ||
    before.replicas !== counts.replicas ||
    before.updatedReplicas !== counts.updated ||
    before.availableReplicas !== counts.available;
  const complete =
    counts.updated === replicas &&
    counts.replicas === replicas &&
    (existing ? state(existing).available : 0) === replicas;
  const deadlineSeconds = dep.spec.progressDeadlineSeconds ?? 600;
  const progress = progressing(
    previous.find((c) => c.type === "Progressing"),
    {
      complete,
      progressed,
      created,
      paused: !!dep.spec.paused,
      newSetName: current.name,
      progressDeadlineSeconds: deadlineSeconds,
    },
    nowMs,
  );

  const rollback = autoRollback(
    dep,
    sets,
    existing,
    existing ? podsOf(existing) : [],
    progress.reason === ProgressReason.ProgressDeadlineExceeded,
  );
  actions.push(...rollback);

  const status = deploymentStatus(dep, counts, progress, nowMs, sets);
  if (statusChanged(dep.status, status)) actions.push({ type: "updateStatus", status });

  for (const rs of expiredRevisions(old, dep.spec.revisionHistoryLimit ?? 10, (r) => podsOf(r).length)) {
    actions.push({ type: "deleteReplicaSet", name: rs.name });
  }
  const waits = [
    // Without minReadySeconds a Ready pod is available at once: no pod to wait for, and no list to make.
    minReadySeconds > 0
      ? msUntilNextAvailable(
          sets.flatMap((rs) => podsOf(rs).filter((p) => !p.deleting && !isFinished(p))),
          minReadySeconds,
          nowMs,
        )
      : undefined,
    dep.spec.paused ? undefined : msUntilDeadline(progress, deadlineSeconds, nowMs),
  ];
  const wait = waits.filter((w): w is number => w !== undefined);
  if (wait.length) actions.push({ type: "requeue", afterMs: Math.min(...wait) });
  return actions;
}

/** A ReplicaSet's live pods (not deleting, not ended), counted in one pass: all, Ready, available. */
interface Tally {
  live: number;
  ready: number;
  available: number;
}

function tallied(pods: readonly PodView[], minReadySeconds: number, nowMs: number): Tally {
  const tally = { live: 0, ready: 0, available: 0 };
  for (const pod of pods) {
    if (pod.deleting || isFinished(pod)) continue;
    tally.live++;
    if (pod.ready) tally.ready++;
    if (isAvailable(pod, minReadySeconds, nowMs)) tally.available++;
  }
  return tally;
}

/** `fn`, answering each ReplicaSet once per reconcile however often it is asked. */
function remembered<T>(fn: (rs: ReplicaSetView) => T): (rs: ReplicaSetView) => T {
  const answers = new Map<ReplicaSetView, T>();
  return (rs) => {
    if (!answers.has(rs)) answers.set(rs, fn(rs));
    return answers.get(rs) as T;
  };
}

function strategyTargets(
  dep: DeploymentView,
  replicas: number,
  current: SetState,
  old: SetState[],
  oldPods: number,
): ScaleTargets {
  if (dep.spec.strategy?.type === "Recreate") return recreateStep(replicas, current, old, oldPods);
  return rollingStep(replicas, dep.spec.strategy?.rollingUpdate, current, old);
}

/** Paused: no rollout moves, but a plain scale of a deployment with one revision still applies. */
function pausedTargets(replicas: number, current: SetState, old: SetState[]): ScaleTargets {
  const targets: ScaleTargets = new Map();
  if (old.every((s) => s.replicas === 0) && current.replicas !== replicas && current.replicas > 0)
    targets.set(current.name, replicas);
  return targets;
}

function scaleActions(
  sets: ReplicaSetView[],
  targets: ScaleTargets,
  bump?: { name: string; annotations: Record<string, string> },
): Action[] {
  const actions: Action[] = [];
  for (const rs of sets) {
    const target = targets.get(rs.name);
    const annotations = bump?.name === rs.name ? bump.annotations : undefined;
    if ((target === undefined || target === (rs.spec.replicas ?? 0)) && !annotations) continue;
    const replicas = target ?? rs.spec.replicas ?? 0;
    actions.push({ type: "scaleReplicaSet", name: rs.name, replicas, ...(annotations ? { annotations } : {}) });
    if (target !== undefined && target !== (rs.spec.replicas ?? 0)) {
      const verb = target > (rs.spec.replicas ?? 0) ? "up" : "down";
      actions.push({
        type: "recordEvent",
        eventType: "Normal",
        reason: "ScalingReplicaSet",
        message: `Scaled ${verb} replica set ${rs.name} to ${target}`,
      });
    }
  }
  return actions;
}

function autoRollback(
  dep: DeploymentView,
  sets: ReplicaSetView[],
  current: ReplicaSetView | undefined,
  pods: PodView[],
  deadlineExceeded: boolean,
): Action[] {
  const failure = failureOf(
    deadlineExceeded,
    pods.filter((p) => !p.deleting),
  );
  if (!failure || !autoRollbackEnabled(dep.annotations) || dep.spec.paused) return [];
  const target = rollbackTarget(sets, current);
  if (!target) return [];
  const revision = revisionOf(target);
  return [
    { type: "rollback", toRevision: revision, template: templateOf(target) },
    {
      type: "recordEvent",
      eventType: "Warning",
      reason: "RolledBack",
      message: `Rolled back to revision ${revision}: ${failure}`,
    },
  ];
}

function newReplicaSet(dep: DeploymentView, hash: string, revision: number): ReplicaSetView {
  const draft = draftOf(dep, undefined, 0, hash, revision);
  return { ...draft, namespace: dep.namespace, uid: "", generation: 0, createdAt: 0, status: {} };
}

function draftOf(
  dep: DeploymentView,
  rs: ReplicaSetView | undefined,
  replicas: number,
  hash = rs?.labels[TEMPLATE_HASH_LABEL] ?? "",
  revision = rs ? revisionOf(rs) : 1,
): ReplicaSetDraft {
  const labels = { ...(dep.spec.template.metadata?.labels ?? {}), [TEMPLATE_HASH_LABEL]: hash };
  return {
    name: `${dep.name}-${hash}`,
    labels,
    annotations: { [REVISION_ANNOTATION]: String(revision) },
    spec: {
      replicas,
      selector: {
        ...dep.spec.selector,
        matchLabels: { ...(dep.spec.selector.matchLabels ?? {}), [TEMPLATE_HASH_LABEL]: hash },
      },
      template: { ...dep.spec.template, metadata: { ...dep.spec.template.metadata, labels } },
      minReadySeconds: dep.spec.minReadySeconds ?? 0,
    },
    owner: { kind: "Deployment", name: dep.name, uid: dep.uid },
  };
}
