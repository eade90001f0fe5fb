import { isoTime } from "../core/clock.js";
import type { Json } from "./types.js";

export interface PodCondition {
  type: "PodScheduled" | "Initialized" | "ContainersReady" | "Ready" | "DisruptionTarget";
  status: "True" | "False";
  reason?: string;
  message?: string;
  lastTransitionTime: string;
}

/**
 * Sets one pod condition, keeping its `lastTransitionTime` unless its status
 * flips, as Kubernetes does. Pure: returns a new conditions list, or the list
 * itself when the condition already says just that (and the list is in order).
 */
export function setCondition(
  conditions: PodCondition[],
  type: PodCondition["type"],
  ok: boolean,
  nowMs: number,
  detail: { reason?: string; message?: string } = {},
): PodCondition[] {
  const status = ok ? "True" : "False";
  const before = conditions.find((c) => c.type === type);
  // Unchanged (as most are, each time a pod's status is worked out again): the same list.
  if (before && isSame(before, status, detail) && isOrdered(conditions)) return conditions;
  const next: PodCondition = {
    type,
    status,
    ...(detail.reason ? { reason: detail.reason } : {}),
    ...(detail.message ? { message: detail.message } : {}),
    lastTransitionTime: before && before.status === status ? before.lastTransitionTime : isoTime(nowMs),
  };
  return [...conditions.filter((c) => c.type !== type), next].sort((a, b) => ORDER[a.type] - ORDER[b.type]);
}

/** The condition says just this: the status, the reason and the message, and when it last flipped. */
function isSame(condition: PodCondition, status: string, detail: { reason?: string; message?: string }): boolean {
  const reason = detail.reason || undefined;
  const message = detail.message || undefined;
  const keys = 3 + (reason === undefined ? 0 : 1) + (message === undefined ? 0 : 1);
  return (
    condition.status === status &&
    condition.reason === reason &&
    condition.message === message &&
    Object.keys(condition).length === keys
  );
}

function isOrdered(conditions: readonly PodCondition[]): boolean {
  for (let i = 1; i < conditions.length; i++) {
    if (ORDER[(conditions[i - 1] as PodCondition).type] >= ORDER[(conditions[i] as PodCondition).type]) return false;
  }
  return true;
}

const ORDER: Record<PodCondition["type"], number> = {
  PodScheduled: 0,
  Initialized: 1,
  ContainersReady: 2,
  Ready: 3,
  DisruptionTarget: 4,
};

/** The `DisruptionTarget` reason of a pod the rebalancer moves (Kubernetes marks evicted and preempted pods alike). */
export const REBALANCING = "Rebalancing";

/** The pod is to move elsewhere: its owner replaces it first, then deletes it. */
export function isMoving(status: Json): boolean {
  return conditionsOf(status).some(
    (c) => c.type === "DisruptionTarget" && c.status === "True" && c.reason === REBALANCING,
  );
}

export function conditionsOf(status: Json): PodCondition[] {
  return (status.conditions as PodCondition[] | undefined) ?? [];
}
