import type { Hono } from "hono";
import { readRoutingStatus } from "../../jobs/routing.js";
import { currentRouteTable } from "../../routing/load.js";
import { type RouteTable, tenantView } from "../../routing/table.js";
import { requireAdmin } from "../auth.js";
import type { ApiDeps, AppEnv } from "../context.js";
import { ApiError } from "../errors.js";
import { tenantId } from "./shared.js";

export type RouteTableResponse = RouteTable & { kind: "RouteTable" };

const response = (table: RouteTable): RouteTableResponse => ({ kind: "RouteTable", ...table });

/**
 * `GET /v1/admin/routing`: the whole route table (frontends by host, backends,
 * servers, what is not routed and why) and its version, computed from the store
 * as the proxy is given it, and (with a managed proxy) the version it serves.
 * Operator only.
 */
export function registerAdminRouting(app: Hono<AppEnv>, deps: ApiDeps): void {
  app.get("/v1/admin/routing", requireAdmin(), async (c) => {
    const [table, published] = await Promise.all([routeTable(deps), publishedStatus(deps)]);
    return c.json({ ...response(table), ...(published ? { published } : {}) });
  });
}

/** The table as the proxy is given it: endpoints on other machines at their nodes' published ports, certificates judged now. */
async function routeTable(deps: ApiDeps): Promise<RouteTable> {
  const reach = await deps.routeReach?.();
  return currentRouteTable(deps.store, { ...(reach ? { reach } : {}), nowMs: deps.clock.now() });
}

/** What the managed proxy serves (the version, when, the last failure), when the platform runs one. */
async function publishedStatus(deps: ApiDeps) {
  const spec = (await readRoutingStatus(deps.store))?.spec;
  if (!spec) return undefined;
  return {
    version: spec.version,
    publishedAt: spec.publishedAtMs === null ? null : new Date(spec.publishedAtMs).toISOString(),
    error: spec.error,
  };
}

/** `GET /v1/routing`: the tenant's own part of the table, with a version of its own. */
export function registerRouting(app: Hono<AppEnv>, deps: ApiDeps): void {
  app.get("/v1/routing", async (c) => {
    const tenant = await deps.store.getTenant(tenantId(c));
    if (!tenant) throw new ApiError("NOT_FOUND", "tenant not found");
    // Never reached through `routeReach`: a tenant sees its pods' own addresses, never a node's address or port.
    const table = await currentRouteTable(deps.store, { nowMs: deps.clock.now() });
    return c.json(response(tenantView(table, tenant.name)));
  });
}
