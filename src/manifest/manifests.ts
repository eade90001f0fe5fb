/**
 * Text to typed manifests: parse, then validate every document, reporting
 * every error of every document. App documents are expanded in place, so
 * callers (and dry runs) see the Deployment, Service and Ingress that are stored.
 */
import type { FieldError } from "./errors.js";
import { expandAppChecked } from "./expand-app.js";
import type { ExpandedManifest } from "./kinds.js";
import { DEFAULT_LIMITS, type ParseLimits } from "./limits.js";
import { type ManifestFormat, parseDocuments } from "./parse.js";
import { type ValidateOptions, validateManifest } from "./validate.js";

export type ParseManifestsResult = { ok: true; manifests: ExpandedManifest[] } | { ok: false; errors: FieldError[] };

/**
 * parseDocuments + validateManifest on each document (+ expandApp on Apps). Nothing is returned
 * unless everything is valid, so a caller can never apply half a file.
 */
export function parseManifests(
  text: string,
  format: ManifestFormat,
  limits: ParseLimits = DEFAULT_LIMITS,
  options: ValidateOptions = {},
): ParseManifestsResult {
  const parsed = parseDocuments(text, format, limits);
  if (!parsed.ok) return parsed;
  const manifests: ExpandedManifest[] = [];
  const errors: FieldError[] = [];
  for (const [index, document] of parsed.documents.entries()) {
    const result = validateManifest(document, index, options);
    if (!result.ok) errors.push(...result.errors);
    else if (result.manifest.kind !== "App") manifests.push(result.manifest);
    else {
      const expanded = expandAppChecked(result.manifest, index, options);
      if (expanded.ok) manifests.push(...expanded.manifests);
      else errors.push(...expanded.errors);
    }
  }
  return errors.length > 0 ? { ok: false, errors } : { ok: true, manifests };
}
