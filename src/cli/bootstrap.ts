import type { Clock } from "../core/clock.js";
import { newId } from "../core/ids.js";
import type { Rng } from "../core/rng.js";
import { SYSTEM_TENANT } from "../core/tenancy.js";
import type { Store } from "../db/types.js";
import { generateApiKey, hashApiKey, keyPrefix } from "../http/keys.js";
import { createTenantWithKey } from "../http/routes/v1_admin_tenants.js";

export interface BootstrapResult {
  /** A newly generated admin key, shown once. */
  newAdminKey?: string;
  /** The first tenant's key, made on first start so a newcomer can apply at once. */
  firstTenant?: { name: string; key: string };
}

/**
 * First-start set-up: the reserved `system` tenant, an admin key (the operator's
 * own from `KUBERNEASE_ADMIN_KEY`, or a generated one), and a `default` tenant
 * with a ready-made key. Later starts change nothing but register a new env key.
 */
export async function bootstrap(
  store: Store,
  deps: { clock: Clock; rng: Rng },
  adminKey?: string,
): Promise<BootstrapResult> {
  const now = deps.clock.now();
  const system =
    (await store.getTenantByName(SYSTEM_TENANT)) ??
    (await store.createTenant({ id: newId("ten", deps.clock, deps.rng), name: SYSTEM_TENANT, createdAt: now }));
  const result: BootstrapResult = {};
  const hasAdmin = (await store.listApiKeys(system.id)).some((k) => k.role === "admin" && k.revokedAt === null);
  const key = adminKey ?? (hasAdmin ? undefined : generateApiKey());
  if (key && !(await store.findApiKeyByHash(hashApiKey(key)))) {
    await store.createApiKey({
      id: newId("key", deps.clock, deps.rng),
      tenantId: system.id,
      role: "admin",
      keyHash: hashApiKey(key),
      prefix: keyPrefix(key),
      createdAt: now,
      revokedAt: null,
    });
    if (!adminKey) result.newAdminKey = key;
  }
  const tenants = await store.listTenants();
  if (!tenants.some((t) => t.name !== SYSTEM_TENANT)) {
    const created = await createTenantWithKey(store, deps, "default");
    result.firstTenant = { name: created.tenant.name, key: created.key };
  }
  return result;
}
