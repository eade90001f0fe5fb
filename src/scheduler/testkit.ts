/**
 * Small builders for the scheduler's tests: a node, a pod, a placed pod, and a look at what one
 * filter or score plugin makes of every node. Plain data, no clock, no randomness.
 */
import { ClusterIndex } from "./cluster.js";
import { podContext } from "./context.js";
import type { Filter } from "./filters.js";
import type { ScorePlugin } from "./scores.js";
import type { NodeView, PlacedPod, PodAffinityTerm, PodDemand, Reason } from "./types.js";

export const GiB = 2 ** 30;
export const HOSTNAME = "kubernetes.io/hostname";
export const ZONE = "topology.kubernetes.io/zone";

export function node(name: string, over: Partial<NodeView> = {}): NodeView {
  return {
    name,
    labels: { [ZONE]: "zone-a", [HOSTNAME]: name },
    cpuMillis: 4000,
    memoryBytes: 8 * GiB,
    maxPods: 110,
    allocatedCpuMillis: 0,
    allocatedMemoryBytes: 0,
    allocatedPods: 0,
    ready: true,
    unschedulable: false,
    ...over,
  };
}

/** A node in a zone, with extra labels. */
export function zoned(name: string, zone: string, labels: Record<string, string> = {}): NodeView {
  return node(name, { labels: { [ZONE]: zone, [HOSTNAME]: name, ...labels } });
}

export function pod(id: string, over: Partial<PodDemand> = {}): PodDemand {
  return { id, namespace: "default", labels: {}, cpuMillis: 100, memoryBytes: 0, ...over };
}

export function placed(nodeName: string, labels: Record<string, string>, over: Partial<PlacedPod> = {}): PlacedPod {
  return { namespace: "default", labels, nodeName, ...over };
}

export function term(matchLabels: Record<string, string>, topologyKey = HOSTNAME): PodAffinityTerm {
  return { labelSelector: { matchLabels }, topologyKey };
}

/** What one filter says of each node, by node name (undefined: the node passes). */
export function verdicts(
  filter: Filter,
  p: PodDemand,
  nodes: NodeView[],
  pods: PlacedPod[] = [],
): Record<string, Reason | undefined> {
  const ctx = podContext(p, new ClusterIndex(nodes, pods));
  const out: Record<string, Reason | undefined> = {};
  nodes.forEach((n, slot) => {
    out[n.name] = filter.appliesTo(ctx) ? filter.check(ctx, n, slot) : undefined;
  });
  return out;
}

/** One score plugin's normalised 0–100 scores over all nodes, by node name; undefined when it does not apply. */
export function scoresOf(
  plugin: ScorePlugin,
  p: PodDemand,
  nodes: NodeView[],
  pods: PlacedPod[] = [],
): Record<string, number> | undefined {
  const ctx = podContext(p, new ClusterIndex(nodes, pods));
  const prepared = plugin.prepare(ctx);
  if (!prepared) return undefined;
  const scores = Float64Array.from(nodes.map((n, slot) => prepared.raw(n, slot)));
  prepared.normalize(scores);
  return Object.fromEntries(nodes.map((n, i) => [n.name, Math.round(scores[i] ?? 0)]));
}
