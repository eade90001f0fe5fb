import { isoTime } from "../core/clock.js";

/** The `Progressing` condition and the progress deadline, as Kubernetes' deployment controller keeps them. */
export interface DeploymentCondition {
  type: "Available" | "Progressing" | "ReplicaFailure";
  status: "True" | "False" | "Unknown";
  reason: string;
  message: string;
  lastUpdateTime: string;
  lastTransitionTime: string;
}

export const ProgressReason = {
  NewReplicaSetCreated: "NewReplicaSetCreated",
  ReplicaSetUpdated: "ReplicaSetUpdated",
  NewReplicaSetAvailable: "NewReplicaSetAvailable",
  ProgressDeadlineExceeded: "ProgressDeadlineExceeded",
  DeploymentPaused: "DeploymentPaused",
  DeploymentResumed: "DeploymentResumed",
} as const;

export interface ProgressFacts {
  /** The new ReplicaSet holds every replica, all available, and no old pod is left. */
  complete: boolean;
  /** Something moved since the last look: a ReplicaSet was created or scaled, or the counts changed. */
  progressed: boolean;
  created: boolean;
  paused: boolean;
  newSetName: string;
  progressDeadlineSeconds: number;
}

export function condition(
  previous: DeploymentCondition | undefined,
  type: DeploymentCondition["type"],
  status: DeploymentCondition["status"],
  reason: string,
  message: string,
  nowMs: number,
): DeploymentCondition {
  const now = isoTime(nowMs);
  const same = previous && previous.status === status && previous.reason === reason;
  return {
    type,
    status,
    reason,
    message,
    lastUpdateTime: same ? previous.lastUpdateTime : now,
    lastTransitionTime: previous && previous.status === status ? previous.lastTransitionTime : now,
  };
}

/** The next `Progressing` condition. A rollout that has not moved for `progressDeadlineSeconds` has failed. */
export function progressing(
  previous: DeploymentCondition | undefined,
  facts: ProgressFacts,
  nowMs: number,
): DeploymentCondition {
  const name = `ReplicaSet "${facts.newSetName}"`;
  if (facts.paused)
    return condition(
      previous,
      "Progressing",
      "Unknown",
      ProgressReason.DeploymentPaused,
      "Deployment is paused",
      nowMs,
    );
  if (facts.complete) {
    return condition(
      previous,
      "Progressing",
      "True",
      ProgressReason.NewReplicaSetAvailable,
      `${name} has successfully progressed.`,
      nowMs,
    );
  }
  if (facts.created) {
    return touched(
      condition(
        previous,
        "Progressing",
        "True",
        ProgressReason.NewReplicaSetCreated,
        `Created new replica set ${name}`,
        nowMs,
      ),
      nowMs,
    );
  }
  if (
    facts.progressed ||
    !previous ||
    previous.reason === ProgressReason.NewReplicaSetAvailable ||
    previous.reason === ProgressReason.DeploymentPaused
  ) {
    return touched(
      condition(previous, "Progressing", "True", ProgressReason.ReplicaSetUpdated, `${name} is progressing.`, nowMs),
      nowMs,
    );
  }
  if (previous.reason === ProgressReason.ProgressDeadlineExceeded) return previous;
  if (nowMs - Date.parse(previous.lastUpdateTime) > facts.progressDeadlineSeconds * 1000) {
    return condition(
      previous,
      "Progressing",
      "False",
      ProgressReason.ProgressDeadlineExceeded,
      `${name} has timed out progressing.`,
      nowMs,
    );
  }
  return previous;
}

/** Progress moves `lastUpdateTime` even when the reason stays the same: the deadline counts from the last progress. */
function touched(c: DeploymentCondition, nowMs: number): DeploymentCondition {
  return { ...c, lastUpdateTime: isoTime(nowMs) };
}

/** Milliseconds until an unmoving rollout misses its deadline, to look again then. */
export function msUntilDeadline(
  c: DeploymentCondition,
  progressDeadlineSeconds: number,
  nowMs: number,
): number | undefined {
  if (c.status !== "True" || c.reason === ProgressReason.NewReplicaSetAvailable) return undefined;
  return Math.max(1, Date.parse(c.lastUpdateTime) + progressDeadlineSeconds * 1000 - nowMs + 1);
}
