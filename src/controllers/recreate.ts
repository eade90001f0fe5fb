import type { ScalePlan } from "./rolling.js";
import type { PodView } from "./types.js";

/** `Recreate`: every old pod goes first; new ones start only once none is left, not even one still stopping. */
export function recreateStep(replicas: number, current: PodView[], old: PodView[], stopping: number): ScalePlan {
  if (old.length > 0) return { create: 0, delete: old.map((pod) => ({ pod, reason: "recreate: old template" })) };
  if (stopping > 0) return { create: 0, delete: [] };
  if (current.length > replicas) {
    return { create: 0, delete: current.slice(replicas).map((pod) => ({ pod, reason: "scaled down" })) };
  }
  return { create: replicas - current.length, delete: [] };
}
