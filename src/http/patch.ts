import jsonPatch from "fast-json-patch";
import { checkShape, DEFAULT_LIMITS } from "../manifest/limits.js";
import { ApiError } from "./errors.js";

type JsonValue = unknown;

/** Operations of one JSON patch at most. */
export const MAX_PATCH_OPERATIONS = 1_000;

/** RFC 7386 JSON merge patch: objects merge key by key, `null` deletes, anything else replaces. */
export function mergePatch(target: JsonValue, patch: JsonValue): JsonValue {
  if (patch === null || typeof patch !== "object" || Array.isArray(patch)) return patch;
  const base: Record<string, unknown> =
    target !== null && typeof target === "object" && !Array.isArray(target)
      ? { ...(target as Record<string, unknown>) }
      : {};
  for (const [key, value] of Object.entries(patch as Record<string, unknown>)) {
    if (value === null) delete base[key];
    else base[key] = mergePatch(base[key], value);
  }
  return base;
}

/**
 * RFC 6902 JSON patch (with `test`), by fast-json-patch, one operation at a time; a bad operation is
 * a 422 naming it. The document is measured after each `copy`, the one operation that can grow it
 * beyond what the patch holds (each may double it: thirty of them in a kilobyte would be gigabytes).
 */
export function applyJsonPatch(target: JsonValue, operations: unknown): JsonValue {
  if (!Array.isArray(operations)) throw new ApiError("BAD_REQUEST", "a JSON patch must be an array of operations");
  if (operations.length > MAX_PATCH_OPERATIONS) {
    throw new ApiError("INVALID", `a JSON patch may hold ${MAX_PATCH_OPERATIONS} operations at most`);
  }
  let document = structuredClone(target);
  for (const [index, operation] of (operations as jsonPatch.Operation[]).entries()) {
    try {
      document = jsonPatch.applyOperation(document, operation, true, true, true, index).newDocument;
    } catch (e) {
      // fast-json-patch's own errors, and the TypeError it throws for `__proto__`.
      throw new ApiError("INVALID", `JSON patch operation ${index} is invalid: ${(e as Error).message.split("\n")[0]}`);
    }
    const tooLarge = operation?.op === "copy" ? checkShape(document, DEFAULT_LIMITS) : undefined;
    if (tooLarge) throw new ApiError("INVALID", `JSON patch operation ${index}: ${tooLarge.message}`);
  }
  return document;
}

/** Applies a PATCH body by its Content-Type, once its shape is known to be within the manifests' bounds. */
export function applyPatchBody(contentType: string, target: JsonValue, body: unknown): JsonValue {
  const type = patchType(contentType);
  const shape = checkShape(body, DEFAULT_LIMITS);
  if (shape) throw new ApiError("INVALID", `the patch${shape.path ? ` at ${shape.path}` : ""}: ${shape.message}`);
  return type === "merge" ? mergePatch(target, body) : applyJsonPatch(target, body);
}

function patchType(contentType: string): "merge" | "json" {
  if (contentType === "application/merge-patch+json") return "merge";
  if (contentType === "application/json-patch+json") return "json";
  throw new ApiError(
    "UNSUPPORTED_MEDIA_TYPE",
    `unsupported patch type "${contentType || "(none)"}": use application/merge-patch+json or application/json-patch+json`,
  );
}
