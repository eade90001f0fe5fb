/**
 * Text to plain documents: size check, YAML or JSON reading, `kind: List`
 * flattening, and the rule that every document is an object.
 */

import type { FieldError } from "./errors.js";
import { DEFAULT_LIMITS, type ParseLimits, tooLarge, tooManyDocuments } from "./limits.js";
import { isPlainObject } from "./object.js";
import { readJson } from "./read-json.js";
import { readYaml } from "./read-yaml.js";

export type ManifestFormat = "yaml" | "json";

export type ParseResult = { ok: true; documents: unknown[] } | { ok: false; errors: FieldError[] };

/**
 * Parses multi-document YAML (or JSON: one object, an array, or a `kind: List`
 * with `items`) into plain documents. Empty YAML documents are skipped; a
 * `kind: List` (apiVersion v1) is flattened in either format.
 */
export function parseDocuments(
  text: string,
  format: ManifestFormat,
  limits: ParseLimits = DEFAULT_LIMITS,
): ParseResult {
  const bytes = Buffer.byteLength(text, "utf8");
  if (bytes > limits.maxBytes) return { ok: false, errors: [tooLarge(bytes, limits)] };
  const read = format === "json" ? readJson(text, limits) : readYaml(text, limits);
  if (!read.ok) return read;
  const documents = flattenLists(read.values, limits);
  if ("errors" in documents) return { ok: false, errors: documents.errors };
  const errors: FieldError[] = [];
  for (const [document, value] of documents.values.entries()) {
    if (!isPlainObject(value)) errors.push({ path: "", message: "document must be an object", document });
  }
  return errors.length > 0 ? { ok: false, errors } : { ok: true, documents: documents.values };
}

/** What `kubectl get -o yaml` prints for several objects; each item is a document of its own. */
function isList(value: unknown): value is Record<string, unknown> {
  return isPlainObject(value) && value.kind === "List" && value.apiVersion === "v1";
}

function flattenLists(values: unknown[], limits: ParseLimits): { values: unknown[] } | { errors: FieldError[] } {
  const out: unknown[] = [];
  for (const value of values) {
    if (!isList(value)) {
      out.push(value);
    } else if (!Array.isArray(value.items)) {
      return { errors: [{ path: "items", message: "must be a list of objects", document: out.length }] };
    } else {
      for (const item of value.items) out.push(item);
    }
    if (out.length > limits.maxDocuments) return { errors: [tooManyDocuments(limits)] };
  }
  return { values: out };
}
