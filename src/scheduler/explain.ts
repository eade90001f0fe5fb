import { formatBytes, formatCpu } from "../core/quantity.js";
import { type ClusterInput, clusterFor } from "./cluster.js";
import { type PodContext, podContext } from "./context.js";
import {
  activeFilters,
  blockingAntiTerms,
  failingReasons,
  repellingHere,
  spreadViolations,
  unsatisfiedAffinityTerms,
} from "./filters.js";
import { describeLabelSelector, describeNodeRequirements, failingRequirements } from "./selectors.js";
import {
  type ConstraintReport,
  type NodeSelectorRequirement,
  type NodeView,
  type PodAffinityTerm,
  type PodDemand,
  Reason,
  type Unschedulable,
} from "./types.js";

const MORE = "the platform needs more capacity of this shape";
const TOGETHER = ", together with the other changes listed";

/** Reasons the tenant cannot change by editing the pod: nodes down, cordoned or full, or a volume that lives elsewhere. */
const FIXED: readonly Reason[] = [
  Reason.NodeNotReady,
  Reason.NodeCordoned,
  Reason.TooManyPods,
  Reason.PinnedElsewhere,
  Reason.VolumeElsewhere,
];

const REASON_ORDER: readonly Reason[] = Object.values(Reason);

/** One node as "why pending" sees it: every reason it was ruled out. */
interface Row {
  node: NodeView;
  slot: number;
  reasons: Reason[];
}

/**
 * "Why pending": every constraint that ruled out a node, with the smallest change that would make the
 * pod fit. The tenant's text speaks of resources and constraints only — the tenant's own selectors and
 * keys echoed back, never a node's name, label value or count; the operator's view adds which nodes
 * each reason ruled out.
 */
export function explainUnschedulable(
  pod: PodDemand,
  nodes: readonly NodeView[],
  input: ClusterInput = {},
): Unschedulable {
  return explainFor(podContext(pod, clusterFor(nodes, input)));
}

/** The explanation from an already prepared context: a full pass, every filter on every node. */
export function explainFor(ctx: PodContext): Unschedulable {
  const filters = activeFilters(ctx);
  const rows: Row[] = [];
  for (const slot of ctx.cluster.order) {
    const node = ctx.cluster.nodes[slot] as NodeView;
    rows.push({ node, slot, reasons: failingReasons(ctx, filters, node, slot) });
  }
  const byReason = new Map<Reason, string[]>();
  for (const row of rows) {
    for (const reason of row.reasons) {
      const names = byReason.get(reason);
      if (names) names.push(row.node.name);
      else byReason.set(reason, [row.node.name]);
    }
  }
  const reasons = REASON_ORDER.filter((r) => byReason.has(r));
  const constraints = reasons.flatMap((reason) => reportsFor(reason, ctx, rows));
  if (constraints.length === 0) constraints.push({ reason: Reason.InsufficientCpu, suggestion: MORE });
  return {
    ok: false,
    tenantMessage: tenantMessage(ctx.pod, constraints),
    constraints,
    operator: reasons.map((reason) => ({ reason, nodes: byReason.get(reason) ?? [] })),
  };
}

/** Nodes whose only reasons are among `allowed`: where changing just those would let the pod in. */
function onlyFailing(rows: readonly Row[], allowed: readonly Reason[]): Row[] {
  return rows.filter((row) => row.reasons.every((r) => allowed.includes(r)));
}

/**
 * The nodes to draw a suggestion for `reason` from, and the caveat it needs: nodes ruled out by this
 * reason alone; else by it and other changes the tenant can make; else by it at all.
 */
function candidates(rows: readonly Row[], reason: Reason): { rows: Row[]; suffix: string; alone: boolean } {
  const alone = onlyFailing(rows, [reason]);
  if (alone.length > 0) return { rows: alone, suffix: "", alone: true };
  const failing = rows.filter((row) => row.reasons.includes(reason));
  const changeable = failing.filter((row) => !row.reasons.some((r) => r !== reason && FIXED.includes(r)));
  if (changeable.length > 0) return { rows: changeable, suffix: TOGETHER, alone: false };
  return { rows: failing, suffix: `, and ${MORE}`, alone: false };
}

function reportsFor(reason: Reason, ctx: PodContext, rows: readonly Row[]): ConstraintReport[] {
  const one = (suggestion: string): ConstraintReport[] => [{ reason, suggestion }];
  switch (reason) {
    case Reason.InsufficientCpu:
    case Reason.InsufficientMemory:
      return one(suggestResources(reason, ctx.pod, rows));
    case Reason.NodeSelectorMismatch:
      return one(suggestNodeSelector(ctx, rows));
    case Reason.NodeAffinityMismatch:
      return one(suggestNodeAffinity(ctx, rows));
    case Reason.PodAntiAffinity:
      return termReports(
        reason,
        rows,
        (row) => blockingAntiTerms(ctx, row.slot).map((s) => s.term),
        (term) => `relax the required anti-affinity on ${describeTerm(term)}`,
      );
    case Reason.ExistingPodAntiAffinity:
      return termReports(
        reason,
        rows,
        (row) => repellingHere(ctx, row.slot).map((g) => g.term),
        (term) =>
          `pods already running hold a required anti-affinity on ${describeTerm(term)} that selects this pod: relax theirs, or change this pod's labels`,
      );
    case Reason.PodAffinityMismatch:
      return termReports(
        reason,
        rows,
        (row) => unsatisfiedAffinityTerms(ctx, row.slot).map((s) => s.term),
        (term) =>
          `relax the required pod affinity on ${describeTerm(term)}${ctx.affinity?.noneAnywhere ? ", which no running pod matches" : ""}`,
      );
    case Reason.TopologySpread:
      return spreadReports(ctx, rows);
    case Reason.VolumeElsewhere:
      return one(
        "its local volume lives where there is no room or no readiness now; the pod waits for it there, as local volumes do (network storage can move)",
      );
    case Reason.PinnedElsewhere:
      return one("it runs only on its own node");
    case Reason.TooManyPods:
    case Reason.NodeNotReady:
    case Reason.NodeCordoned:
      return one(MORE);
  }
}

function describeTerm(term: PodAffinityTerm): string {
  return `${describeLabelSelector(term.labelSelector)} (topology ${term.topologyKey})`;
}

function freeOf(reason: Reason, node: NodeView): number {
  return reason === Reason.InsufficientCpu
    ? node.cpuMillis - node.allocatedCpuMillis
    : node.memoryBytes - node.allocatedMemoryBytes;
}

function formatFree(reason: Reason, amount: number): string {
  return reason === Reason.InsufficientCpu ? formatCpu(amount) : formatBytes(amount);
}

function suggestResources(reason: Reason, pod: PodDemand, rows: readonly Row[]): string {
  const what = reason === Reason.InsufficientCpu ? "cpu" : "memory";
  const alone = onlyFailing(rows, [reason]);
  if (alone.length > 0) {
    const free = Math.max(...alone.map((row) => freeOf(reason, row.node)), 0);
    return free > 0 ? `lower ${what} request to ≤ ${formatFree(reason, free)}, or ${MORE}` : MORE;
  }
  // Short of both: the shape does not fit. Name the closest shape that would, as both amounts together.
  const shape = onlyFailing(rows, [Reason.InsufficientCpu, Reason.InsufficientMemory]);
  const closest = closestShape(pod, shape);
  if (closest) {
    const cpu = closest.cpuMillis - closest.allocatedCpuMillis;
    const memory = closest.memoryBytes - closest.allocatedMemoryBytes;
    return `lower the requests to ≤ ${formatCpu(cpu)} and ≤ ${formatBytes(memory)} together, or ${MORE}`;
  }
  const { rows: some, suffix } = candidates(rows, reason);
  const free = Math.max(...some.map((row) => freeOf(reason, row.node)), 0);
  return free > 0 ? `lower ${what} request to ≤ ${formatFree(reason, free)}${suffix}, or ${MORE}` : MORE;
}

/** The node whose free room is closest to the pod's requests (the largest fraction of the scarcer resource). */
function closestShape(pod: PodDemand, rows: readonly Row[]): NodeView | undefined {
  let best: NodeView | undefined;
  let bestFit = 0;
  for (const { node } of rows) {
    const cpu = node.cpuMillis - node.allocatedCpuMillis;
    const memory = node.memoryBytes - node.allocatedMemoryBytes;
    if (cpu <= 0 || memory <= 0) continue;
    const fit = Math.min(
      pod.cpuMillis > 0 ? cpu / pod.cpuMillis : 1,
      pod.memoryBytes > 0 ? memory / pod.memoryBytes : 1,
    );
    if (fit > bestFit) {
      best = node;
      bestFit = fit;
    }
  }
  return best;
}

function suggestNodeSelector(ctx: PodContext, rows: readonly Row[]): string {
  const { rows: some, suffix } = candidates(rows, Reason.NodeSelectorMismatch);
  let fewest: (readonly [string, string])[] | undefined;
  for (const { node } of some) {
    const failing = ctx.nodeSelector.filter(([key, value]) => node.labels[key] !== value);
    if (failing.length > 0 && (!fewest || failing.length < fewest.length)) fewest = failing;
  }
  const pairs = (fewest ?? ctx.nodeSelector).map(([key, value]) => `${key}=${value}`).join(", ");
  return `relax the node selector on ${pairs}${suffix}`;
}

/** The fewest requirements to drop from one term so that a node otherwise able to take the pod matches. */
function suggestNodeAffinity(ctx: PodContext, rows: readonly Row[]): string {
  const { rows: some, suffix } = candidates(rows, Reason.NodeAffinityMismatch);
  let fewest: NodeSelectorRequirement[] | undefined;
  for (const { node } of some) {
    for (const term of ctx.requiredTerms ?? []) {
      const failing = failingRequirements(node, term);
      if (failing.length > 0 && (!fewest || failing.length < fewest.length)) fewest = failing;
    }
  }
  if (!fewest) return `relax the required node affinity: a term with no requirement matches nothing${suffix}`;
  return `relax the required node affinity on ${describeNodeRequirements(fewest)}${suffix}`;
}

/**
 * One report per term that rules out at least one node. Relaxing the term alone is enough when some
 * node is ruled out by that term and nothing else; otherwise the caveat says other changes are needed.
 */
function termReports(
  reason: Reason,
  rows: readonly Row[],
  termsAt: (row: Row) => PodAffinityTerm[],
  phrase: (term: PodAffinityTerm) => string,
): ConstraintReport[] {
  const { rows: some, suffix, alone } = candidates(rows, reason);
  const soleRows = new Set(alone ? some : []);
  // Per term: whether some node is ruled out by that term and nothing else.
  const sole = new Map<PodAffinityTerm, boolean>();
  for (const row of rows) {
    if (!row.reasons.includes(reason)) continue;
    const terms = termsAt(row);
    for (const term of terms) sole.set(term, (sole.get(term) ?? false) || (soleRows.has(row) && terms.length === 1));
  }
  return [...sole].map(([term, isSole]) => ({
    reason,
    suggestion: `${phrase(term)}${isSole ? "" : alone ? TOGETHER : suffix}`,
  }));
}

interface SpreadFinding {
  /** The smallest skew placing the pod would reach on a node this constraint alone rules out. */
  skew: number | undefined;
  /** Some node this constraint alone rules out lacks its topology label. */
  unlabelled: boolean;
}

function spreadReports(ctx: PodContext, rows: readonly Row[]): ConstraintReport[] {
  const { rows: some, suffix, alone } = candidates(rows, Reason.TopologySpread);
  const soleRows = new Set(alone ? some : []);
  const findings = new Map<number, SpreadFinding>();
  for (const row of rows) {
    if (!row.reasons.includes(Reason.TopologySpread)) continue;
    const violations = spreadViolations(ctx, row.slot);
    for (const { state, skew } of violations) {
      const at = ctx.spread.indexOf(state);
      const finding = findings.get(at) ?? { skew: undefined, unlabelled: false };
      if (soleRows.has(row) && violations.length === 1) {
        if (skew === undefined) finding.unlabelled = true;
        else finding.skew = Math.min(finding.skew ?? skew, skew);
      }
      findings.set(at, finding);
    }
  }
  return [...findings].map(([at, finding]) => {
    const constraint = ctx.spread[at]?.constraint;
    const base = `relax the spread constraint on ${constraint?.topologyKey} (maxSkew ${constraint?.maxSkew})`;
    let fix = alone ? TOGETHER : suffix;
    if (finding.skew !== undefined) fix = `: maxSkew ${finding.skew}, or whenUnsatisfiable: ScheduleAnyway, would fit`;
    else if (finding.unlabelled) fix = ": the room left is where that topology label is not set; spread on another key";
    return { reason: Reason.TopologySpread, suggestion: `${base}${fix}` };
  });
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
