import { canonicalJson } from "../core/hash.js";
import {
  type LabelSelector,
  type Labels,
  matchesRequirement,
  matchesSelector,
  type SelectorRequirement,
} from "../core/labels.js";
import type { NodeSelectorRequirement, NodeSelectorTerm, NodeView, PodAffinityTerm } from "./types.js";

/** The label Kubernetes puts on every namespace; the only namespace label a `namespaceSelector` can see here. */
export const NAMESPACE_NAME_LABEL = "kubernetes.io/metadata.name";

/** Kubernetes parses Gt/Lt operands as base-10 64-bit integers; anything else does not match. */
function integerOf(text: string | undefined): number | undefined {
  if (text === undefined || !/^[+-]?\d+$/.test(text)) return undefined;
  return Number(text);
}

/** A label selector's operators, plus the node-only Gt and Lt. */
export function matchesNodeRequirement(labels: Labels, req: NodeSelectorRequirement): boolean {
  if (req.operator !== "Gt" && req.operator !== "Lt") return matchesRequirement(labels, req as SelectorRequirement);
  const bound = req.values?.length === 1 ? integerOf(req.values[0]) : undefined;
  const actual = Object.hasOwn(labels, req.key) ? integerOf(labels[req.key]) : undefined;
  if (bound === undefined || actual === undefined) return false;
  return req.operator === "Gt" ? actual > bound : actual < bound;
}

/** `matchFields` knows one field, `metadata.name`, with In and NotIn. */
function matchesFieldRequirement(node: NodeView, req: NodeSelectorRequirement): boolean {
  if (req.key !== "metadata.name") return false;
  if (req.operator === "In") return (req.values ?? []).includes(node.name);
  if (req.operator === "NotIn") return !(req.values ?? []).includes(node.name);
  return false;
}

/** The requirements of a term that the node fails; a term with no requirement at all fails as a whole. */
export function failingRequirements(node: NodeView, term: NodeSelectorTerm): NodeSelectorRequirement[] {
  const expressions = term.matchExpressions ?? [];
  const fields = term.matchFields ?? [];
  const failing = expressions.filter((req) => !matchesNodeRequirement(node.labels, req));
  for (const req of fields) if (!matchesFieldRequirement(node, req)) failing.push(req);
  return failing;
}

export function matchesNodeSelectorTerm(node: NodeView, term: NodeSelectorTerm): boolean {
  const expressions = term.matchExpressions ?? [];
  const fields = term.matchFields ?? [];
  if (expressions.length === 0 && fields.length === 0) return false;
  for (const req of expressions) if (!matchesNodeRequirement(node.labels, req)) return false;
  for (const req of fields) if (!matchesFieldRequirement(node, req)) return false;
  return true;
}

/** Required node affinity: the terms are ORed; no term at all matches no node. */
export function matchesAnyTerm(node: NodeView, terms: readonly NodeSelectorTerm[]): boolean {
  for (const term of terms) if (matchesNodeSelectorTerm(node, term)) return true;
  return false;
}

/** Which pods a term (or a spread constraint) counts: a namespace scope and a label selector. */
export interface PodMatcher {
  /** Equal keys select the same pods, so counts can be shared between terms and between calls. */
  readonly key: string;
  matches(namespace: string, labels: Labels): boolean;
}

interface ScopedSelector {
  namespaces: readonly string[];
  namespaceSelector: LabelSelector | undefined;
  selector: LabelSelector | undefined;
}

function matcherOf(scope: ScopedSelector): PodMatcher {
  const names = new Set(scope.namespaces);
  const { namespaceSelector, selector } = scope;
  const key = canonicalJson({ n: [...names].sort(), ns: namespaceSelector, s: selector ?? null });
  if (!selector) return { key, matches: () => false };
  const inScope = (namespace: string): boolean =>
    names.has(namespace) ||
    (namespaceSelector !== undefined && matchesSelector({ [NAMESPACE_NAME_LABEL]: namespace }, namespaceSelector));
  return { key, matches: (namespace, labels) => inScope(namespace) && matchesSelector(labels, selector) };
}

/** `matchLabelKeys` / `mismatchLabelKeys`: the holder's own label values, added to the selector. */
function withLabelKeys(
  selector: LabelSelector | undefined,
  holderLabels: Labels,
  matchKeys: readonly string[] = [],
  mismatchKeys: readonly string[] = [],
): LabelSelector | undefined {
  if (!selector || (matchKeys.length === 0 && mismatchKeys.length === 0)) return selector;
  const extra: SelectorRequirement[] = [];
  for (const key of matchKeys) {
    const value = holderLabels[key];
    if (value !== undefined) extra.push({ key, operator: "In", values: [value] });
  }
  for (const key of mismatchKeys) {
    const value = holderLabels[key];
    if (value !== undefined) extra.push({ key, operator: "NotIn", values: [value] });
  }
  return { ...selector, matchExpressions: [...(selector.matchExpressions ?? []), ...extra] };
}

/** The pods a pod (anti-)affinity term selects, relative to the namespace and labels of the pod holding it. */
export function termMatcher(term: PodAffinityTerm, holderNamespace: string, holderLabels: Labels): PodMatcher {
  const ownNamespaceOnly = (term.namespaces ?? []).length === 0 && term.namespaceSelector === undefined;
  return matcherOf({
    namespaces: ownNamespaceOnly ? [holderNamespace] : (term.namespaces ?? []),
    namespaceSelector: term.namespaceSelector,
    selector: withLabelKeys(term.labelSelector, holderLabels, term.matchLabelKeys, term.mismatchLabelKeys),
  });
}

/** The pods a topology spread constraint counts: always the pod's own namespace. */
export function spreadMatcher(
  constraint: { labelSelector?: LabelSelector; matchLabelKeys?: string[] },
  namespace: string,
  labels: Labels,
): PodMatcher {
  return matcherOf({
    namespaces: [namespace],
    namespaceSelector: undefined,
    selector: withLabelKeys(constraint.labelSelector, labels, constraint.matchLabelKeys),
  });
}

/** Pods matching every one of several matchers (required pod affinity counts pods that satisfy all its terms). */
export function allOf(matchers: readonly PodMatcher[]): PodMatcher {
  return {
    key: `all(${matchers.map((m) => m.key).join(";")})`,
    matches: (namespace, labels) => matchers.every((m) => m.matches(namespace, labels)),
  };
}

// Rendering for "why pending": the tenant's own words back, never a value read from a node.

function describeRequirement(req: { key: string; operator: string; values?: string[] }): string {
  const values = req.values ?? [];
  switch (req.operator) {
    case "In":
      return values.length === 1 ? `${req.key}=${values[0]}` : `${req.key} in (${values.join(", ")})`;
    case "NotIn":
      return values.length === 1 ? `${req.key}!=${values[0]}` : `${req.key} notin (${values.join(", ")})`;
    case "Exists":
      return req.key;
    case "DoesNotExist":
      return `!${req.key}`;
    case "Gt":
      return `${req.key} > ${values[0] ?? ""}`;
    case "Lt":
      return `${req.key} < ${values[0] ?? ""}`;
    default:
      return `${req.key} ${req.operator} (${values.join(", ")})`;
  }
}

export function describeNodeRequirements(reqs: readonly NodeSelectorRequirement[]): string {
  return reqs.map(describeRequirement).join(", ");
}

export function describeLabelSelector(selector: LabelSelector | undefined): string {
  if (!selector) return "no pods";
  const parts = Object.entries(selector.matchLabels ?? {}).map(([k, v]) => `${k}=${v}`);
  for (const req of selector.matchExpressions ?? []) parts.push(describeRequirement(req));
  return parts.length > 0 ? parts.join(", ") : "all pods";
}
