import type { Context, MiddlewareHandler } from "hono";
import type { ObjectRef } from "../../db/types.js";
import { DEFAULT_LIMITS, type ExpandedManifest, type FieldError, parseManifests } from "../../manifest/index.js";
import { manifestFormat } from "../body.js";
import type { ApiDeps, AppEnv } from "../context.js";
import { ApiError, fieldErrorsMessage } from "../errors.js";
import { checkAllowed, checkNamespace, podSecurityFor } from "../objects.js";

export type Ctx = Context<AppEnv>;

export function tenantId(c: Ctx): string {
  return c.get("principal").tenantId;
}

export function pathRef(c: Ctx, resource: { kind: string }): ObjectRef {
  return {
    tenantId: tenantId(c),
    kind: resource.kind,
    namespace: checkNamespace(c.req.param("ns") ?? "default"),
    name: c.req.param("name") ?? "",
  };
}

export function invalid(errors: FieldError[], what = "the manifest"): ApiError {
  return new ApiError("INVALID", `${what} is invalid: ${fieldErrorsMessage(errors)}`, { fields: errors });
}

/** Every manifest of the body, validated: all problems are reported together, with their field paths. */
export async function readManifests(c: Ctx, deps: ApiDeps): Promise<ExpandedManifest[]> {
  const format = manifestFormat(c);
  const text = await c.req.text();
  const limits = { ...DEFAULT_LIMITS, maxBytes: deps.maxBodyBytes ?? DEFAULT_LIMITS.maxBytes };
  const parsed = parseManifests(text, format, limits, { podSecurity: podSecurityFor(c.get("principal").role) });
  if (!parsed.ok) throw invalid(parsed.errors);
  return parsed.manifests;
}

/** The one manifest of a REST write, which must be of the path's kind. */
export async function readManifest(c: Ctx, deps: ApiDeps, resource: { kind: string }): Promise<ExpandedManifest> {
  const manifests = await readManifests(c, deps);
  const [manifest] = manifests;
  if (!manifest || manifests.length !== 1) throw new ApiError("BAD_REQUEST", "send exactly one object to this path");
  if (manifest.kind !== resource.kind) {
    throw new ApiError("BAD_REQUEST", `this path takes a ${resource.kind}, not a ${manifest.kind}`);
  }
  return manifest;
}

/** Writes of an operator-only kind (DaemonSet) need the admin key. */
export function operatorGuard(resource: { kind: string }): MiddlewareHandler<AppEnv> {
  return async (c, next) => {
    checkAllowed(resource.kind, c.get("principal").role);
    return next();
  };
}

/** The highest resourceVersion among items, as a list's resourceVersion. */
export function listVersion(items: { resourceVersion: string }[]): string {
  return String(items.reduce((max, i) => Math.max(max, Number(i.resourceVersion)), 0));
}
