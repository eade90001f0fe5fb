import type { TermGroup } from "./cluster.js";
import type { PodContext, SpreadState, TermState } from "./context.js";
import { matchesAnyTerm } from "./selectors.js";
import { type NodeView, Reason } from "./types.js";

/**
 * A feasibility filter. `check` returns the reason the node cannot take the pod, or undefined when it
 * can; saying no is not an error. `appliesTo` is false when the filter cannot rule out any node for
 * this pod, so the hot loop skips it (explanations skip it too: it would find nothing).
 */
export interface Filter {
  readonly name: string;
  appliesTo(ctx: PodContext): boolean;
  check(ctx: PodContext, node: NodeView, slot: number): Reason | undefined;
}

const always = (): boolean => true;

export const nodeReady: Filter = {
  name: "nodeReady",
  appliesTo: always,
  check: (_ctx, node) => (node.ready ? undefined : Reason.NodeNotReady),
};

export const notCordoned: Filter = {
  name: "notCordoned",
  appliesTo: always,
  check: (_ctx, node) => (node.unschedulable ? Reason.NodeCordoned : undefined),
};

export const cpuFits: Filter = {
  name: "cpuFits",
  appliesTo: always,
  check: (ctx, node) =>
    node.allocatedCpuMillis + ctx.pod.cpuMillis > node.cpuMillis ? Reason.InsufficientCpu : undefined,
};

export const memoryFits: Filter = {
  name: "memoryFits",
  appliesTo: always,
  check: (ctx, node) =>
    node.allocatedMemoryBytes + ctx.pod.memoryBytes > node.memoryBytes ? Reason.InsufficientMemory : undefined,
};

export const podsFit: Filter = {
  name: "podsFit",
  appliesTo: always,
  check: (_ctx, node) => (node.allocatedPods + 1 > node.maxPods ? Reason.TooManyPods : undefined),
};

export const nodeSelector: Filter = {
  name: "nodeSelector",
  appliesTo: (ctx) => ctx.nodeSelector.length > 0,
  check: (ctx, node) => {
    for (const [key, value] of ctx.nodeSelector) if (node.labels[key] !== value) return Reason.NodeSelectorMismatch;
    return undefined;
  },
};

/** Required node affinity: at least one of the terms must match the node's labels. */
export const nodeAffinity: Filter = {
  name: "nodeAffinity",
  appliesTo: (ctx) => ctx.requiredTerms !== undefined,
  check: (ctx, node) =>
    ctx.requiredTerms === undefined || matchesAnyTerm(node, ctx.requiredTerms)
      ? undefined
      : Reason.NodeAffinityMismatch,
};

/** A daemon runs on its own node; a pod with a local volume runs where the volume lives. */
export const requiredNode: Filter = {
  name: "requiredNode",
  appliesTo: (ctx) => (ctx.pod.requiredNodes ?? []).length > 0,
  check: (ctx, node) => {
    for (const required of ctx.pod.requiredNodes ?? []) {
      if (required.node !== node.name)
        return required.why === "pinned" ? Reason.PinnedElsewhere : Reason.VolumeElsewhere;
    }
    return undefined;
  },
};

/** The pod's required anti-affinity terms that a placed pod in the node's domain violates. */
export function blockingAntiTerms(ctx: PodContext, slot: number): TermState[] {
  return ctx.antiTerms.filter((s) => {
    const domain = s.topology.domainOf[slot] ?? -1;
    return domain >= 0 && (s.counts[domain] ?? 0) > 0;
  });
}

export const podAntiAffinity: Filter = {
  name: "podAntiAffinity",
  appliesTo: (ctx) => ctx.antiTerms.length > 0,
  check: (ctx, _node, slot) => {
    for (const s of ctx.antiTerms) {
      const domain = s.topology.domainOf[slot] ?? -1;
      if (domain >= 0 && (s.counts[domain] ?? 0) > 0) return Reason.PodAntiAffinity;
    }
    return undefined;
  },
};

/** Placed pods whose required anti-affinity selects this pod and who share a domain with the node. */
export function repellingHere(ctx: PodContext, slot: number): TermGroup[] {
  return ctx.repelling.filter((g) => {
    const domain = g.topology.domainOf[slot] ?? -1;
    return domain >= 0 && (g.byDomain[domain] ?? 0) > 0;
  });
}

/** Kubernetes' symmetry: a placed pod's required anti-affinity keeps a matching newcomer out of its domain. */
export const existingAntiAffinity: Filter = {
  name: "existingAntiAffinity",
  appliesTo: (ctx) => ctx.repelling.length > 0,
  check: (ctx, _node, slot) => {
    for (const g of ctx.repelling) {
      const domain = g.topology.domainOf[slot] ?? -1;
      if (domain >= 0 && (g.byDomain[domain] ?? 0) > 0) return Reason.ExistingPodAntiAffinity;
    }
    return undefined;
  },
};

/**
 * The pod's required affinity terms the node does not satisfy: the node lacks the topology key, or no
 * placed pod satisfying every term runs in its domain. Kubernetes' special case lets the first of a
 * group that selects itself go anywhere that has the keys, when no such pod runs anywhere yet.
 */
export function unsatisfiedAffinityTerms(ctx: PodContext, slot: number): TermState[] {
  const affinity = ctx.affinity;
  if (!affinity) return [];
  const missingKey = affinity.terms.filter((s) => (s.topology.domainOf[slot] ?? -1) < 0);
  if (missingKey.length > 0) return missingKey;
  if (affinity.noneAnywhere && affinity.selfMatch) return [];
  return affinity.terms.filter((s) => (s.counts[s.topology.domainOf[slot] ?? -1] ?? 0) <= 0);
}

export const podAffinity: Filter = {
  name: "podAffinity",
  appliesTo: (ctx) => ctx.affinity !== undefined,
  check: (ctx, _node, slot) =>
    unsatisfiedAffinityTerms(ctx, slot).length > 0 ? Reason.PodAffinityMismatch : undefined,
};

/** A constraint the node would break: `skew` is what placing the pod there would make it (undefined: no such domain). */
export interface SpreadViolation {
  state: SpreadState;
  skew: number | undefined;
}

export function spreadViolations(ctx: PodContext, slot: number): SpreadViolation[] {
  const violations: SpreadViolation[] = [];
  for (const state of ctx.spread) {
    const domain = state.topology.domainOf[slot] ?? -1;
    if (domain < 0) {
      violations.push({ state, skew: undefined });
      continue;
    }
    const skew = (state.counts[domain] ?? 0) + state.selfMatch - state.minMatch;
    if (skew > state.constraint.maxSkew) violations.push({ state, skew });
  }
  return violations;
}

/** `whenUnsatisfiable: DoNotSchedule`: the node must carry the key and placing the pod must keep the skew within maxSkew. */
export const topologySpread: Filter = {
  name: "topologySpread",
  appliesTo: (ctx) => ctx.spread.length > 0,
  check: (ctx, _node, slot) => {
    for (const state of ctx.spread) {
      const domain = state.topology.domainOf[slot] ?? -1;
      if (domain < 0) return Reason.TopologySpread;
      if ((state.counts[domain] ?? 0) + state.selfMatch - state.minMatch > state.constraint.maxSkew) {
        return Reason.TopologySpread;
      }
    }
    return undefined;
  },
};

/** Cheapest first, so the hot loop rejects early; explanations run every one of them on every node. */
export const FILTERS: readonly Filter[] = [
  nodeReady,
  notCordoned,
  cpuFits,
  memoryFits,
  podsFit,
  nodeSelector,
  requiredNode,
  nodeAffinity,
  podAntiAffinity,
  existingAntiAffinity,
  podAffinity,
  topologySpread,
];

/** The five filters every pod goes through, fused in `fitsBasics` for the hot loop. */
export const BASIC_FILTERS: readonly Filter[] = [nodeReady, notCordoned, cpuFits, memoryFits, podsFit];

/**
 * `nodeReady`, `notCordoned`, `cpuFits`, `memoryFits` and `podsFit` in one monomorphic function: the
 * hot loop runs it on hundreds of nodes per pod, where a call per filter would dominate the cost.
 */
export function fitsBasics(ctx: PodContext, node: NodeView): boolean {
  return (
    node.ready &&
    !node.unschedulable &&
    node.allocatedCpuMillis + ctx.pod.cpuMillis <= node.cpuMillis &&
    node.allocatedMemoryBytes + ctx.pod.memoryBytes <= node.memoryBytes &&
    node.allocatedPods + 1 <= node.maxPods
  );
}

/** The filters that can rule out a node for this pod. */
export function activeFilters(ctx: PodContext, filters: readonly Filter[] = FILTERS): Filter[] {
  return filters.filter((f) => f.appliesTo(ctx));
}

/** True when no filter rules the node out; stops at the first that does. */
export function feasible(ctx: PodContext, filters: readonly Filter[], node: NodeView, slot: number): boolean {
  for (const filter of filters) if (filter.check(ctx, node, slot) !== undefined) return false;
  return true;
}

/** Every reason the node is ruled out, not just the first, so "why pending" can list all of them. */
export function failingReasons(ctx: PodContext, filters: readonly Filter[], node: NodeView, slot: number): Reason[] {
  const reasons: Reason[] = [];
  for (const filter of filters) {
    const reason = filter.check(ctx, node, slot);
    if (reason) reasons.push(reason);
  }
  return reasons;
}
