import type { LabelSelector, Labels } from "../core/labels.js";

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

// Placement constraints in their Kubernetes JSON shapes (core/v1 Affinity, TopologySpreadConstraint),
// so that the caller can hand over `pod.spec.affinity` as it was validated by src/manifest.

export type NodeSelectorOperator = "In" | "NotIn" | "Exists" | "DoesNotExist" | "Gt" | "Lt";

export interface NodeSelectorRequirement {
  key: string;
  operator: NodeSelectorOperator;
  values?: string[];
}

/** The requirements of one term are ANDed; an empty term matches no node, as in Kubernetes. */
export interface NodeSelectorTerm {
  matchExpressions?: NodeSelectorRequirement[];
  /** Only `metadata.name` with In/NotIn is meaningful, as in Kubernetes. */
  matchFields?: NodeSelectorRequirement[];
}

export interface PreferredSchedulingTerm {
  /** 1–100. */
  weight: number;
  preference: NodeSelectorTerm;
}

export interface NodeAffinity {
  /** The terms are ORed. */
  requiredDuringSchedulingIgnoredDuringExecution?: { nodeSelectorTerms: NodeSelectorTerm[] };
  preferredDuringSchedulingIgnoredDuringExecution?: PreferredSchedulingTerm[];
}

export interface PodAffinityTerm {
  /** Absent selects no pod; `{}` selects every pod (Kubernetes semantics). */
  labelSelector?: LabelSelector;
  /** Absent together with `namespaceSelector`: the namespace of the pod that holds the term. */
  namespaces?: string[];
  /**
   * Namespaces by label. Only the label Kubernetes puts on every namespace,
   * `kubernetes.io/metadata.name`, is known here; `{}` selects every namespace (of the tenant).
   */
  namespaceSelector?: LabelSelector;
  topologyKey: string;
  /** Label keys whose values on the holding pod are added to the selector (`key in (value)`). */
  matchLabelKeys?: string[];
  /** Label keys whose values on the holding pod are excluded (`key notin (value)`). */
  mismatchLabelKeys?: string[];
}

export interface WeightedPodAffinityTerm {
  /** 1–100. */
  weight: number;
  podAffinityTerm: PodAffinityTerm;
}

export interface PodAffinity {
  /** Every term must hold. */
  requiredDuringSchedulingIgnoredDuringExecution?: PodAffinityTerm[];
  preferredDuringSchedulingIgnoredDuringExecution?: WeightedPodAffinityTerm[];
}

export interface Affinity {
  nodeAffinity?: NodeAffinity;
  podAffinity?: PodAffinity;
  podAntiAffinity?: PodAffinity;
}

export interface TopologySpreadConstraint {
  /** At least 1. */
  maxSkew: number;
  topologyKey: string;
  whenUnsatisfiable: "DoNotSchedule" | "ScheduleAnyway";
  /** Absent counts no pod. */
  labelSelector?: LabelSelector;
  /** With DoNotSchedule: fewer eligible domains than this count the global minimum as 0. */
  minDomains?: number;
  /** `Honor` (default): only nodes passing the pod's node selector and node affinity are domains. */
  nodeAffinityPolicy?: "Honor" | "Ignore";
  /** Nodes carry no taints here, so either value behaves as `Ignore`. */
  nodeTaintsPolicy?: "Honor" | "Ignore";
  matchLabelKeys?: string[];
}

/** What a pod asks of a node. */
export interface PodDemand {
  /** Seeds the tie-break, so the same pod on the same cluster always lands in the same place. */
  id: string;
  namespace: string;
  labels: Labels;
  cpuMillis: number;
  memoryBytes: number;
  nodeSelector?: Record<string, string>;
  affinity?: Affinity;
  topologySpreadConstraints?: TopologySpreadConstraint[];
  /** A node the pod must run on: a daemon's own node, or where its local volume lives. */
  requiredNodes?: { node: string; why: "pinned" | "volume" }[];
}

/**
 * A live pod already bound to a node, as far as placement cares: what selectors see of it and the
 * affinity it holds (its required anti-affinity repels newcomers; its preferences attract or repel them).
 * The caller passes only the tenant's own pods.
 */
export interface PlacedPod {
  namespace: string;
  labels: Labels;
  nodeName: string;
  affinity?: Affinity;
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
  NodeAffinityMismatch: "node affinity mismatch",
  PinnedElsewhere: "pinned to another node",
  VolumeElsewhere: "volume node affinity conflict",
  PodAffinityMismatch: "pod affinity not satisfied",
  PodAntiAffinity: "pod anti-affinity",
  ExistingPodAntiAffinity: "existing pods' anti-affinity",
  TopologySpread: "topology spread constraint",
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
  /** The same constraints as structured data for the tenant view: one entry per failing constraint (or term). */
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
