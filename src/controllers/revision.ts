import type { ReplicaSetView } from "./types.js";

export const REVISION_ANNOTATION = "deployment.kubernetes.io/revision";

export function revisionOf(rs: ReplicaSetView): number {
  const n = Number(rs.annotations[REVISION_ANNOTATION]);
  return Number.isInteger(n) && n > 0 ? n : 0;
}

export function maxRevision(sets: ReplicaSetView[]): number {
  return sets.reduce((max, rs) => Math.max(max, revisionOf(rs)), 0);
}

/** Oldest revision first, as Kubernetes scales old ReplicaSets down. */
export function byRevision(sets: ReplicaSetView[]): ReplicaSetView[] {
  return [...sets].sort((a, b) => revisionOf(a) - revisionOf(b) || a.createdAt - b.createdAt);
}

/**
 * ReplicaSets beyond `revisionHistoryLimit` that are scaled to zero and hold no
 * pod: the oldest go, so history stays bounded.
 */
export function expiredRevisions(
  old: ReplicaSetView[],
  limit: number,
  podCount: (rs: ReplicaSetView) => number,
): ReplicaSetView[] {
  const idle = byRevision(old).filter((rs) => (rs.spec.replicas ?? 0) === 0 && podCount(rs) === 0);
  return idle.slice(0, Math.max(0, idle.length - limit));
}
