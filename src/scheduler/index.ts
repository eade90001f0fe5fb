import { seededRng } from "../core/rng.js";
import { type ClusterInput, clusterFor } from "./cluster.js";
import { type PodContext, podContext } from "./context.js";
import { explainFor } from "./explain.js";
import { activeFilters, BASIC_FILTERS, type Filter, feasible, fitsBasics } from "./filters.js";
import { type ScorePlugin, scorePlugins } from "./scores.js";
import type { NodeView, PodDemand, ScheduleResult, SchedulingPolicy } from "./types.js";

export { ClusterIndex, type ClusterInput } from "./cluster.js";
export { explainUnschedulable } from "./explain.js";
export * from "./types.js";

export interface ScheduleOptions extends ClusterInput {
  policy?: SchedulingPolicy;
  /**
   * kube-scheduler's `percentageOfNodesToScore`: stop looking once this share of the nodes is found
   * feasible. Default adaptive, as in Kubernetes: 50% less 1% per 125 nodes, at least 5%.
   */
  percentageOfNodesToScore?: number;
}

/** Below this many nodes every node is evaluated (kube-scheduler's minFeasibleNodesToFind). */
const MIN_FEASIBLE_NODES = 100;

/** How many feasible nodes to find before scoring, as kube-scheduler computes it. */
export function numFeasibleNodesToFind(nodeCount: number, percentage?: number): number {
  if (nodeCount < MIN_FEASIBLE_NODES || (percentage ?? 0) >= 100) return nodeCount;
  const share = percentage !== undefined && percentage > 0 ? percentage : Math.max(5, 50 - Math.floor(nodeCount / 125));
  return Math.max(MIN_FEASIBLE_NODES, Math.floor((nodeCount * share) / 100));
}

/**
 * Places one pod: feasibility filters, then weighted scores, then a tie-break drawn from a PRNG seeded
 * by the pod's id, so that a replay places it the same way. On a large cluster the filters stop once
 * enough feasible nodes are found, starting from an offset also drawn from the pod's id so that load
 * spreads over the whole cluster; when none is found every node has been looked at, and "why pending"
 * lists every reason. Pure: the caller binds the result with a conditional write.
 */
export function schedule(pod: PodDemand, nodes: readonly NodeView[], options: ScheduleOptions = {}): ScheduleResult {
  const ctx = podContext(pod, clusterFor(nodes, options));
  const want = numFeasibleNodesToFind(nodes.length, options.percentageOfNodesToScore);
  const candidates = findFeasible(ctx, activeFilters(ctx), want);
  if (candidates.slots.length === 0) return explainFor(ctx);
  const totals = scoreCandidates(ctx, candidates, scorePlugins(options.policy ?? "spread"));
  let best = Number.NEGATIVE_INFINITY;
  for (let i = 0; i < totals.length; i++) best = Math.max(best, totals[i] ?? best);
  const tied = tiedInNameOrder(candidates, totals, best);
  const pick = tied[seededRng(pod.id).int(tied.length)] ?? tied[0];
  if (pick === undefined) return explainFor(ctx);
  return { ok: true, nodeName: (nodes[pick] as NodeView).name, score: best };
}

/** Feasible node slots, each with its rank in name order (rotated: found from a seeded offset). */
interface Candidates {
  readonly slots: number[];
  readonly ranks: number[];
}

/** Node slots that pass every filter, in name order from a seeded offset, stopping after `want` of them. */
function findFeasible(ctx: PodContext, filters: readonly Filter[], want: number): Candidates {
  const { order, nodes } = ctx.cluster;
  const count = order.length;
  const start = want < count ? seededRng(ctx.pod.id).fork("sample").int(count) : 0;
  const others = filters.filter((f) => !BASIC_FILTERS.includes(f));
  const slots: number[] = [];
  const ranks: number[] = [];
  for (let i = 0; i < count && slots.length < want; i++) {
    const rank = (start + i) % count;
    const slot = order[rank] as number;
    const node = nodes[slot] as NodeView;
    if (fitsBasics(ctx, node) && (others.length === 0 || feasible(ctx, others, node, slot))) {
      slots.push(slot);
      ranks.push(rank);
    }
  }
  return { slots, ranks };
}

/**
 * The best-scoring slots in node-name order, so the tie-break does not depend on the caller's order
 * nor on the sampling offset. Candidates were found in name order from an offset, so their ranks
 * wrap around once at most: unrolling that wrap sorts them without comparing names.
 */
function tiedInNameOrder(candidates: Candidates, totals: Float64Array, best: number): number[] {
  const before: number[] = [];
  const after: number[] = [];
  const first = candidates.ranks[0] ?? 0;
  candidates.slots.forEach((slot, i) => {
    if (totals[i] !== best) return;
    if ((candidates.ranks[i] ?? 0) >= first) after.push(slot);
    else before.push(slot);
  });
  return [...before, ...after];
}

/** The weighted mean, 0–100, of the plugins that have something to say about this pod, per candidate. */
function scoreCandidates(
  ctx: PodContext,
  { slots: candidates }: Candidates,
  plugins: readonly ScorePlugin[],
): Float64Array {
  const totals = new Float64Array(candidates.length);
  const scores = new Float64Array(candidates.length);
  let weights = 0;
  for (const plugin of plugins) {
    const prepared = plugin.prepare(ctx);
    if (!prepared) continue;
    for (let i = 0; i < candidates.length; i++) {
      const slot = candidates[i] as number;
      scores[i] = prepared.raw(ctx.cluster.nodes[slot] as NodeView, slot);
    }
    prepared.normalize(scores);
    for (let i = 0; i < candidates.length; i++) totals[i] = (totals[i] ?? 0) + plugin.weight * (scores[i] ?? 0);
    weights += plugin.weight;
  }
  if (weights > 0) for (let i = 0; i < totals.length; i++) totals[i] = (totals[i] ?? 0) / weights;
  return totals;
}
