/** Label selectors as Kubernetes defines them: `matchLabels`, `matchExpressions`, and the query-string form. */
export type Labels = Record<string, string>;

/** The label every node carries with its own name (set by the platform, never by the operator or a tenant). */
export const NODE_NAME_LABEL = "kubernetes.io/hostname";

export interface SelectorRequirement {
  key: string;
  operator: "In" | "NotIn" | "Exists" | "DoesNotExist";
  values?: string[];
}

export interface LabelSelector {
  matchLabels?: Labels;
  matchExpressions?: SelectorRequirement[];
}

export function matchesRequirement(labels: Labels, req: SelectorRequirement): boolean {
  const has = Object.hasOwn(labels, req.key);
  const value = labels[req.key];
  switch (req.operator) {
    case "In":
      return has && (req.values ?? []).includes(value as string);
    case "NotIn":
      return !has || !(req.values ?? []).includes(value as string);
    case "Exists":
      return has;
    case "DoesNotExist":
      return !has;
  }
}

/** True when `labels` satisfy the selector. An empty selector matches everything, as in Kubernetes. */
export function matchesSelector(labels: Labels, selector: LabelSelector): boolean {
  for (const [key, value] of Object.entries(selector.matchLabels ?? {})) {
    if (labels[key] !== value) return false;
  }
  return (selector.matchExpressions ?? []).every((req) => matchesRequirement(labels, req));
}

/** A Service's plain `selector` map; an empty or absent one selects nothing (Kubernetes leaves such endpoints alone). */
export function matchesServiceSelector(labels: Labels, selector: Labels | undefined): boolean {
  if (!selector || Object.keys(selector).length === 0) return false;
  return Object.entries(selector).every(([key, value]) => labels[key] === value);
}

/**
 * Parses the `labelSelector` query parameter: `a=b,c!=d,e in (x,y),f notin (z),g,!h`.
 * Returns an error message for input that is not a selector.
 */
export function parseSelectorString(text: string): { selector: LabelSelector } | { error: string } {
  const matchExpressions: SelectorRequirement[] = [];
  const parts = splitTerms(text);
  if (!parts) return { error: `unbalanced parentheses in label selector "${text}"` };
  for (const raw of parts.map((p) => p.trim()).filter(Boolean)) {
    const setMatch = /^([\w./-]+)\s+(in|notin)\s+\(([^)]*)\)$/.exec(raw);
    const eqMatch = /^([\w./-]+)\s*(==|=|!=)\s*([\w.-]*)$/.exec(raw);
    const existsMatch = /^(!?)([\w./-]+)$/.exec(raw);
    if (setMatch) {
      const values = (setMatch[3] ?? "")
        .split(",")
        .map((v) => v.trim())
        .filter(Boolean);
      matchExpressions.push({ key: setMatch[1] as string, operator: setMatch[2] === "in" ? "In" : "NotIn", values });
    } else if (eqMatch) {
      const operator = eqMatch[2] === "!=" ? "NotIn" : "In";
      matchExpressions.push({ key: eqMatch[1] as string, operator, values: [eqMatch[3] as string] });
    } else if (existsMatch) {
      matchExpressions.push({ key: existsMatch[2] as string, operator: existsMatch[1] ? "DoesNotExist" : "Exists" });
    } else {
      return { error: `invalid label selector term "${raw}"` };
    }
  }
  return { selector: { matchExpressions } };
}

/** Splits on commas outside parentheses; `undefined` when parentheses do not balance. */
function splitTerms(text: string): string[] | undefined {
  const parts: string[] = [];
  let depth = 0;
  let current = "";
  for (const ch of text) {
    if (ch === "(") depth++;
    if (ch === ")") depth--;
    if (depth < 0 || depth > 1) return undefined;
    if (ch === "," && depth === 0) {
      parts.push(current);
      current = "";
    } else current += ch;
  }
  if (depth !== 0) return undefined;
  parts.push(current);
  return parts;
}
