import type { Context } from "hono";
import type { ManifestFormat } from "../manifest/index.js";
import { ApiError } from "./errors.js";

const YAML_TYPES = new Set(["application/yaml", "application/x-yaml", "text/yaml", "text/x-yaml"]);

export function mediaType(c: Context): string {
  return (c.req.header("content-type") ?? "").split(";")[0]?.trim().toLowerCase() ?? "";
}

/** The manifest format of a write's body, from its Content-Type; anything else is 415. */
export function manifestFormat(c: Context): ManifestFormat {
  const type = mediaType(c);
  if (type === "application/json") return "json";
  if (YAML_TYPES.has(type)) return "yaml";
  throw new ApiError(
    "UNSUPPORTED_MEDIA_TYPE",
    `unsupported Content-Type "${type || "(none)"}": send application/yaml or application/json`,
  );
}
