import type { Hono } from "hono";
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
 * as the proxy is given it. Operator only.
 */
export function registerAdminRouting(app: Hono<AppEnv>, deps: ApiDeps): void {
  app.get("/v1/admin/routing", requireAdmin(), async (c) => c.json(response(await currentRouteTable(deps.store))));
}

/** `GET /v1/routing`: the tenant's own part of the table, with a version of its own. */
export function registerRouting(app: Hono<AppEnv>, deps: ApiDeps): void {
  app.get("/v1/routing", async (c) => {
    const tenant = await deps.store.getTenant(tenantId(c));
    if (!tenant) throw new ApiError("NOT_FOUND", "tenant not found");
    return c.json(response(tenantView(await currentRouteTable(deps.store), tenant.name)));
  });
}
