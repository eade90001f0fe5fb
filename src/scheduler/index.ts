import { seededRng } from "../core/rng.js";
import { explainUnschedulable } from "./explain.js";
import { failingReasons } from "./filters.js";
import { scorersFor, totalScore } from "./scores.js";
import type { NodeView, PodDemand, ScheduleResult, SchedulingPolicy } from "./types.js";

export { explainUnschedulable } from "./explain.js";
export * from "./types.js";

export interface ScheduleOptions {
  policy?: SchedulingPolicy;
}

/**
 * Places one pod: feasibility filters, then weighted scores, then a tie-break
 * drawn from a PRNG seeded by the pod's id, so that a replay places it the same way.
 * Pure: the caller binds the result with a conditional write.
 */
export function schedule(pod: PodDemand, nodes: NodeView[], options: ScheduleOptions = {}): ScheduleResult {
  const feasible = nodes.filter((node) => failingReasons(pod, node).length === 0);
  if (feasible.length === 0) return explainUnschedulable(pod, nodes);
  const scorers = scorersFor(options.policy ?? "spread");
  const scored = feasible
    .map((node) => ({ node, score: totalScore(pod, node, scorers) }))
    .sort((a, b) => (a.node.name < b.node.name ? -1 : 1));
  const best = Math.max(...scored.map((s) => s.score));
  const tied = scored.filter((s) => s.score === best);
  const pick = tied[seededRng(pod.id).int(tied.length)] ?? tied[0];
  if (!pick) return explainUnschedulable(pod, nodes);
  return { ok: true, nodeName: pick.node.name, score: pick.score };
}
