import type { Topology } from "./cluster.js";
import { type PodContext, spreadStates } from "./context.js";
import { matchesNodeSelectorTerm } from "./selectors.js";
import type { NodeView, PodDemand, SchedulingPolicy, WeightedPodAffinityTerm } from "./types.js";

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

/** A score plugin as prepared for one pod: raw per node, then normalised over the candidates onto 0–100. */
export interface PreparedScore {
  /** NaN marks a node the plugin ignores (it then scores 0 after normalising). */
  raw(node: NodeView, slot: number): number;
  /** Maps the candidates' raw scores, in place, onto 0–100. */
  normalize(scores: Float64Array): void;
}

export interface ScorePlugin {
  readonly name: string;
  readonly weight: number;
  /** Undefined when the plugin has nothing to say about this pod; it is then left out of the weighted mean. */
  prepare(ctx: PodContext): PreparedScore | undefined;
}

const asIs = (): void => {};

/** The cluster policy: `spread` (least allocated) or `binpack` (most allocated). */
export function policyScore(policy: SchedulingPolicy): ScorePlugin {
  const scorer = policy === "binpack" ? binpackScore : spreadScore;
  return {
    name: policy,
    weight: 1,
    prepare: (ctx) => ({ raw: (node) => scorer(ctx.pod, node), normalize: asIs }),
  };
}

/** Kubernetes' default normalisation: scaled so the best candidate scores 100; all zero stays zero. */
function scaleToMax(scores: Float64Array): void {
  let max = 0;
  for (let i = 0; i < scores.length; i++) max = Math.max(max, scores[i] ?? 0);
  for (let i = 0; i < scores.length; i++) scores[i] = max > 0 ? (100 * (scores[i] ?? 0)) / max : 0;
}

/** Min–max onto 0–100; when every candidate scores the same, all get 0 (InterPodAffinity's normalisation). */
function minMax(scores: Float64Array): void {
  let min = Number.POSITIVE_INFINITY;
  let max = Number.NEGATIVE_INFINITY;
  for (let i = 0; i < scores.length; i++) {
    const s = scores[i] ?? 0;
    min = Math.min(min, s);
    max = Math.max(max, s);
  }
  for (let i = 0; i < scores.length; i++) scores[i] = max > min ? (100 * ((scores[i] ?? 0) - min)) / (max - min) : 0;
}

/** Preferred node affinity: the sum of the weights of the preferred terms the node matches. */
export const nodeAffinityScore: ScorePlugin = {
  name: "nodeAffinity",
  weight: 2,
  prepare: (ctx) => {
    const preferred = ctx.pod.affinity?.nodeAffinity?.preferredDuringSchedulingIgnoredDuringExecution ?? [];
    if (preferred.length === 0) return undefined;
    return {
      raw: (node) => {
        let sum = 0;
        for (const { weight, preference } of preferred) if (matchesNodeSelectorTerm(node, preference)) sum += weight;
        return sum;
      },
      normalize: scaleToMax,
    };
  },
};

interface WeightedDomains {
  topology: Topology;
  weight: number;
  byDomain: Int32Array | Float64Array;
}

/**
 * Preferred pod affinity (+weight per matching pod in the node's domain) and anti-affinity (−weight),
 * and, symmetrically, the placed pods' preferences and required affinity that select this pod.
 */
export const interPodAffinityScore: ScorePlugin = {
  name: "interPodAffinity",
  weight: 2,
  prepare: (ctx) => {
    const { pod, cluster } = ctx;
    const parts: WeightedDomains[] = [];
    const add = (sign: 1 | -1, terms: readonly WeightedPodAffinityTerm[]): void => {
      for (const { weight, podAffinityTerm: term } of terms) {
        const counter = cluster.counter(cluster.termMatcher(term, pod.namespace, pod.labels));
        if (counter.total === 0) continue;
        const topology = cluster.topology(term.topologyKey);
        parts.push({ topology, weight: sign * weight, byDomain: cluster.countsByDomain(counter, topology) });
      }
    };
    add(1, pod.affinity?.podAffinity?.preferredDuringSchedulingIgnoredDuringExecution ?? []);
    add(-1, pod.affinity?.podAntiAffinity?.preferredDuringSchedulingIgnoredDuringExecution ?? []);
    for (const group of cluster.termGroups()) {
      if (group.kind === "score" && group.matcher.matches(pod.namespace, pod.labels)) {
        parts.push({ topology: group.topology, weight: 1, byDomain: group.byDomain });
      }
    }
    if (parts.length === 0) return undefined;
    return {
      raw: (_node, slot) => {
        let sum = 0;
        for (const part of parts) {
          const domain = part.topology.domainOf[slot] ?? -1;
          if (domain >= 0) sum += part.weight * (part.byDomain[domain] ?? 0);
        }
        return sum;
      },
      normalize: minMax,
    };
  },
};

/** `whenUnsatisfiable: ScheduleAnyway`: fewer matching pods in the node's domain scores higher. */
export const topologySpreadScore: ScorePlugin = {
  name: "topologySpread",
  weight: 2,
  prepare: (ctx) => {
    const soft = (ctx.pod.topologySpreadConstraints ?? []).filter((c) => c.whenUnsatisfiable === "ScheduleAnyway");
    if (soft.length === 0) return undefined;
    const states = spreadStates(ctx, soft, false);
    // Kubernetes weighs a constraint by the log of its domain count, so many small domains do not drown few large ones.
    const weights = states.map((s) => Math.log(s.domains + 2));
    return {
      raw: (_node, slot) => {
        let sum = 0;
        for (let i = 0; i < states.length; i++) {
          const state = states[i];
          if (!state) continue;
          const domain = state.topology.domainOf[slot] ?? -1;
          if (domain < 0 || state.present[domain] !== 1) return Number.NaN;
          sum += (state.counts[domain] ?? 0) * (weights[i] ?? 1) + state.constraint.maxSkew - 1;
        }
        return sum;
      },
      normalize: (scores) => {
        let min = Number.POSITIVE_INFINITY;
        let max = 0;
        for (let i = 0; i < scores.length; i++) {
          const s = scores[i] ?? Number.NaN;
          if (Number.isNaN(s)) continue;
          min = Math.min(min, s);
          max = Math.max(max, s);
        }
        for (let i = 0; i < scores.length; i++) {
          const s = scores[i] ?? Number.NaN;
          scores[i] = Number.isNaN(s) ? 0 : max === 0 ? 100 : (100 * (max + min - s)) / max;
        }
      },
    };
  },
};

export function scorePlugins(policy: SchedulingPolicy): ScorePlugin[] {
  return [policyScore(policy), nodeAffinityScore, interPodAffinityScore, topologySpreadScore];
}
