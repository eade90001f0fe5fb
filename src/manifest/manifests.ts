/** Text to typed manifests: parse, then validate every document, reporting every error of every document. */
import type { FieldError } from "./errors.js";
import type { Manifest } from "./kinds.js";
import { DEFAULT_LIMITS, type ParseLimits } from "./limits.js";
import { type ManifestFormat, parseDocuments } from "./parse.js";
import { validateManifest } from "./validate.js";

export type ParseManifestsResult = { ok: true; manifests: Manifest[] } | { ok: false; errors: FieldError[] };

/**
 * parseDocuments + validateManifest on each document. Nothing is returned
 * unless everything is valid, so a caller can never apply half a file.
 */
export function parseManifests(
  text: string,
  format: ManifestFormat,
  limits: ParseLimits = DEFAULT_LIMITS,
): ParseManifestsResult {
  const parsed = parseDocuments(text, format, limits);
  if (!parsed.ok) return parsed;
  const manifests: Manifest[] = [];
  const errors: FieldError[] = [];
  for (const [index, document] of parsed.documents.entries()) {
    const result = validateManifest(document, index);
    if (result.ok) manifests.push(result.manifest);
    else errors.push(...result.errors);
  }
  return errors.length > 0 ? { ok: false, errors } : { ok: true, manifests };
}
