import type { Hono } from "hono";
import { z } from "zod";
import { cpuMillis, isQuantity, memoryBytes } from "../../core/quantity.js";
import type { TenantQuota } from "../../db/types.js";
import { objectKey } from "../../jobs/keys.js";
import { requireAdmin } from "../auth.js";
import type { ApiDeps, AppEnv } from "../context.js";
import { ApiError, fieldErrorsMessage } from "../errors.js";
import { quotaView } from "../quota.js";
import type { Ctx } from "./shared.js";

/** The controllers that create pods, and so may be waiting for quota. */
const WAITING_KINDS = ["ReplicaSet", "ReplicationController", "StatefulSet"];

const QUANTITY = "must be a quantity, such as 8, 500m or 16Gi";
const WHOLE = "must be a whole number ≥ 0";
const quantity = () =>
  z.union([z.string(), z.number()], { error: QUANTITY }).refine((q) => isQuantity(q), { error: QUANTITY });

/** The body of `PUT`: each limit optional; `pods` a whole number (or its string, as Kubernetes writes it). */
const QuotaBody = z.strictObject({
  cpu: quantity().optional(),
  memory: quantity().optional(),
  storage: quantity().optional(),
  pods: z
    .union([z.int().min(0, { error: WHOLE }), z.string().regex(/^\d{1,9}$/, { error: WHOLE })], { error: WHOLE })
    .optional(),
});

function toQuota(body: z.infer<typeof QuotaBody>): TenantQuota | null {
  const quota: TenantQuota = {
    ...(body.cpu !== undefined ? { cpuMillis: cpuMillis(body.cpu) } : {}),
    ...(body.memory !== undefined ? { memoryBytes: memoryBytes(body.memory) } : {}),
    ...(body.pods !== undefined ? { pods: Number(body.pods) } : {}),
    ...(body.storage !== undefined ? { storageBytes: memoryBytes(body.storage) } : {}),
  };
  return Object.keys(quota).length > 0 ? quota : null;
}

function invalidQuota(error: z.ZodError): ApiError {
  const fields = error.issues.flatMap((issue) =>
    issue.code === "unrecognized_keys"
      ? issue.keys.map((key) => ({ path: key, message: `unknown field ${JSON.stringify(key)}` }))
      : [{ path: issue.path.join("."), message: issue.message }],
  );
  return new ApiError("INVALID", `quota is invalid: ${fieldErrorsMessage(fields)}`, { fields });
}

async function tenantNamed(c: Ctx, deps: ApiDeps) {
  const name = c.req.param("name") ?? "";
  const tenant = await deps.store.getTenantByName(name);
  if (!tenant) throw new ApiError("NOT_FOUND", `tenant "${name}" not found`);
  return tenant;
}

/**
 * `PUT /v1/admin/tenants/{name}/quota` `{ "cpu": "8", "memory": "16Gi", "pods": 50, "storage": "100Gi" }`
 * sets a tenant's quota (an absent limit is unlimited; `{}` or `null` clears it);
 * `GET` shows it with the tenant's usage. Operator only. A lower quota never stops
 * what runs: it refuses what would grow past it.
 */
export function registerAdminTenantQuota(app: Hono<AppEnv>, deps: ApiDeps): void {
  const path = "/v1/admin/tenants/:name/quota";
  app.get(path, requireAdmin(), async (c) => c.json(await quotaView(deps.store, await tenantNamed(c, deps))));
  app.put(path, requireAdmin(), async (c) => {
    const body = await c.req.json().catch(() => {
      throw new ApiError("BAD_REQUEST", 'send JSON: { "cpu": "8", "memory": "16Gi", "pods": 50, "storage": "100Gi" }');
    });
    const parsed = QuotaBody.safeParse(body ?? {});
    if (!parsed.success) throw invalidQuota(parsed.error);
    const tenant = await tenantNamed(c, deps);
    const updated = await deps.store.transaction(async (tx) => {
      const set = await tx.setTenantQuota(tenant.id, toQuota(parsed.data));
      // Controllers waiting for room look again now rather than at their next retry.
      for (const kind of WAITING_KINDS) {
        for (const o of await tx.listObjects({ kind, tenantId: tenant.id })) {
          await tx.addOutbox("reconcile", objectKey(o), deps.clock.now());
        }
      }
      return set;
    });
    if (!updated) throw new ApiError("NOT_FOUND", `tenant "${tenant.name}" not found`);
    deps.onCommitted?.();
    return c.json(await quotaView(deps.store, updated));
  });
}
