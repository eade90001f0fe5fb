/** What the scheduler sees of a node: capacity, what is already allocated, and whether it takes pods. */
export interface NodeView {
  name: string;
  labels: Record<string, string>;
  cpuMillis: number;
  memoryBytes: number;
  maxPods: number;
  allocatedCpuMillis: number;
  allocatedMemoryBytes: number;
  allocatedPods: number;
  ready: boolean;
  unschedulable: boolean;
}

/** What a pod asks of a node. */
export interface PodDemand {
  /** Seeds the tie-break, so the same pod on the same cluster always lands in the same place. */
  id: string;
  cpuMillis: number;
  memoryBytes: number;
  nodeSelector?: Record<string, string>;
  /** A node the pod must run on: a daemon's own node, or where its local volume lives. */
  requiredNodes?: { node: string; why: "pinned" | "volume" }[];
}

export type SchedulingPolicy = "spread" | "binpack";

/** Why a node was ruled out. Constants, so "why pending" can count them. */
export const Reason = {
  NodeNotReady: "node not ready",
  NodeCordoned: "node cordoned",
  InsufficientCpu: "insufficient cpu",
  InsufficientMemory: "insufficient memory",
  TooManyPods: "too many pods",
  NodeSelectorMismatch: "node selector mismatch",
  PinnedElsewhere: "pinned to another node",
  VolumeElsewhere: "volume node affinity conflict",
} as const;
export type Reason = (typeof Reason)[keyof typeof Reason];

export interface Placement {
  ok: true;
  nodeName: string;
  score: number;
}

export interface Unschedulable {
  ok: false;
  /** Every constraint that ruled out at least one node, phrased for the tenant: resources and constraints, never nodes. */
  tenantMessage: string;
  /** The same constraints as structured data for the tenant view. */
  constraints: ConstraintReport[];
  /** For the operator only: how many nodes each reason ruled out, and which. */
  operator: { reason: Reason; nodes: string[] }[];
}

export interface ConstraintReport {
  reason: Reason;
  /** The smallest change that would make the pod fit, in tenant terms. */
  suggestion: string;
}

export type ScheduleResult = Placement | Unschedulable;
