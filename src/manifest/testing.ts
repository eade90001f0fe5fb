/**
 * Assertions shared by the tests of this module (and usable by others): a
 * document that must validate into a manifest of a given kind, or must not.
 */
import type { FieldError } from "./errors.js";
import type { Manifest, SupportedKind } from "./kinds.js";
import { validateManifest } from "./validate.js";

export function manifestOfKind<K extends SupportedKind>(doc: unknown, kind: K): Extract<Manifest, { kind: K }> {
  const result = validateManifest(doc);
  if (!result.ok) throw new Error(`expected a valid ${kind}: ${JSON.stringify(result.errors)}`);
  if (result.manifest.kind !== kind) throw new Error(`expected a ${kind}, got a ${result.manifest.kind}`);
  return result.manifest as Extract<Manifest, { kind: K }>;
}

export function errorsOf(doc: unknown, documentIndex?: number): FieldError[] {
  const result = validateManifest(doc, documentIndex);
  if (result.ok) throw new Error("expected validation errors");
  return result.errors;
}
