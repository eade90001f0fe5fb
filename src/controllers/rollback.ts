import { TEMPLATE_HASH_LABEL } from "./replicaset.js";
import { byRevision, revisionOf } from "./revision.js";
import type { PodTemplate, PodView, ReplicaSetView } from "./types.js";

export const AUTO_ROLLBACK_ANNOTATION = "kubernease.dev/auto-rollback";
/** Restarts of one pod of the new template after which the rollout counts as crash-looping. */
export const CRASH_LOOP_RESTARTS = 3;

/** The template of a revision, as the Deployment should carry it (without the hash label the ReplicaSet added). */
export function templateOf(rs: ReplicaSetView): PodTemplate {
  const { [TEMPLATE_HASH_LABEL]: _hash, ...labels } = rs.spec.template.metadata?.labels ?? {};
  return { ...rs.spec.template, metadata: { ...rs.spec.template.metadata, labels } };
}

/**
 * The ReplicaSet to roll back to: the given revision, or (0) the newest revision
 * older than the current one. Undefined when there is none.
 */
export function rollbackTarget(
  sets: ReplicaSetView[],
  current: ReplicaSetView | undefined,
  revision = 0,
): ReplicaSetView | undefined {
  if (revision > 0) return sets.find((rs) => revisionOf(rs) === revision);
  const currentRevision = current ? revisionOf(current) : Number.POSITIVE_INFINITY;
  return byRevision(sets.filter((rs) => rs !== current && revisionOf(rs) < currentRevision)).at(-1);
}

/** Why the new template has failed, if it has: a missed progress deadline, or pods that crash-loop. */
export function failureOf(progressDeadlineExceeded: boolean, newPods: PodView[]): string | undefined {
  if (progressDeadlineExceeded) return "the rollout missed its progress deadline";
  const looping = newPods.find((p) => p.crashLooping || p.restartCount >= CRASH_LOOP_RESTARTS);
  if (looping) return `pod ${looping.name} of the new template is crash-looping (${looping.restartCount} restarts)`;
  return undefined;
}

export function autoRollbackEnabled(annotations: Record<string, string>): boolean {
  return annotations[AUTO_ROLLBACK_ANNOTATION] !== "false";
}
