import type { Hono } from "hono";
import { parseRouteStats, renderRouteMetrics } from "../../routing/metrics.js";
import { requireAdmin } from "../auth.js";
import type { ApiDeps, AppEnv } from "../context.js";
import { ApiError } from "../errors.js";
import { tenantId } from "./shared.js";

const PROMETHEUS = "text/plain; version=0.0.4; charset=utf-8";

async function routeStats(deps: ApiDeps) {
  if (!deps.routeStats) throw new ApiError("SERVICE_UNAVAILABLE", "this platform runs no managed proxy");
  try {
    return parseRouteStats(await deps.routeStats());
  } catch {
    throw new ApiError("SERVICE_UNAVAILABLE", "the proxy's statistics cannot be read now; try again");
  }
}

/**
 * `GET /v1/metrics`: Prometheus metrics of the tenant's own routes (requests by status class,
 * sessions, bytes, errors, retries, response time, pods in rotation), from the managed HAProxy.
 * `GET /v1/admin/metrics`: every tenant's, labelled by tenant. Operator only.
 */
export function registerMetrics(app: Hono<AppEnv>, deps: ApiDeps): void {
  app.get("/v1/metrics", async (c) => {
    const tenant = await deps.store.getTenant(tenantId(c));
    if (!tenant) throw new ApiError("NOT_FOUND", "tenant not found");
    const text = renderRouteMetrics(await routeStats(deps), tenant.name);
    return c.body(text, 200, { "content-type": PROMETHEUS });
  });
  app.get("/v1/admin/metrics", requireAdmin(), async (c) => {
    return c.body(renderRouteMetrics(await routeStats(deps)), 200, { "content-type": PROMETHEUS });
  });
}
