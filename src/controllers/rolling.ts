import { rollingBounds } from "./intOrPercent.js";
import { cheapestFirst } from "./podRank.js";
import type { PodView } from "./types.js";

export interface ScalePlan {
  create: number;
  delete: { pod: PodView; reason: string }[];
}

/**
 * One step of a rolling update, as Kubernetes' deployment controller takes it:
 * scale the new template up within `replicas + maxSurge`, then scale old pods down
 * while at least `replicas - maxUnavailable` stay ready, unready old pods first.
 * Called again on every change until no step is left.
 */
export function rollingStep(
  replicas: number,
  rollingUpdate: { maxSurge?: number | string; maxUnavailable?: number | string } | undefined,
  current: PodView[],
  old: PodView[],
): ScalePlan {
  const { maxSurge, maxUnavailable } = rollingBounds(replicas, rollingUpdate);
  const plan: ScalePlan = { create: 0, delete: [] };

  if (current.length > replicas) {
    for (const pod of cheapestFirst(current).slice(0, current.length - replicas)) {
      plan.delete.push({ pod, reason: "scaled down" });
    }
  } else if (old.length === 0) {
    plan.create = replicas - current.length;
  } else {
    const room = replicas + maxSurge - (current.length + old.length);
    plan.create = Math.max(0, Math.min(replicas - current.length, room));
  }

  if (old.length === 0) return plan;
  const minAvailable = replicas - maxUnavailable;
  const total = current.length + old.length;
  const currentUnready = current.filter((p) => !p.ready).length;
  let budget = total - minAvailable - currentUnready;
  const ready = [...current, ...old].filter((p) => p.ready).length;
  let readyBudget = ready - minAvailable;
  for (const pod of cheapestFirst(old)) {
    if (budget <= 0) break;
    if (pod.ready) {
      if (readyBudget <= 0) continue;
      readyBudget--;
    }
    plan.delete.push({ pod, reason: "replaced by the new template" });
    budget--;
  }
  return plan;
}
