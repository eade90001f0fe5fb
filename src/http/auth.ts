import type { MiddlewareHandler } from "hono";
import type { ApiDeps, AppEnv } from "./context.js";
import { ApiError } from "./errors.js";
import { hashApiKey } from "./keys.js";

const PUBLIC_PATHS = new Set(["/healthz", "/readyz"]);

/** `Authorization: Bearer <key>` on every path but the health checks; sets the request's principal. */
export function authenticate(deps: ApiDeps): MiddlewareHandler<AppEnv> {
  return async (c, next) => {
    if (PUBLIC_PATHS.has(c.req.path)) return next();
    const header = c.req.header("authorization") ?? "";
    const match = /^Bearer\s+(\S+)$/i.exec(header);
    if (!match?.[1]) throw new ApiError("UNAUTHORIZED", "missing bearer token: send Authorization: Bearer <key>");
    const key = await deps.store.findApiKeyByHash(hashApiKey(match[1]));
    if (!key) throw new ApiError("UNAUTHORIZED", "invalid or revoked key");
    c.set("principal", { tenantId: key.tenantId, role: key.role, keyId: key.id });
    return next();
  };
}

export function requireAdmin(): MiddlewareHandler<AppEnv> {
  return async (c, next) => {
    if (c.get("principal").role !== "admin") throw new ApiError("FORBIDDEN", "this path is for the platform operator");
    return next();
  };
}
