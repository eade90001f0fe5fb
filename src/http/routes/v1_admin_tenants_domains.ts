import type { Hono } from "hono";
import { newId, newUid } from "../../core/ids.js";
import { SYSTEM_TENANT } from "../../core/tenancy.js";
import type { TenantRecord } from "../../db/types.js";
import { isDomainPattern } from "../../routing/hosts.js";
import { requireAdmin } from "../auth.js";
import type { ApiDeps, AppEnv } from "../context.js";
import { ApiError, fieldErrorsMessage } from "../errors.js";
import { approvedDomains, domainsRef } from "../hosts.js";
import type { Ctx } from "./shared.js";

export interface TenantDomainsResponse {
  kind: "TenantDomains";
  tenant: string;
  /** What the tenant has by name (`*.acme.apps.example`), or null without a base domain. */
  suffix: string | null;
  domains: string[];
}

const EXAMPLE = '{ "domains": ["shop.example.com", "*.example.org"] }';

async function tenantNamed(c: Ctx, deps: ApiDeps): Promise<TenantRecord> {
  const name = c.req.param("name") ?? "";
  const tenant = await deps.store.getTenantByName(name);
  if (!tenant || tenant.name === SYSTEM_TENANT) throw new ApiError("NOT_FOUND", `tenant "${name}" not found`);
  return tenant;
}

/**
 * The list as sent, checked: DNS names (a wildcard first label allowed), none
 * inside the base domain, whose names tenants get by their own name.
 */
function parseDomains(body: unknown, baseDomain: string | undefined): string[] {
  const list = Array.isArray(body) ? body : (body as { domains?: unknown } | null)?.domains;
  const prefix = Array.isArray(body) ? "" : "domains";
  if (!Array.isArray(list)) {
    throw new ApiError("INVALID", `domains: required, a list of domains: ${EXAMPLE}`, {
      fields: [{ path: "domains", message: "required" }],
    });
  }
  const fields = list.flatMap((entry, i) => {
    const path = `${prefix}[${i}]`;
    if (typeof entry !== "string" || !isDomainPattern(entry)) {
      return [{ path, message: 'must be a lower-case DNS name, optionally with "*." as its first label' }];
    }
    const name = entry.startsWith("*.") ? entry.slice(2) : entry;
    if (baseDomain && (name === baseDomain || name.endsWith(`.${baseDomain}`))) {
      return [{ path, message: `is inside the base domain ${baseDomain}, whose names tenants get by their own name` }];
    }
    return [];
  });
  if (fields.length > 0)
    throw new ApiError("INVALID", `domains are invalid: ${fieldErrorsMessage(fields)}`, { fields });
  return [...new Set(list as string[])].sort();
}

async function view(deps: ApiDeps, tenant: TenantRecord, domains?: string[]): Promise<TenantDomainsResponse> {
  return {
    kind: "TenantDomains",
    tenant: tenant.name,
    suffix: deps.baseDomain ? `*.${tenant.name}.${deps.baseDomain}` : null,
    domains: domains ?? (await approvedDomains(deps.store, tenant.id)),
  };
}

/**
 * `PUT /v1/admin/tenants/{name}/domains` `{ "domains": ["shop.example.com", "*.example.org"] }`
 * sets the custom domains the operator approves for a tenant (the whole list; `[]`
 * clears it); `GET` shows them. Kept as a platform object in the `system` tenant.
 * Hosts already claimed stay claimed when their domain is withdrawn; new writes naming them are refused.
 */
export function registerAdminTenantDomains(app: Hono<AppEnv>, deps: ApiDeps): void {
  const path = "/v1/admin/tenants/:name/domains";
  app.get(path, requireAdmin(), async (c) => c.json(await view(deps, await tenantNamed(c, deps))));
  app.put(path, requireAdmin(), async (c) => {
    const body = await c.req.json().catch(() => {
      throw new ApiError("BAD_REQUEST", `send JSON: ${EXAMPLE}`);
    });
    const domains = parseDomains(body, deps.baseDomain);
    const tenant = await tenantNamed(c, deps);
    await deps.store.transaction(async (tx) => {
      const system = await tx.getTenantByName(SYSTEM_TENANT);
      if (!system) throw new Error("the system tenant is missing; the platform was not bootstrapped");
      const ref = domainsRef(system.id, tenant.id);
      const now = deps.clock.now();
      const existing = await tx.getObject(ref);
      const fields = { apiVersion: "kubernease.dev/v1", labels: {}, annotations: {}, spec: { domains } };
      if (domains.length === 0) {
        if (existing) await tx.deleteObject(ref, { nowMs: now });
      } else if (existing) {
        await tx.updateObject(ref, fields, { nowMs: now, expectedResourceVersion: existing.resourceVersion });
      } else {
        const id = newId("obj", deps.clock, deps.rng);
        await tx.createObject({ ...ref, ...fields, id, uid: newUid(deps.rng), createdAt: now });
      }
    });
    return c.json(await view(deps, tenant, domains));
  });
}
