import type { Hono } from "hono";
import type { ApiDeps, AppEnv } from "../context.js";
import { ApiError } from "../errors.js";
import { quotaView } from "../quota.js";
import { tenantId } from "./shared.js";

/**
 * `GET /v1/quota`: the tenant's quota, what it uses now and its steady state, as
 * quantities (`{ hard: { cpu: "8", memory: "16Gi" }, used: …, steadyState: … }`).
 * The operator looks into a tenant with `?tenant=NAME`.
 */
export function registerQuota(app: Hono<AppEnv>, deps: ApiDeps): void {
  app.get("/v1/quota", async (c) => {
    const asked = c.req.query("tenant");
    if (asked !== undefined && c.get("principal").role !== "admin") {
      throw new ApiError("FORBIDDEN", "only the operator may look into another tenant");
    }
    const tenant =
      asked === undefined ? await deps.store.getTenant(tenantId(c)) : await deps.store.getTenantByName(asked);
    if (!tenant) throw new ApiError("NOT_FOUND", `tenant "${asked ?? ""}" not found`);
    return c.json(await quotaView(deps.store, tenant));
  });
}
