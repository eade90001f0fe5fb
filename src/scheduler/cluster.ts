import { canonicalJson } from "../core/hash.js";
import { type Labels, NODE_NAME_LABEL } from "../core/labels.js";
import { type PodMatcher, spreadMatcher, termMatcher } from "./selectors.js";
import type { NodeView, PlacedPod, PodAffinityTerm, TopologySpreadConstraint } from "./types.js";

/** The topology every node has, even one registered without the label: the node itself. */
export const HOSTNAME_KEY = NODE_NAME_LABEL;

// Caches are bounded; past the bound they are dropped and rebuilt on demand (counts stay exact).
const MAX_TOPOLOGIES = 64;
const MAX_COUNTERS = 512;
const MAX_MATCHERS = 4096;

/** The domains of one topology key: each node's domain as a small integer, so counts live in typed arrays. */
export interface Topology {
  readonly key: string;
  /** Per node slot: its domain, or -1 when the node lacks the label. */
  readonly domainOf: Int32Array;
  /** Per domain: the label value. */
  readonly values: readonly string[];
  /** How many nodes lack the label. */
  readonly missing: number;
}

/** How many placed pods one matcher selects, per node and, on demand, per domain of a topology key. */
export interface PodCounter {
  readonly matcher: PodMatcher;
  readonly perNode: Int32Array;
  total: number;
  readonly byKey: Map<string, Int32Array>;
}

/**
 * The placed pods' own affinity terms, grouped by what they select and where: "filter" groups are
 * required anti-affinity (it repels a matching newcomer, symmetrically), "score" groups are the
 * preferences and required affinity that attract (+weight) or repel (−weight) a matching newcomer.
 */
export interface TermGroup {
  readonly kind: "filter" | "score";
  readonly matcher: PodMatcher;
  readonly term: PodAffinityTerm;
  readonly topology: Topology;
  /** Per domain: held weight (for "filter" groups, how many holders). */
  readonly byDomain: Float64Array;
  holders: number;
}

interface HeldTerm {
  kind: TermGroup["kind"];
  term: PodAffinityTerm;
  weight: number;
}

/** Every term a placed pod holds that affects a newcomer, with its signed weight (Kubernetes' hard affinity weight is 1). */
function heldTerms(pod: PlacedPod): HeldTerm[] {
  const held: HeldTerm[] = [];
  const { podAffinity, podAntiAffinity } = pod.affinity ?? {};
  for (const term of podAntiAffinity?.requiredDuringSchedulingIgnoredDuringExecution ?? []) {
    held.push({ kind: "filter", term, weight: 1 });
  }
  for (const term of podAffinity?.requiredDuringSchedulingIgnoredDuringExecution ?? []) {
    held.push({ kind: "score", term, weight: 1 });
  }
  for (const { weight, podAffinityTerm } of podAffinity?.preferredDuringSchedulingIgnoredDuringExecution ?? []) {
    held.push({ kind: "score", term: podAffinityTerm, weight });
  }
  for (const { weight, podAffinityTerm } of podAntiAffinity?.preferredDuringSchedulingIgnoredDuringExecution ?? []) {
    held.push({ kind: "score", term: podAffinityTerm, weight: -weight });
  }
  return held;
}

function samePod(a: PlacedPod, b: PlacedPod): boolean {
  return (
    a === b ||
    (a.namespace === b.namespace &&
      canonicalJson(a.labels) === canonicalJson(b.labels) &&
      canonicalJson(a.affinity ?? null) === canonicalJson(b.affinity ?? null))
  );
}

/**
 * What placement needs to know about the cluster, kept up to date one bind at a time instead of
 * rescanning every placed pod for every node: pods per node, lazily built counts of the pods each
 * selector matches per node and per topology domain, and the placed pods' own affinity terms.
 *
 * Resources are read live from the `NodeView` objects, so the caller updates a node's allocation in
 * place after a bind and calls `place` for the pod. When the node list itself changes (a node added,
 * removed or relabelled), build a new index. Pure: no I/O, no clock.
 */
export class ClusterIndex {
  readonly nodes: readonly NodeView[];
  /** Node slots (positions in `nodes`) in name order, so that sampling and ties ignore the caller's order. */
  readonly order: Int32Array;
  private readonly slotByName = new Map<string, number>();
  private readonly podsBySlot: PlacedPod[][];
  private readonly topologies = new Map<string, Topology>();
  private readonly counters = new Map<string, PodCounter>();
  private readonly groups = new Map<string, TermGroup>();
  private readonly matchers = new Map<string, PodMatcher>();

  constructor(nodes: readonly NodeView[], placed: readonly PlacedPod[] = []) {
    this.nodes = nodes;
    const slots = nodes.map((_, slot) => slot);
    slots.sort((a, b) => compareNames(nodes[a]?.name ?? "", nodes[b]?.name ?? ""));
    this.order = Int32Array.from(slots);
    nodes.forEach((node, slot) => {
      this.slotByName.set(node.name, slot);
    });
    this.podsBySlot = nodes.map(() => []);
    for (const pod of placed) this.place(pod);
  }

  /** True when this index was built over exactly this node list. */
  isFor(nodes: readonly NodeView[]): boolean {
    return nodes === this.nodes && nodes.length === this.order.length;
  }

  slotOf(nodeName: string): number | undefined {
    return this.slotByName.get(nodeName);
  }

  /** Records a pod bound to `pod.nodeName`. A pod on a node the index does not know is ignored (false). */
  place(pod: PlacedPod): boolean {
    const slot = this.slotByName.get(pod.nodeName);
    if (slot === undefined) return false;
    this.podsBySlot[slot]?.push(pod);
    this.adjust(pod, slot, 1);
    return true;
  }

  /** Forgets one pod bound to `pod.nodeName` (the same object, or one with equal namespace, labels and affinity). */
  remove(pod: PlacedPod): boolean {
    const slot = this.slotByName.get(pod.nodeName);
    const pods = slot === undefined ? undefined : this.podsBySlot[slot];
    if (slot === undefined || !pods) return false;
    let at = pods.indexOf(pod);
    if (at < 0) at = pods.findIndex((other) => samePod(other, pod));
    if (at < 0) return false;
    const [removed] = pods.splice(at, 1);
    if (removed) this.adjust(removed, slot, -1);
    return true;
  }

  private adjust(pod: PlacedPod, slot: number, delta: 1 | -1): void {
    for (const counter of this.counters.values()) {
      if (counter.matcher.matches(pod.namespace, pod.labels)) this.bump(counter, slot, delta);
    }
    if (pod.affinity) {
      for (const held of heldTerms(pod)) this.adjustGroup(pod, slot, held, delta);
    }
  }

  private bump(counter: PodCounter, slot: number, delta: number): void {
    counter.perNode[slot] = (counter.perNode[slot] ?? 0) + delta;
    counter.total += delta;
    for (const [key, counts] of counter.byKey) {
      const domain = this.topology(key).domainOf[slot] ?? -1;
      if (domain >= 0) counts[domain] = (counts[domain] ?? 0) + delta;
    }
  }

  private adjustGroup(pod: PlacedPod, slot: number, held: HeldTerm, delta: number): void {
    const topology = this.topology(held.term.topologyKey);
    const domain = topology.domainOf[slot] ?? -1;
    // A holder on a node without the topology label constrains nobody, as in Kubernetes.
    if (domain < 0) return;
    const matcher = this.termMatcher(held.term, pod.namespace, pod.labels);
    const id = `${held.kind}|${held.term.topologyKey}|${matcher.key}`;
    let group = this.groups.get(id);
    if (!group) {
      if (delta < 0) return;
      group = {
        kind: held.kind,
        matcher,
        term: held.term,
        topology,
        byDomain: new Float64Array(topology.values.length),
        holders: 0,
      };
      this.groups.set(id, group);
    }
    group.byDomain[domain] = (group.byDomain[domain] ?? 0) + held.weight * delta;
    group.holders += delta;
    if (group.holders <= 0) this.groups.delete(id);
  }

  /**
   * `termMatcher`, remembered: pods of one workload carry equal terms, and building a matcher's
   * canonical key costs more than the JSON text that finds it again.
   */
  termMatcher(term: PodAffinityTerm, namespace: string, labels: Labels): PodMatcher {
    const usesLabels = (term.matchLabelKeys ?? []).length > 0 || (term.mismatchLabelKeys ?? []).length > 0;
    return this.remember(`t\0${namespace}\0${JSON.stringify(term)}${usesLabels ? JSON.stringify(labels) : ""}`, () =>
      termMatcher(term, namespace, labels),
    );
  }

  /** `spreadMatcher`, remembered. */
  spreadMatcher(constraint: TopologySpreadConstraint, namespace: string, labels: Labels): PodMatcher {
    const usesLabels = (constraint.matchLabelKeys ?? []).length > 0;
    const text = `${JSON.stringify(constraint.labelSelector ?? null)}${JSON.stringify(constraint.matchLabelKeys ?? [])}`;
    return this.remember(`s\0${namespace}\0${text}${usesLabels ? JSON.stringify(labels) : ""}`, () =>
      spreadMatcher(constraint, namespace, labels),
    );
  }

  private remember(key: string, build: () => PodMatcher): PodMatcher {
    const cached = this.matchers.get(key);
    if (cached) return cached;
    if (this.matchers.size >= MAX_MATCHERS) this.matchers.clear();
    const matcher = build();
    this.matchers.set(key, matcher);
    return matcher;
  }

  /** The domains of a topology key over this index's nodes (numbered in slot order, so rebuilding gives the same numbers). */
  topology(key: string): Topology {
    const cached = this.topologies.get(key);
    if (cached) return cached;
    if (this.topologies.size >= MAX_TOPOLOGIES) this.topologies.clear();
    const domainOf = new Int32Array(this.nodes.length);
    const ids = new Map<string, number>();
    const values: string[] = [];
    let missing = 0;
    this.nodes.forEach((node, slot) => {
      const value = node.labels[key] ?? (key === HOSTNAME_KEY ? node.name : undefined);
      if (value === undefined) {
        domainOf[slot] = -1;
        missing++;
        return;
      }
      let id = ids.get(value);
      if (id === undefined) {
        id = values.length;
        ids.set(value, id);
        values.push(value);
      }
      domainOf[slot] = id;
    });
    const topology = { key, domainOf, values, missing };
    this.topologies.set(key, topology);
    return topology;
  }

  /** How many placed pods the matcher selects, per node; built on first use, then kept up to date by `place`/`remove`. */
  counter(matcher: PodMatcher): PodCounter {
    const cached = this.counters.get(matcher.key);
    if (cached) return cached;
    if (this.counters.size >= MAX_COUNTERS) this.counters.clear();
    const counter: PodCounter = { matcher, perNode: new Int32Array(this.nodes.length), total: 0, byKey: new Map() };
    this.podsBySlot.forEach((pods, slot) => {
      for (const pod of pods) {
        if (matcher.matches(pod.namespace, pod.labels)) {
          counter.perNode[slot] = (counter.perNode[slot] ?? 0) + 1;
          counter.total++;
        }
      }
    });
    this.counters.set(matcher.key, counter);
    return counter;
  }

  /** The counter's pods summed per domain of the topology; kept up to date once asked for. */
  countsByDomain(counter: PodCounter, topology: Topology): Int32Array {
    const cached = counter.byKey.get(topology.key);
    if (cached) return cached;
    const counts = new Int32Array(topology.values.length);
    for (let slot = 0; slot < counter.perNode.length; slot++) {
      const domain = topology.domainOf[slot] ?? -1;
      if (domain >= 0) counts[domain] = (counts[domain] ?? 0) + (counter.perNode[slot] ?? 0);
    }
    counter.byKey.set(topology.key, counts);
    return counts;
  }

  /** The placed pods' affinity terms, grouped; see `TermGroup`. */
  termGroups(): IterableIterator<TermGroup> {
    return this.groups.values();
  }
}

export interface ClusterInput {
  /** Live pods already bound to nodes (the tenant's own); ignored when `index` is given. */
  placed?: readonly PlacedPod[];
  /** An index built over exactly the same `nodes` array and kept up to date by the caller. */
  index?: ClusterIndex;
}

/** The caller's index, or one built for this call from `placed` (none: an empty cluster of pods). */
export function clusterFor(nodes: readonly NodeView[], input: ClusterInput): ClusterIndex {
  if (!input.index) return new ClusterIndex(nodes, input.placed ?? []);
  // A programming error, not a placement outcome: counts kept for other nodes would silently be wrong.
  if (!input.index.isFor(nodes))
    throw new Error("the ClusterIndex passed to schedule was built over another node list");
  return input.index;
}

/** Plain code-unit order, the same on every machine (no locale). */
export function compareNames(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
