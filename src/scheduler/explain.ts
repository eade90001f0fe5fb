import { formatBytes, formatCpu } from "../core/quantity.js";
import { FILTERS, failingReasons } from "./filters.js";
import { type ConstraintReport, type NodeView, type PodDemand, Reason, type Unschedulable } from "./types.js";

/**
 * "Why pending": every constraint that ruled out a node, with the smallest change
 * that would make the pod fit. The tenant's text speaks of resources and
 * constraints only; the operator's view adds which nodes each reason ruled out.
 */
export function explainUnschedulable(pod: PodDemand, nodes: NodeView[]): Unschedulable {
  const byReason = new Map<Reason, string[]>();
  for (const node of nodes) {
    for (const reason of failingReasons(pod, node)) {
      byReason.set(reason, [...(byReason.get(reason) ?? []), node.name]);
    }
  }
  const constraints = [...byReason.keys()].map((reason) => ({ reason, suggestion: suggest(reason, pod, nodes) }));
  if (constraints.length === 0) {
    constraints.push({ reason: Reason.InsufficientCpu, suggestion: "the platform needs more capacity of this shape" });
  }
  return {
    ok: false,
    tenantMessage: tenantMessage(pod, constraints),
    constraints,
    operator: [...byReason.entries()].map(([reason, names]) => ({ reason, nodes: names })),
  };
}

/** Nodes that pass every filter except those named: where relaxing just those would help. */
function passingAllBut(pod: PodDemand, nodes: NodeView[], ignored: Reason[]): NodeView[] {
  return nodes.filter((node) => failingReasons(pod, node, FILTERS).every((reason) => ignored.includes(reason)));
}

function suggest(reason: Reason, pod: PodDemand, nodes: NodeView[]): string {
  const more = "the platform needs more capacity of this shape";
  switch (reason) {
    case Reason.InsufficientCpu: {
      const free = Math.max(...passingAllBut(pod, nodes, [reason]).map((n) => n.cpuMillis - n.allocatedCpuMillis), 0);
      return free > 0 ? `lower cpu request to ≤ ${formatCpu(free)}, or ${more}` : more;
    }
    case Reason.InsufficientMemory: {
      const free = Math.max(
        ...passingAllBut(pod, nodes, [reason]).map((n) => n.memoryBytes - n.allocatedMemoryBytes),
        0,
      );
      return free > 0 ? `lower memory request to ≤ ${formatBytes(free)}, or ${more}` : more;
    }
    case Reason.NodeSelectorMismatch:
      return "relax the node selector: no placement with those labels has room";
    case Reason.VolumeElsewhere:
      return "its local volume lives where there is no room or no readiness now; the pod waits for it there, as local volumes do (network storage can move)";
    case Reason.PinnedElsewhere:
      return "it runs only on its own node";
    case Reason.TooManyPods:
    case Reason.NodeNotReady:
    case Reason.NodeCordoned:
      return more;
  }
}

function tenantMessage(pod: PodDemand, constraints: ConstraintReport[]): string {
  const asks = `${formatCpu(pod.cpuMillis)} and ${formatBytes(pod.memoryBytes)}`;
  // Node readiness and cordons are the platform's business: to the tenant they are simply missing capacity.
  const seen = new Set<string>();
  const lines: string[] = [];
  for (const c of constraints) {
    const label =
      c.reason === Reason.NodeNotReady || c.reason === Reason.NodeCordoned || c.reason === Reason.TooManyPods
        ? "no capacity available"
        : c.reason;
    const line = `${label} (${c.suggestion})`;
    if (!seen.has(line)) lines.push(line);
    seen.add(line);
  }
  return `no placement fits the pod's requests of ${asks}: ${lines.join("; ")}`;
}
