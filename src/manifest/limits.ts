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

/**
 * Checks nesting depth and the number of values a parsed document holds. YAML
 * aliases make a document a graph whose expansion can dwarf its text (an
 * anchor aliased a hundred times is a hundred copies downstream), so the
 * values are counted as reached, not as written, and may not outnumber the
 * bytes the limits allow. The walk stops at the first violation, which also
 * bounds it on cyclic documents (`&a [*a]`).
 */
export function checkShape(value: unknown, limits: ParseLimits): FieldError | undefined {
  let budget = limits.maxBytes;
  const visit = (node: unknown, depth: number): FieldError | undefined => {
    if (typeof node !== "object" || node === null) return undefined;
    if (depth > limits.maxDepth) return tooDeep(limits);
    const children = Array.isArray(node) ? node : Object.values(node);
    budget -= children.length + 1;
    if (budget < 0) return tooManyAliases(limits);
    for (const child of children) {
      const error = visit(child, depth + 1);
      if (error) return error;
    }
    return undefined;
  };
  return visit(value, 1);
}
