import jsonPatch from "fast-json-patch";
import { ApiError } from "./errors.js";

type JsonValue = unknown;

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

/** RFC 6902 JSON patch (with `test`), by fast-json-patch; a bad operation is a 422 naming it. */
export function applyJsonPatch(target: JsonValue, operations: unknown): JsonValue {
  if (!Array.isArray(operations)) throw new ApiError("BAD_REQUEST", "a JSON patch must be an array of operations");
  const error = jsonPatch.validate(operations as jsonPatch.Operation[], target);
  if (error) {
    throw new ApiError(
      "INVALID",
      `JSON patch operation ${error.index ?? "?"} is invalid: ${error.message.split("\n")[0]}`,
    );
  }
  try {
    return jsonPatch.applyPatch(structuredClone(target), operations as jsonPatch.Operation[], true, false).newDocument;
  } catch (e) {
    throw new ApiError("INVALID", `JSON patch failed: ${(e as Error).message.split("\n")[0]}`);
  }
}

/** Applies a PATCH body by its Content-Type. */
export function applyPatchBody(contentType: string, target: JsonValue, body: unknown): JsonValue {
  if (contentType === "application/merge-patch+json") return mergePatch(target, body);
  if (contentType === "application/json-patch+json") return applyJsonPatch(target, body);
  throw new ApiError(
    "UNSUPPORTED_MEDIA_TYPE",
    `unsupported patch type "${contentType || "(none)"}": use application/merge-patch+json or application/json-patch+json`,
  );
}
