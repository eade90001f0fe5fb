import type { ScaleTargets, SetState } from "./rolling.js";

/**
 * `Recreate`: every old ReplicaSet goes to zero first; the new one grows only once
 * no old pod is left, not even one still stopping.
 */
export function recreateStep(replicas: number, current: SetState, old: SetState[], oldPodsLeft: number): ScaleTargets {
  const targets: ScaleTargets = new Map();
  for (const set of old) if (set.replicas > 0) targets.set(set.name, 0);
  if (targets.size > 0 || oldPodsLeft > 0) return targets;
  if (current.replicas !== replicas) targets.set(current.name, replicas);
  return targets;
}
