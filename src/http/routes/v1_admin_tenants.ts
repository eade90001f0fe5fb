import type { Hono } from "hono";
import { newId } from "../../core/ids.js";
import { ConflictError, type StoreOps } from "../../db/types.js";
import { requireAdmin } from "../auth.js";
import type { ApiDeps, AppEnv } from "../context.js";
import { ApiError } from "../errors.js";
import { generateApiKey, hashApiKey, keyPrefix } from "../keys.js";
import { isDnsLabel } from "../resources.js";

/** Creates a tenant and its first key in one transaction; the key is shown once. */
export async function createTenantWithKey(
  store: StoreOps & { transaction: <T>(fn: (tx: StoreOps) => Promise<T>) => Promise<T> },
  deps: Pick<ApiDeps, "clock" | "rng">,
  name: string,
): Promise<{ tenant: { id: string; name: string; createdAt: string }; key: string }> {
  const key = generateApiKey();
  const now = deps.clock.now();
  const tenant = await store.transaction(async (tx) => {
    const created = await tx.createTenant({ id: newId("ten", deps.clock, deps.rng), name, createdAt: now });
    await tx.createApiKey({
      id: newId("key", deps.clock, deps.rng),
      tenantId: created.id,
      role: "tenant",
      keyHash: hashApiKey(key),
      prefix: keyPrefix(key),
      createdAt: now,
      revokedAt: null,
    });
    return created;
  });
  return { tenant: { id: tenant.id, name: tenant.name, createdAt: new Date(tenant.createdAt).toISOString() }, key };
}

/** `POST /v1/admin/tenants` `{ "name": "acme" }` → the tenant and its first key; `GET` lists tenants. Operator only. */
export function registerAdminTenants(app: Hono<AppEnv>, deps: ApiDeps): void {
  app.use("/v1/admin/*", requireAdmin());
  app.post("/v1/admin/tenants", async (c) => {
    const body = (await c.req.json().catch(() => {
      throw new ApiError("BAD_REQUEST", 'send JSON: { "name": "acme" }');
    })) as { name?: unknown };
    const name = body?.name;
    if (typeof name !== "string" || !isDnsLabel(name) || name === "system") {
      throw new ApiError(
        "INVALID",
        "name: must be a DNS label (lower case letters, digits, '-'), other than \"system\"",
        {
          fields: [{ path: "name", message: "must be a DNS label" }],
        },
      );
    }
    try {
      return c.json(await createTenantWithKey(deps.store, deps, name), 201);
    } catch (error) {
      if (error instanceof ConflictError) throw new ApiError("ALREADY_EXISTS", `tenant "${name}" already exists`);
      throw error;
    }
  });
  app.get("/v1/admin/tenants", async (c) => {
    const tenants = await deps.store.listTenants();
    return c.json({
      items: tenants.map((t) => ({ id: t.id, name: t.name, createdAt: new Date(t.createdAt).toISOString() })),
    });
  });
}
