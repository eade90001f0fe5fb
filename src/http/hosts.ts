/**
 * Host admission: a tenant's Ingress (an App's domain among them) may name only
 * hosts under the tenant's own suffix of the base domain or custom domains the
 * operator approved for it, and a host is held by one tenant at a time.
 *
 * The hold is a `HostClaim` object in the reserved `system` tenant, named by the
 * host, written in the same transaction as the Ingress. The objects table's
 * unique key (tenant, kind, namespace, name) is what makes it race-proof: of two
 * tenants' concurrent writes naming one host, the second insert waits for the
 * first transaction and then finds the row, and its whole write is refused. No
 * migration is needed, as for PersistentVolumes (src/jobs/volumes.ts).
 */
import { newId, newUid } from "../core/ids.js";
import { SYSTEM_TENANT } from "../core/tenancy.js";
import { ConflictError, type ObjectRef, type StoredObject, type StoreOps } from "../db/types.js";
import { APP_MANAGED_BY } from "../manifest/index.js";
import {
  allowanceFor,
  describeAllowance,
  HOST_CLAIM_KIND,
  type HostAllowance,
  type HostClaimSpec,
  hostsOf,
  isAllowed,
  ruleHosts,
  TENANT_DOMAINS_KIND,
} from "../routing/hosts.js";
import type { ApiDeps } from "./context.js";
import { ApiError } from "./errors.js";

/** A write as host admission sees it: the object and its new spec (undefined: deleted). */
export interface HostChange {
  ref: ObjectRef;
  labels?: Record<string, string>;
  spec?: Record<string, unknown>;
}

const INGRESS = "Ingress";

async function systemTenantId(store: Pick<StoreOps, "getTenantByName">): Promise<string> {
  const tenant = await store.getTenantByName(SYSTEM_TENANT);
  if (!tenant) throw new Error("the system tenant is missing; the platform was not bootstrapped");
  return tenant.id;
}

const claimRef = (systemId: string, host: string): ObjectRef => ({
  tenantId: systemId,
  kind: HOST_CLAIM_KIND,
  namespace: "",
  name: host,
});

export const domainsRef = (systemId: string, tenantId: string): ObjectRef => ({
  tenantId: systemId,
  kind: TENANT_DOMAINS_KIND,
  namespace: "",
  name: tenantId,
});

/** The custom domains the operator approved for a tenant. */
export async function approvedDomains(store: StoreOps, tenantId: string): Promise<string[]> {
  const stored = await store.getObject(domainsRef(await systemTenantId(store), tenantId));
  return (stored?.spec.domains as string[] | undefined) ?? [];
}

/** The hold on a host, or who holds it. */
function holderOf(claim: StoredObject | undefined): string | undefined {
  return (claim?.spec as HostClaimSpec | undefined)?.tenantId;
}

/**
 * Checks and records the hosts of a write (create, replace, apply of a whole
 * file, delete), inside its transaction: hosts outside the tenant's allowance are
 * refused (403, with the field path and the allowed suffix), hosts another tenant
 * holds are refused (409, naming the host, never the tenant), new hosts are
 * claimed and hosts no Ingress of the tenant names any more are released. With
 * `dryRun` it checks and writes nothing.
 */
export async function admitHosts(
  tx: StoreOps,
  deps: Pick<ApiDeps, "clock" | "rng" | "baseDomain">,
  changes: readonly HostChange[],
  dryRun = false,
): Promise<void> {
  const ingresses = changes.filter((c) => c.ref.kind === INGRESS);
  const tenantId = ingresses[0]?.ref.tenantId;
  if (tenantId === undefined) return;
  // One tenant's host writes go one at a time, so a release and a claim of the same host cannot cross.
  const tenant = dryRun ? await tx.getTenant(tenantId) : await tx.lockTenant(tenantId);
  if (!tenant) throw new Error(`tenant ${tenantId} is missing`);
  const systemId = await systemTenantId(tx);
  if (tenant.name !== SYSTEM_TENANT && deps.baseDomain !== undefined) {
    checkAllowance(ingresses, allowanceFor(tenant.name, deps.baseDomain, await approvedDomains(tx, tenantId)));
  }
  const stored = await tx.listObjects({ kind: INGRESS, tenantId });
  const named = (specs: Map<string, Record<string, unknown> | undefined>) =>
    new Set([...specs.values()].flatMap((spec) => hostsOf(spec)));
  const before = new Map<string, Record<string, unknown> | undefined>(stored.map((o) => [refKey(o), o.spec]));
  const after = new Map(before);
  for (const change of ingresses) after.set(refKey(change.ref), change.spec);
  await claimHosts(tx, deps, systemId, ingresses, dryRun);
  if (dryRun) return;
  const kept = named(after);
  for (const host of named(before)) {
    if (kept.has(host)) continue;
    const ref = claimRef(systemId, host);
    if (holderOf(await tx.getObject(ref)) === tenantId) await tx.deleteObject(ref, { nowMs: deps.clock.now() });
  }
}

const refKey = (ref: ObjectRef) => `${ref.namespace}/${ref.name}`;

/** Where a refusal points: an App's domain for an Ingress the App expanded into, else the rule's host. */
function fieldOf(change: HostChange, path: string): { kind: string; path: string } {
  const app = change.labels?.["app.kubernetes.io/managed-by"] === APP_MANAGED_BY;
  return app ? { kind: "App", path: "spec.domain" } : { kind: INGRESS, path };
}

function checkAllowance(changes: readonly HostChange[], allowance: HostAllowance): void {
  for (const change of changes) {
    for (const { host, path } of ruleHosts(change.spec)) {
      if (isAllowed(host, allowance)) continue;
      const field = fieldOf(change, path);
      const message = `host "${host}" is not in this tenant's domains: use ${describeAllowance(allowance)}, or ask the operator to approve the domain`;
      throw new ApiError("FORBIDDEN", `${field.kind} "${change.ref.name}" is forbidden: ${field.path}: ${message}`, {
        kind: field.kind,
        name: change.ref.name,
        causes: [{ reason: "FieldValueForbidden", message, field: field.path }],
      });
    }
  }
}

/**
 * Claims every host the changed Ingresses name that the tenant does not hold yet. The hosts go in sorted
 * order, in every transaction, so two writes waiting on each other's claims can never deadlock.
 */
async function claimHosts(
  tx: StoreOps,
  deps: Pick<ApiDeps, "clock" | "rng">,
  systemId: string,
  changes: readonly HostChange[],
  dryRun: boolean,
): Promise<void> {
  const wanted = new Map<string, { change: HostChange; path: string }>();
  for (const change of changes) {
    for (const { host, path } of ruleHosts(change.spec)) if (!wanted.has(host)) wanted.set(host, { change, path });
  }
  for (const host of [...wanted.keys()].sort()) {
    const { change, path } = wanted.get(host) as { change: HostChange; path: string };
    const ref = claimRef(systemId, host);
    const holder = holderOf(await tx.getObject(ref));
    if (holder === change.ref.tenantId) continue;
    if (holder === undefined && dryRun) continue;
    if (holder === undefined && (await tryClaim(tx, deps, ref, change.ref.tenantId))) continue;
    const field = fieldOf(change, path);
    const message = `host "${host}" is already in use by another tenant`;
    throw new ApiError("CONFLICT", `${field.kind} "${change.ref.name}": ${field.path}: ${message}`, {
      kind: field.kind,
      name: change.ref.name,
      causes: [{ reason: "FieldValueDuplicate", message, field: field.path }],
    });
  }
}

/** Inserts the claim; false when another transaction's claim on the host won the unique key first. */
async function tryClaim(
  tx: StoreOps,
  deps: Pick<ApiDeps, "clock" | "rng">,
  ref: ObjectRef,
  tenantId: string,
): Promise<boolean> {
  const spec: HostClaimSpec = { tenantId };
  try {
    await tx.createObject({
      ...ref,
      id: newId("obj", deps.clock, deps.rng),
      uid: newUid(deps.rng),
      apiVersion: "kubernease.dev/v1",
      labels: {},
      annotations: {},
      spec: { ...spec },
      createdAt: deps.clock.now(),
    });
    return true;
  } catch (error) {
    if (error instanceof ConflictError && error.reason === "exists") return false;
    throw error;
  }
}
