import { ClusterIndex, compareNames } from "./cluster.js";
import { nodeSelectionOf, spreadStates } from "./context.js";
import { schedule } from "./index.js";
import type { NodeView, PlacedPod, PodDemand, SchedulingPolicy } from "./types.js";

/**
 * Rebalancing, pure (a descheduler in the small). Topology spread is only
 * checked when a pod is placed, so a scale-down, or a node that returns after
 * its pods were replaced elsewhere, can leave a workload skewed beyond its
 * `maxSkew`. This finds, per workload, one pod whose move would reduce the
 * skew, proving the move with the scheduler itself: with the pod taken out,
 * would a replacement land in a domain holding at least two fewer of them? The
 * caller moves a pod replacement-first (the replacement is Ready before the pod
 * goes), so availability never drops; it asks only for stable workloads.
 */
export interface RebalanceGroup {
  /** Names the workload (its ReplicaSet), for the caller. */
  key: string;
  /** Its pods, every one bound, live and ready. */
  pods: readonly { demand: PodDemand; nodeName: string }[];
}

export interface RebalanceInput {
  /** Ready nodes only: a domain that is down is no place to move to. */
  nodes: readonly NodeView[];
  /** The tenant's placed pods, the groups' own among them. */
  placed: readonly (PlacedPod & { id: string })[];
  groups: readonly RebalanceGroup[];
  /** At most this many moves in one answer. */
  maxMoves: number;
  policy?: SchedulingPolicy;
}

export interface Move {
  key: string;
  podId: string;
  topologyKey: string;
  /** The domain it leaves, with how many of the workload's pods it holds, and the domain it would go to. */
  from: { domain: string; count: number };
  to: { domain: string; count: number };
}

export function planRebalance(input: RebalanceInput): Move[] {
  const moves: Move[] = [];
  const groups = [...input.groups].sort((a, b) => compareNames(a.key, b.key));
  for (const group of groups) {
    if (moves.length >= input.maxMoves) break;
    const move = moveFor(group, input);
    if (move) moves.push(move);
  }
  return moves;
}

function moveFor(group: RebalanceGroup, input: RebalanceInput): Move | undefined {
  const first = group.pods[0];
  const constraints = first?.demand.topologySpreadConstraints ?? [];
  if (!first || constraints.length === 0) return undefined;
  const cluster = new ClusterIndex(input.nodes, input.placed);
  const base = { pod: first.demand, cluster, ...nodeSelectionOf(first.demand) };
  const slotOf = new Map(input.nodes.map((n, i) => [n.name, i]));
  for (const state of spreadStates(base, constraints, false)) {
    const { counts, present, topology, constraint } = state;
    let fullest = -1;
    for (let d = 0; d < counts.length; d++) {
      if (present[d] === 1 && (fullest < 0 || (counts[d] ?? 0) > (counts[fullest] ?? 0))) fullest = d;
    }
    const most = counts[fullest] ?? 0;
    if (fullest < 0 || most - state.minMatch <= constraint.maxSkew) continue;
    // The newest name in the fullest domain goes: a stable, seed-free choice.
    const movable = group.pods
      .filter((p) => topology.domainOf[slotOf.get(p.nodeName) ?? -1] === fullest)
      .sort((a, b) => compareNames(b.demand.id, a.demand.id));
    for (const candidate of movable) {
      const without = input.placed.filter((p) => p.id !== candidate.demand.id);
      const probe = { ...candidate.demand, id: `${candidate.demand.id}/move` };
      const result = schedule(probe, input.nodes, { placed: without, policy: input.policy });
      if (!result.ok) continue;
      const target = topology.domainOf[slotOf.get(result.nodeName) ?? -1] ?? -1;
      const targetCount = counts[target] ?? 0;
      if (target < 0 || targetCount > most - 2) continue;
      return {
        key: group.key,
        podId: candidate.demand.id,
        topologyKey: constraint.topologyKey,
        from: { domain: topology.values[fullest] as string, count: most },
        to: { domain: topology.values[target] as string, count: targetCount },
      };
    }
  }
  return undefined;
}
