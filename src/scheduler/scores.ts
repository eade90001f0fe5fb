import type { NodeView, PodDemand, SchedulingPolicy } from "./types.js";

/** A score from 0 to 100; higher is better. */
export type Scorer = (pod: PodDemand, node: NodeView) => number;

function freeFractionAfter(pod: PodDemand, node: NodeView): number {
  const cpu = node.cpuMillis > 0 ? (node.cpuMillis - node.allocatedCpuMillis - pod.cpuMillis) / node.cpuMillis : 0;
  const memory =
    node.memoryBytes > 0 ? (node.memoryBytes - node.allocatedMemoryBytes - pod.memoryBytes) / node.memoryBytes : 0;
  return Math.max(0, Math.min(1, (cpu + memory) / 2));
}

/** Least allocated: prefer the node left emptiest, spreading load. */
export const spreadScore: Scorer = (pod, node) => Math.round(freeFractionAfter(pod, node) * 100);

/** Most allocated: prefer the node left fullest, packing pods so whole nodes stay free. */
export const binpackScore: Scorer = (pod, node) => 100 - spreadScore(pod, node);

export interface WeightedScorer {
  scorer: Scorer;
  weight: number;
}

export function scorersFor(policy: SchedulingPolicy): WeightedScorer[] {
  return [{ scorer: policy === "binpack" ? binpackScore : spreadScore, weight: 1 }];
}

/** The weighted mean of the plugins' scores, still 0–100. */
export function totalScore(pod: PodDemand, node: NodeView, scorers: WeightedScorer[]): number {
  const weights = scorers.reduce((sum, s) => sum + s.weight, 0);
  if (weights === 0) return 0;
  return scorers.reduce((sum, s) => sum + s.scorer(pod, node) * s.weight, 0) / weights;
}
