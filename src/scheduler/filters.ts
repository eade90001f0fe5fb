import { type NodeView, type PodDemand, Reason } from "./types.js";

/** A feasibility filter: the reason the node cannot take the pod, or undefined when it can. */
export type Filter = (pod: PodDemand, node: NodeView) => Reason | undefined;

export const nodeReady: Filter = (_pod, node) => (node.ready ? undefined : Reason.NodeNotReady);

export const notCordoned: Filter = (_pod, node) => (node.unschedulable ? Reason.NodeCordoned : undefined);

export const nodeSelector: Filter = (pod, node) => {
  for (const [key, value] of Object.entries(pod.nodeSelector ?? {})) {
    if (node.labels[key] !== value) return Reason.NodeSelectorMismatch;
  }
  return undefined;
};

export const cpuFits: Filter = (pod, node) =>
  node.allocatedCpuMillis + pod.cpuMillis > node.cpuMillis ? Reason.InsufficientCpu : undefined;

export const memoryFits: Filter = (pod, node) =>
  node.allocatedMemoryBytes + pod.memoryBytes > node.memoryBytes ? Reason.InsufficientMemory : undefined;

export const podsFit: Filter = (_pod, node) => (node.allocatedPods + 1 > node.maxPods ? Reason.TooManyPods : undefined);

/** A daemon runs on its own node; a pod with a local volume runs where the volume lives. */
export const requiredNode: Filter = (pod, node) => {
  for (const required of pod.requiredNodes ?? []) {
    if (required.node !== node.name) return required.why === "pinned" ? Reason.PinnedElsewhere : Reason.VolumeElsewhere;
  }
  return undefined;
};

/** In order; every filter runs on every node, so that "why pending" sees all of them, not just the first. */
export const FILTERS: Filter[] = [nodeReady, notCordoned, nodeSelector, requiredNode, cpuFits, memoryFits, podsFit];

export function failingReasons(pod: PodDemand, node: NodeView, filters: Filter[] = FILTERS): Reason[] {
  const reasons: Reason[] = [];
  for (const filter of filters) {
    const reason = filter(pod, node);
    if (reason) reasons.push(reason);
  }
  return reasons;
}
