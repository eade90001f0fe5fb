import { rollingBounds } from "./intOrPercent.js";

/** A ReplicaSet as the rollout sees it: its target, and how many of its pods are available. */
export interface SetState {
  name: string;
  replicas: number;
  available: number;
  /** Live pods now, which may lag the target: surge room counts whichever is larger. */
  pods: number;
}

/** The new target per ReplicaSet name; sets left out keep theirs. */
export type ScaleTargets = Map<string, number>;

/**
 * One step of a rolling update, Kubernetes' way: grow the new ReplicaSet within
 * `replicas + maxSurge`, then shrink old ones (unhealthy pods first, oldest
 * ReplicaSet first) while at least `replicas - maxUnavailable` pods stay
 * available. Called again on every change until no step is left.
 */
export function rollingStep(
  replicas: number,
  rollingUpdate: { maxSurge?: number | string; maxUnavailable?: number | string } | undefined,
  current: SetState,
  old: SetState[],
): ScaleTargets {
  const { maxSurge, maxUnavailable } = rollingBounds(replicas, rollingUpdate);
  const targets: ScaleTargets = new Map();
  const total = (n: SetState) => targets.get(n.name) ?? n.replicas;

  if (current.replicas > replicas) targets.set(current.name, replicas);
  else if (current.replicas < replicas) {
    const room = replicas + maxSurge - [current, ...old].reduce((sum, s) => sum + Math.max(s.replicas, s.pods), 0);
    const grow =
      old.length === 0 ? replicas - current.replicas : Math.max(0, Math.min(room, replicas - current.replicas));
    if (grow > 0) targets.set(current.name, current.replicas + grow);
  }
  if (old.every((s) => s.replicas === 0)) return targets;

  const minAvailable = replicas - maxUnavailable;
  const currentUnavailable = Math.max(0, current.replicas - current.available);
  let budget = [current, ...old].reduce((sum, s) => sum + s.replicas, 0) - minAvailable - currentUnavailable;
  // Unhealthy pods of old sets go first: removing them costs no availability.
  for (const set of old) {
    if (budget <= 0) break;
    const unhealthy = Math.max(0, set.replicas - set.available);
    const cut = Math.min(unhealthy, budget);
    if (cut > 0) targets.set(set.name, set.replicas - cut);
    budget -= cut;
  }
  let availableBudget = [current, ...old].reduce((sum, s) => sum + s.available, 0) - minAvailable;
  for (const set of old) {
    if (availableBudget <= 0) break;
    const cut = Math.min(total(set), availableBudget);
    if (cut > 0) targets.set(set.name, total(set) - cut);
    availableBudget -= cut;
  }
  return targets;
}
