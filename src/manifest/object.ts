/** Plain-object helpers for untyped, parsed input. */

export function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** Beyond this depth input is returned as is; parseDocuments has already refused anything deeper. */
const MAX_DEPTH = 256;

/**
 * Drops object fields whose value is null, as Kubernetes' decoder treats them as
 * unset (`metadata: {creationTimestamp: null}`, an empty `annotations:` in YAML).
 * Nulls inside lists are kept: they are errors there. Returns a fresh tree, so
 * values shared through YAML aliases are no longer shared downstream.
 */
export function dropNulls(value: unknown, depth = 0): unknown {
  if (depth > MAX_DEPTH || typeof value !== "object" || value === null) return value;
  if (Array.isArray(value)) return value.map((item) => dropNulls(item, depth + 1));
  const out: Record<string, unknown> = {};
  for (const [key, field] of Object.entries(value)) {
    if (field === null) continue;
    // Assigning "__proto__" would replace the prototype and hide the field from the unknown-field check.
    Object.defineProperty(out, key, {
      value: dropNulls(field, depth + 1),
      enumerable: true,
      writable: true,
      configurable: true,
    });
  }
  return out;
}
