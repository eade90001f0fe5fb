import type { LabelSelector } from "../core/labels.js";
import { matchesSelector } from "../core/labels.js";
import { resolveIntOrPercent } from "./intOrPercent.js";
import type { PodView } from "./types.js";

export interface DisruptionBudgetView {
  name: string;
  spec: { selector?: LabelSelector; minAvailable?: number | string; maxUnavailable?: number | string };
}

export interface DisruptionStatus {
  expectedPods: number;
  currentHealthy: number;
  desiredHealthy: number;
  disruptionsAllowed: number;
}

/**
 * What a PodDisruptionBudget allows now, as Kubernetes' disruption controller
 * computes it: the healthy (Ready) pods it covers, how many must stay so, and
 * the difference. Voluntary disruptions (evictions, drains) ask before acting;
 * involuntary ones (a node dying) cannot.
 */
export function disruptionStatus(pdb: DisruptionBudgetView, pods: PodView[]): DisruptionStatus {
  const selector = pdb.spec.selector ?? {};
  // A pod on its way out still counts as expected but no longer as healthy, as Kubernetes counts in-flight
  // evictions: two evictions in a row cannot both take the one disruption a budget allows.
  const covered = pods.filter((p) => matchesSelector(p.labels, selector));
  const expectedPods = covered.length;
  const currentHealthy = covered.filter((p) => p.ready && !p.deleting).length;
  const desiredHealthy =
    pdb.spec.minAvailable !== undefined
      ? resolveIntOrPercent(pdb.spec.minAvailable, expectedPods, true)
      : expectedPods - resolveIntOrPercent(pdb.spec.maxUnavailable ?? 0, expectedPods, true);
  return {
    expectedPods,
    currentHealthy,
    desiredHealthy,
    disruptionsAllowed: Math.max(0, currentHealthy - desiredHealthy),
  };
}

/** The budgets that refuse evicting `pod` now (a pod covered by none may always go). */
export function blockingBudgets(pod: PodView, budgets: DisruptionBudgetView[], pods: PodView[]): string[] {
  return budgets
    .filter((b) => matchesSelector(pod.labels, b.spec.selector ?? {}))
    .filter((b) => {
      const status = disruptionStatus(b, pods);
      // An unready pod costs the budget nothing: evicting it leaves the healthy count as it is.
      return pod.ready && status.disruptionsAllowed <= 0;
    })
    .map((b) => b.name);
}
