/**
 * Bounds on what a parse may cost. A manifest comes from a tenant over HTTPS,
 * so every dimension that could make parsing slow or large is capped: bytes,
 * documents, YAML alias expansion and nesting depth.
 */
import { formatBytes } from "../core/quantity.js";
import type { FieldError } from "./errors.js";

export interface ParseLimits {
  maxBytes: number;
  maxDocuments: number;
  maxAliases: number;
  maxDepth: number;
}

export const DEFAULT_LIMITS: ParseLimits = Object.freeze({
  maxBytes: 1024 * 1024,
  maxDocuments: 200,
  maxAliases: 100,
  maxDepth: 64,
});

export function tooLarge(bytes: number, limits: ParseLimits): FieldError {
  return {
    path: "",
    message: `manifest is ${bytes} bytes; the limit is ${limits.maxBytes} bytes (${formatBytes(limits.maxBytes)})`,
  };
}

export function tooManyDocuments(limits: ParseLimits): FieldError {
  return {
    path: "",
    message: `manifest has more than ${limits.maxDocuments} documents; the limit is ${limits.maxDocuments}`,
  };
}

export function tooDeep(limits: ParseLimits): FieldError {
  return { path: "", message: `document nesting exceeds the maximum depth of ${limits.maxDepth}` };
}

export function tooManyAliases(limits: ParseLimits): FieldError {
  return {
    path: "",
    message: `YAML aliases expand beyond the limit of ${limits.maxAliases} alias references; refusing to expand them`,
  };
}

export function tooMuchExpansion(limits: ParseLimits): FieldError {
  return {
    path: "",
    message: `YAML aliases expand the manifest beyond ${formatBytes(2 * limits.maxBytes)}; refusing to expand them`,
  };
}

/**
 * What the parsed values of one manifest may add up to: one unit per value
 * plus the length of every string and key. Text without aliases stays within
 * its byte count (decoding never lengthens a scalar); twice the byte limit
 * leaves room for one-character values, whose separators are not counted.
 */
export interface ShapeBudget {
  remaining: number;
}

export function shapeBudget(limits: ParseLimits): ShapeBudget {
  return { remaining: 2 * limits.maxBytes };
}

/**
 * Checks nesting depth and the size a parsed document reaches. YAML aliases
 * make a document a graph whose expansion can dwarf its text (an anchor
 * aliased a hundred times is a hundred copies downstream, in storage and in
 * every response), so values are counted as reached, not as written, against
 * a budget shared by all documents of the manifest. The walk stops at the
 * first violation, which also bounds it on cyclic documents (`&a [*a]`).
 */
export function checkShape(value: unknown, limits: ParseLimits, budget = shapeBudget(limits)): FieldError | undefined {
  const spend = (units: number) => {
    budget.remaining -= units;
    return budget.remaining < 0 ? tooMuchExpansion(limits) : undefined;
  };
  // Where the walk is, for an error's path: keys and array indexes, joined only when one is found.
  const path: (string | number)[] = [];
  const visit = (node: unknown, depth: number): FieldError | undefined => {
    if (typeof node === "string") return spend(node.length + 1) ?? unstorable(node, path);
    if (typeof node !== "object" || node === null) return spend(1);
    if (depth > limits.maxDepth) return tooDeep(limits);
    const entries: [string | number, unknown][] = Array.isArray(node)
      ? node.map((child, i) => [i, child])
      : Object.entries(node);
    const error = spend(1);
    if (error) return error;
    for (const [key, child] of entries) {
      path.push(key);
      const childError = typeof key === "string" ? (spend(key.length) ?? unstorable(key, path, "key")) : undefined;
      const found = childError ?? visit(child, depth + 1);
      path.pop();
      if (found) return found;
    }
    return undefined;
  };
  return visit(value, 1);
}

/**
 * A string no JSON store keeps (Postgres' jsonb refuses both): one holding a NUL character, or a
 * UTF-16 surrogate without its pair (JSON's `"\ud800"`, which no UTF-8 text can hold).
 */
function unstorable(text: string, path: readonly (string | number)[], what = "value"): FieldError | undefined {
  if (!UNUSUAL.test(text)) return undefined;
  const problem = text.includes("\0") ? "a NUL character" : !isWellFormed(text) ? "an unpaired UTF-16 surrogate" : "";
  if (problem === "") return undefined;
  return { path: fieldPath(path), message: `the ${what} holds ${problem}, which cannot be stored` };
}

const UNUSUAL = /[\0\ud800-\udfff]/;

const isWellFormed = (text: string): boolean => (text as string & { isWellFormed(): boolean }).isWellFormed();

/** `spec.containers[0].image`, as Kubernetes names a field. */
function fieldPath(path: readonly (string | number)[]): string {
  let out = "";
  for (const key of path) out += typeof key === "number" ? `[${key}]` : out === "" ? key : `.${key}`;
  return out;
}
