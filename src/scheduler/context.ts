import type { ClusterIndex, TermGroup, Topology } from "./cluster.js";
import { allOf, matchesAnyTerm } from "./selectors.js";
import type { NodeSelectorTerm, NodeView, PodAffinityTerm, PodDemand, TopologySpreadConstraint } from "./types.js";

/** One of the pod's own pod-affinity terms, with the counts of the pods it selects per domain. */
export interface TermState {
  readonly term: PodAffinityTerm;
  readonly topology: Topology;
  readonly counts: Int32Array;
}

export interface AffinityState {
  readonly terms: readonly TermState[];
  /** No placed pod satisfies the terms anywhere (Kubernetes then lets a pod that satisfies them itself go first). */
  readonly noneAnywhere: boolean;
  readonly selfMatch: boolean;
}

export interface SpreadState {
  readonly constraint: TopologySpreadConstraint;
  readonly topology: Topology;
  /** Matching pods per domain, counting only eligible nodes. */
  readonly counts: Int32Array;
  /** Per domain: 1 when at least one eligible node is in it. */
  readonly present: Uint8Array;
  readonly domains: number;
  /** The global minimum the skew is measured from (0 when there are fewer domains than `minDomains`). */
  readonly minMatch: number;
  /** 1 when the pod matches its own constraint's selector, so placing it adds one. */
  readonly selfMatch: number;
}

/**
 * Everything about one pod that does not depend on the node, computed once per scheduling call so
 * that the per-node filters and scores are array lookups.
 */
export interface PodContext {
  readonly pod: PodDemand;
  readonly cluster: ClusterIndex;
  readonly nodeSelector: readonly (readonly [string, string])[];
  readonly requiredTerms: readonly NodeSelectorTerm[] | undefined;
  /** The pod's required anti-affinity terms that select at least one placed pod. */
  readonly antiTerms: readonly TermState[];
  readonly affinity: AffinityState | undefined;
  /** Placed pods' required anti-affinity that selects this pod: it keeps the pod out of their domains. */
  readonly repelling: readonly TermGroup[];
  /** DoNotSchedule spread constraints. */
  readonly spread: readonly SpreadState[];
}

export function podContext(pod: PodDemand, cluster: ClusterIndex): PodContext {
  const base = { pod, cluster, ...nodeSelectionOf(pod) };
  const hard = (pod.topologySpreadConstraints ?? []).filter((c) => c.whenUnsatisfiable === "DoNotSchedule");
  return {
    ...base,
    antiTerms: antiTermStates(pod, cluster),
    affinity: affinityState(pod, cluster),
    repelling: repellingGroups(pod, cluster),
    spread: hard.length > 0 ? spreadStates(base, hard, true) : [],
  };
}

/** The pod's node selector and required node affinity, in the shape the filters read. */
export function nodeSelectionOf(pod: PodDemand): Pick<PodContext, "nodeSelector" | "requiredTerms"> {
  return {
    nodeSelector: Object.entries(pod.nodeSelector ?? {}),
    requiredTerms: pod.affinity?.nodeAffinity?.requiredDuringSchedulingIgnoredDuringExecution?.nodeSelectorTerms,
  };
}

/** The pod's node selector and required node affinity: what decides which nodes are its candidates at all. */
export function passesNodeSelection(ctx: Pick<PodContext, "nodeSelector" | "requiredTerms">, node: NodeView): boolean {
  for (const [key, value] of ctx.nodeSelector) if (node.labels[key] !== value) return false;
  return ctx.requiredTerms === undefined || matchesAnyTerm(node, ctx.requiredTerms);
}

function antiTermStates(pod: PodDemand, cluster: ClusterIndex): TermState[] {
  const terms = pod.affinity?.podAntiAffinity?.requiredDuringSchedulingIgnoredDuringExecution ?? [];
  const states: TermState[] = [];
  for (const term of terms) {
    // A term that selects no placed pod cannot rule anything out: skip it in the hot loop.
    const counter = cluster.counter(cluster.termMatcher(term, pod.namespace, pod.labels));
    if (counter.total === 0) continue;
    const topology = cluster.topology(term.topologyKey);
    states.push({ term, topology, counts: cluster.countsByDomain(counter, topology) });
  }
  return states;
}

/** Kubernetes counts, for required affinity, the placed pods that satisfy every term at once. */
function affinityState(pod: PodDemand, cluster: ClusterIndex): AffinityState | undefined {
  const terms = pod.affinity?.podAffinity?.requiredDuringSchedulingIgnoredDuringExecution ?? [];
  if (terms.length === 0) return undefined;
  const matchers = terms.map((term) => cluster.termMatcher(term, pod.namespace, pod.labels));
  const counter = cluster.counter(allOf(matchers));
  const states = terms.map((term) => {
    const topology = cluster.topology(term.topologyKey);
    return { term, topology, counts: cluster.countsByDomain(counter, topology) };
  });
  return {
    terms: states,
    noneAnywhere: counter.total === 0 || states.every((s) => s.counts.every((n) => n === 0)),
    selfMatch: matchers.every((m) => m.matches(pod.namespace, pod.labels)),
  };
}

function repellingGroups(pod: PodDemand, cluster: ClusterIndex): TermGroup[] {
  const groups: TermGroup[] = [];
  for (const group of cluster.termGroups()) {
    if (group.kind === "filter" && group.matcher.matches(pod.namespace, pod.labels)) groups.push(group);
  }
  return groups;
}

/**
 * Counts per domain for spread constraints. Domains are the key's values among eligible nodes: those
 * that carry every key of the constraints and (unless `nodeAffinityPolicy: Ignore`) pass the pod's node
 * selector and node affinity. When every node is eligible, the index's running counts are used as they
 * are; otherwise one pass over the nodes sums them.
 */
export function spreadStates(
  ctx: Pick<PodContext, "pod" | "cluster" | "nodeSelector" | "requiredTerms">,
  constraints: readonly TopologySpreadConstraint[],
  hard: boolean,
): SpreadState[] {
  const { pod, cluster } = ctx;
  const topologies = constraints.map((c) => cluster.topology(c.topologyKey));
  const everyNodeHasKeys = topologies.every((t) => t.missing === 0);
  const selects = ctx.nodeSelector.length > 0 || ctx.requiredTerms !== undefined;
  let selected: Uint8Array | undefined;
  return constraints.map((constraint, i) => {
    const topology = topologies[i] as Topology;
    const matcher = cluster.spreadMatcher(constraint, pod.namespace, pod.labels);
    const counter = cluster.counter(matcher);
    const honor = (constraint.nodeAffinityPolicy ?? "Honor") === "Honor";
    let counts: Int32Array;
    let present: Uint8Array;
    if (everyNodeHasKeys && (!selects || !honor)) {
      counts = cluster.countsByDomain(counter, topology);
      present = new Uint8Array(topology.values.length).fill(1);
    } else {
      selected ??= eligibleNodes(ctx, topologies);
      counts = new Int32Array(topology.values.length);
      present = new Uint8Array(topology.values.length);
      for (let slot = 0; slot < cluster.nodes.length; slot++) {
        const domain = topology.domainOf[slot] ?? -1;
        if (domain < 0 || selected[slot] === 0 || (honor && selected[slot] === 1)) continue;
        present[domain] = 1;
        counts[domain] = (counts[domain] ?? 0) + (counter.perNode[slot] ?? 0);
      }
    }
    let domains = 0;
    let minMatch = Number.POSITIVE_INFINITY;
    for (let d = 0; d < counts.length; d++) {
      if (present[d] !== 1) continue;
      domains++;
      minMatch = Math.min(minMatch, counts[d] ?? 0);
    }
    if (domains === 0 || (hard && domains < (constraint.minDomains ?? 1))) minMatch = 0;
    const selfMatch = matcher.matches(pod.namespace, pod.labels) ? 1 : 0;
    return { constraint, topology, counts, present, domains, minMatch, selfMatch };
  });
}

/** Per node: 0 lacks a key, 1 has every key but fails node selection, 2 has every key and passes it. */
function eligibleNodes(
  ctx: Pick<PodContext, "cluster" | "nodeSelector" | "requiredTerms">,
  topologies: readonly Topology[],
): Uint8Array {
  const nodes = ctx.cluster.nodes;
  const out = new Uint8Array(nodes.length);
  for (let slot = 0; slot < nodes.length; slot++) {
    if (topologies.some((t) => (t.domainOf[slot] ?? -1) < 0)) continue;
    out[slot] = passesNodeSelection(ctx, nodes[slot] as NodeView) ? 2 : 1;
  }
  return out;
}
