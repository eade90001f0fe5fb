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
 * flips, as Kubernetes does. Pure: returns a new conditions list.
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
  const next: PodCondition = {
    type,
    status,
    ...(detail.reason ? { reason: detail.reason } : {}),
    ...(detail.message ? { message: detail.message } : {}),
    lastTransitionTime: before && before.status === status ? before.lastTransitionTime : new Date(nowMs).toISOString(),
  };
  return [...conditions.filter((c) => c.type !== type), next].sort((a, b) => ORDER[a.type] - ORDER[b.type]);
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
