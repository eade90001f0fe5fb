import { canonicalJson } from "../core/hash.js";
import { newId, newUid } from "../core/ids.js";
import { ConflictError, NotFoundError, type ObjectRef, type StoredObject, type StoreOps } from "../db/types.js";
import { insertBarePod } from "../jobs/apply.js";
import type { ExpandedManifest, PodSecurityLevel } from "../manifest/index.js";
import type { ApiDeps } from "./context.js";
import { ApiError } from "./errors.js";
import { admitHosts } from "./hosts.js";
import { admitQuota } from "./quota.js";
import { isDnsLabel, OPERATOR_ONLY_KINDS, RESERVED_NAMESPACES, TOP_LEVEL_KINDS } from "./resources.js";

/**
 * Writes of desired state: create, replace, delete and apply. Each commits the
 * objects and their outbox rows in one transaction, so a reconcile is never lost
 * and a failing write leaves nothing behind.
 */
export interface Desired {
  ref: ObjectRef;
  apiVersion: string;
  labels: Record<string, string>;
  annotations: Record<string, string>;
  spec: Record<string, unknown>;
  /** `metadata.resourceVersion` as the client sent it: a write is conditional on it. */
  resourceVersion?: string;
}

export type ApplyAction = "created" | "configured" | "unchanged";

export function checkNamespace(namespace: string): string {
  if (RESERVED_NAMESPACES.has(namespace)) {
    throw new ApiError("FORBIDDEN", `namespace "${namespace}" is reserved for the platform`);
  }
  if (!isDnsLabel(namespace)) {
    throw new ApiError("INVALID", `namespace "${namespace}" is not a valid DNS label`, {
      fields: [{ path: "metadata.namespace", message: "must be a DNS-1123 label" }],
    });
  }
  return namespace;
}

/** The desired object of a manifest; the namespace comes from the manifest, else from the request. */
export function desiredOf(
  tenantId: string,
  manifest: ExpandedManifest,
  requestNamespace: string,
  strictNamespace: boolean,
): Desired {
  const meta = manifest.metadata;
  if (strictNamespace && meta.namespace && meta.namespace !== requestNamespace) {
    throw new ApiError(
      "BAD_REQUEST",
      `the namespace of the object (${meta.namespace}) does not match the namespace of the request (${requestNamespace})`,
    );
  }
  const namespace = manifest.kind === "Namespace" ? meta.name : checkNamespace(meta.namespace ?? requestNamespace);
  const { apiVersion, kind: _kind, metadata: _metadata, ...body } = manifest as unknown as Record<string, unknown>;
  const spec = TOP_LEVEL_KINDS.has(manifest.kind) ? body : ((body.spec as Record<string, unknown> | undefined) ?? {});
  const resourceVersion = (meta as { resourceVersion?: string }).resourceVersion;
  return {
    ref: { tenantId, kind: manifest.kind, namespace, name: meta.name },
    apiVersion: apiVersion as string,
    labels: meta.labels ?? {},
    annotations: (meta as { annotations?: Record<string, string> }).annotations ?? {},
    spec,
    ...(resourceVersion ? { resourceVersion } : {}),
  };
}

/** DaemonSets run on every node: the operator's tool, applied with the admin key into the system tenant. */
export function checkAllowed(kind: string, role: "tenant" | "admin"): void {
  if (role !== "admin" && OPERATOR_ONLY_KINDS.has(kind)) {
    throw new ApiError(
      "FORBIDDEN",
      `${kind} is an operator capability: it runs on every node, and tenants never see nodes`,
    );
  }
}

/**
 * Tenants' pods are held to runtime isolation (no privileged, host namespaces, hostPath, hostPort or added
 * capabilities); the operator's are not, since its node agents (DaemonSets in the system tenant) need the node.
 */
export function podSecurityFor(role: "tenant" | "admin"): PodSecurityLevel {
  return role === "admin" ? "operator" : "tenant";
}

const key = (ref: ObjectRef) => `${ref.kind}/${ref.tenantId}/${ref.namespace}/${ref.name}`;

/**
 * Fields the platform fills in and a client may leave out: a Service keeps its
 * cluster IP across updates, and one set by the client cannot change.
 */
function settle(deps: ApiDeps, desired: Desired, existing: StoredObject | undefined): Desired {
  if (existing) refuseImmutableChange(desired, existing);
  if (desired.ref.kind !== "Service") return desired;
  const spec = { ...desired.spec };
  const before = existing?.spec.clusterIP as string | undefined;
  if (spec.clusterIP === undefined || spec.clusterIP === "") {
    spec.clusterIP = before ?? (spec.type === "ExternalName" ? undefined : allocateClusterIp(deps));
  } else if (before !== undefined && spec.clusterIP !== before) {
    throw new ApiError("INVALID", `Service "${desired.ref.name}" is invalid: spec.clusterIP: field is immutable`, {
      kind: "Service",
      name: desired.ref.name,
      fields: [{ path: "spec.clusterIP", message: "field is immutable" }],
    });
  }
  if (spec.clusterIP === undefined) delete spec.clusterIP;
  else spec.clusterIPs = [spec.clusterIP];
  return { ...desired, spec };
}

/** Kinds whose selector is fixed once created (apps/v1): the pods it chose would be orphaned or taken over. */
const FIXED_SELECTOR_KINDS = new Set(["Deployment", "ReplicaSet", "StatefulSet", "DaemonSet"]);

/**
 * Kubernetes' immutable fields, refused as it refuses them: a workload's selector, and the contents
 * of a ConfigMap or Secret marked `immutable: true` (and the mark itself).
 */
function refuseImmutableChange(desired: Desired, existing: StoredObject): void {
  const { kind, name } = desired.ref;
  const changed = (field: string) =>
    canonicalJson(desired.spec[field] ?? null) !== canonicalJson(existing.spec[field] ?? null);
  let path: string | undefined;
  if (FIXED_SELECTOR_KINDS.has(kind) && changed("selector")) path = "spec.selector";
  if ((kind === "ConfigMap" || kind === "Secret") && existing.spec.immutable === true) {
    path = ["data", "binaryData", "stringData", "immutable"].find(changed);
  }
  if (path === undefined) return;
  throw new ApiError("INVALID", `${kind} "${name}" is invalid: ${path}: field is immutable`, {
    kind,
    name,
    fields: [{ path, message: "field is immutable" }],
  });
}

/** Cluster IPs are virtual (routing maps them), so a random pick from 10.96.0.0/16 per tenant network will do. */
function allocateClusterIp(deps: ApiDeps): string {
  return `10.96.${deps.rng.int(256)}.${1 + deps.rng.int(254)}`;
}

function differs(desired: Desired, existing: StoredObject): boolean {
  const a = {
    apiVersion: desired.apiVersion,
    labels: desired.labels,
    annotations: desired.annotations,
    spec: desired.spec,
  };
  const b = {
    apiVersion: existing.apiVersion,
    labels: existing.labels,
    annotations: existing.annotations,
    spec: existing.spec,
  };
  return canonicalJson(a) !== canonicalJson(b);
}

/** `ensured` remembers the namespaces one transaction has already made sure of, to ask once per namespace. */
async function create(
  tx: StoreOps,
  deps: ApiDeps,
  desired: Desired,
  ensured = new Set<string>(),
): Promise<StoredObject> {
  const now = deps.clock.now();
  if (!ensured.has(desired.ref.namespace)) await tx.ensureNamespace(desired.ref.tenantId, desired.ref.namespace, now);
  ensured.add(desired.ref.namespace);
  const object = await tx.createObject({
    ...desired.ref,
    id: newId("obj", deps.clock, deps.rng),
    uid: newUid(deps.rng),
    apiVersion: desired.apiVersion,
    labels: desired.labels,
    annotations: desired.annotations,
    spec: desired.spec,
    createdAt: now,
  });
  await tx.addOutbox("reconcile", key(desired.ref), now);
  return object;
}

async function update(tx: StoreOps, deps: ApiDeps, desired: Desired, existing: StoredObject): Promise<StoredObject> {
  const now = deps.clock.now();
  const change = {
    apiVersion: desired.apiVersion,
    labels: desired.labels,
    annotations: desired.annotations,
    spec: desired.spec,
  };
  const object = await tx.updateObject(desired.ref, change, {
    expectedResourceVersion: desired.resourceVersion ?? existing.resourceVersion,
    nowMs: now,
  });
  await tx.addOutbox("reconcile", key(desired.ref), now);
  return object;
}

/** Maps the store's errors onto the API's. */
export function storeError(error: unknown, ref: ObjectRef): never {
  if (error instanceof ConflictError && error.reason === "exists") {
    throw new ApiError("ALREADY_EXISTS", `${ref.kind} "${ref.name}" already exists`, {
      kind: ref.kind,
      name: ref.name,
    });
  }
  if (error instanceof ConflictError) {
    throw new ApiError(
      "CONFLICT",
      `Operation cannot be fulfilled on ${ref.kind} "${ref.name}": the object has been modified; please apply your changes to the latest version and try again`,
      { kind: ref.kind, name: ref.name },
    );
  }
  if (error instanceof NotFoundError) {
    throw new ApiError("NOT_FOUND", `${ref.kind} "${ref.name}" not found`, { kind: ref.kind, name: ref.name });
  }
  throw error;
}

async function committed<T>(deps: ApiDeps, ref: ObjectRef, fn: (tx: StoreOps) => Promise<T>): Promise<T> {
  try {
    const result = await deps.store.transaction(fn);
    deps.onCommitted?.();
    return result;
  } catch (error) {
    return storeError(error, ref);
  }
}

export function createObject(deps: ApiDeps, desired: Desired): Promise<StoredObject> {
  return committed(deps, desired.ref, async (tx) => {
    await admitQuota(tx, desired.ref.tenantId, [desired]);
    await admitHosts(tx, deps, [desired]);
    return create(tx, deps, settle(deps, desired, undefined));
  });
}

export function replaceObject(deps: ApiDeps, desired: Desired): Promise<StoredObject> {
  return committed(deps, desired.ref, async (tx) => {
    const existing = await tx.getObject(desired.ref);
    if (!existing) throw new NotFoundError(`${desired.ref.kind} ${desired.ref.name} not found`);
    if (desired.resourceVersion && desired.resourceVersion !== existing.resourceVersion) {
      throw new ConflictError("stale", "stale resourceVersion");
    }
    return replaceIn(tx, deps, desired, existing);
  });
}

async function replaceIn(tx: StoreOps, deps: ApiDeps, desired: Desired, existing: StoredObject): Promise<StoredObject> {
  const settled = settle(deps, desired, existing);
  if (!differs(settled, existing)) return existing;
  await admitQuota(tx, desired.ref.tenantId, [settled]);
  await admitHosts(tx, deps, [settled]);
  return update(tx, deps, settled, existing);
}

/** How often a read-modify-write starts over after another writer came between its read and its write. */
const UPDATE_ATTEMPTS = 20;

/**
 * Replaces an object with what `change` makes of it, read in the write's own transaction:
 * a patch, a Scale. When another writer comes between the read and the conditional write
 * (a controller writing the object's status does, often, while its pods start), the change
 * is made again on what that writer left, as Kubernetes' guaranteed update does; the client
 * sees a conflict only when `change` pins a resourceVersion that is not the stored one.
 */
export async function updateObject(
  deps: ApiDeps,
  ref: ObjectRef,
  change: (existing: StoredObject) => Desired,
): Promise<StoredObject> {
  for (let attempt = 1; ; attempt++) {
    let pinned = false;
    try {
      return await committed(deps, ref, async (tx) => {
        const existing = await tx.getObject(ref);
        if (!existing) throw new NotFoundError(`${ref.kind} ${ref.name} not found`);
        const desired = change(existing);
        if (desired.resourceVersion !== undefined && desired.resourceVersion !== existing.resourceVersion) {
          pinned = true;
          throw new ConflictError("stale", "stale resourceVersion");
        }
        return replaceIn(tx, deps, { ...desired, resourceVersion: existing.resourceVersion }, existing);
      });
    } catch (error) {
      const conflict = error instanceof ApiError && error.code === "CONFLICT";
      if (!conflict || pinned || attempt >= UPDATE_ATTEMPTS) throw error;
    }
  }
}

export function deleteObject(deps: ApiDeps, ref: ObjectRef, resourceVersion?: string): Promise<StoredObject> {
  return committed(deps, ref, async (tx) => {
    // The hosts an Ingress held go with it (before the delete: release compares with what was stored).
    await admitHosts(tx, deps, [{ ref }]);
    const deleted = await tx.deleteObject(ref, { nowMs: deps.clock.now(), expectedResourceVersion: resourceVersion });
    if (!deleted) throw new NotFoundError(`${ref.kind} ${ref.name} not found`);
    // The controller of a deleted object collects what it owned (pods, endpoints).
    await tx.addOutbox("reconcile", key(ref), deps.clock.now());
    return deleted;
  });
}

async function applyObject(
  tx: StoreOps,
  deps: ApiDeps,
  item: Desired,
  dryRun: boolean,
  ensured: Set<string>,
): Promise<ApplyAction> {
  const existing = await tx.getObject(item.ref);
  const settled = settle(deps, item, existing);
  const action: ApplyAction = !existing ? "created" : differs(settled, existing) ? "configured" : "unchanged";
  if (!dryRun && action === "created") await create(tx, deps, settled, ensured);
  if (!dryRun && action === "configured" && existing) await update(tx, deps, settled, existing);
  return action;
}

async function applyNamespace(tx: StoreOps, deps: ApiDeps, item: Desired, dryRun: boolean): Promise<ApplyAction> {
  const { tenantId, name } = item.ref;
  checkNamespace(name);
  if (dryRun) return (await tx.listNamespaces(tenantId)).some((n) => n.name === name) ? "unchanged" : "created";
  return (await tx.ensureNamespace(tenantId, name, deps.clock.now())) ? "created" : "unchanged";
}

/**
 * A bare Pod: created once and then left as it is (its spec cannot change, as in
 * Kubernetes: delete it and apply again). Nothing replaces it when it ends.
 */
async function applyPod(
  tx: StoreOps,
  deps: ApiDeps,
  item: Desired,
  dryRun: boolean,
  ensured: Set<string>,
): Promise<ApplyAction> {
  const { tenantId, namespace, name } = item.ref;
  const existing = await tx.getPodByName(tenantId, namespace, name);
  if (existing) {
    const same =
      canonicalJson({ l: existing.labels, s: existing.spec }) === canonicalJson({ l: item.labels, s: item.spec });
    if (same) return "unchanged";
    throw new ApiError("INVALID", `Pod "${name}" is invalid: a Pod's spec cannot change; delete it and apply again`, {
      kind: "Pod",
      name,
      fields: [{ path: "spec", message: "field is immutable" }],
    });
  }
  if (!dryRun) await insertPod(tx, deps, item, ensured);
  return "created";
}

/** A bare Pod of `POST …/pods`, admitted against the tenant's quota first. */
export async function createPod(tx: StoreOps, deps: ApiDeps, item: Desired) {
  await admitQuota(tx, item.ref.tenantId, [item]);
  return insertPod(tx, deps, item);
}

async function insertPod(tx: StoreOps, deps: ApiDeps, item: Desired, ensured = new Set<string>()) {
  if (!ensured.has(item.ref.namespace))
    await tx.ensureNamespace(item.ref.tenantId, item.ref.namespace, deps.clock.now());
  ensured.add(item.ref.namespace);
  return insertBarePod(tx, deps, item);
}

export interface ApplyResult {
  apiVersion: string;
  kind: string;
  namespace: string;
  name: string;
  action: ApplyAction;
}

/**
 * `kubectl apply` for a whole file: every object is created, configured or left
 * unchanged in ONE transaction. A race with another writer retries the whole
 * file; `dryRun` answers the same plan and writes nothing.
 */
export async function applyAll(deps: ApiDeps, desired: Desired[], dryRun: boolean): Promise<ApplyResult[]> {
  const seen = new Set<string>();
  desired.forEach((d, i) => {
    if (seen.has(key(d.ref))) {
      throw new ApiError("INVALID", `${d.ref.kind} "${d.ref.namespace}/${d.ref.name}" appears twice in the file`, {
        fields: [{ path: "metadata.name", message: "duplicate object in one apply", document: i }],
      });
    }
    seen.add(key(d.ref));
  });
  const pass = async (tx: StoreOps) => {
    // The whole file's steady state against the quota, before anything of it is written.
    if (desired[0]) await admitQuota(tx, desired[0].ref.tenantId, desired);
    await admitHosts(tx, deps, desired, dryRun);
    const results: ApplyResult[] = [];
    const ensured = new Set<string>();
    for (const item of desired) {
      const action =
        item.ref.kind === "Namespace"
          ? await applyNamespace(tx, deps, item, dryRun)
          : item.ref.kind === "Pod"
            ? await applyPod(tx, deps, item, dryRun, ensured)
            : await applyObject(tx, deps, item, dryRun, ensured);
      const { kind, namespace, name } = item.ref;
      results.push({ apiVersion: item.apiVersion, kind, namespace, name, action });
    }
    return results;
  };
  if (dryRun) return pass(deps.store);
  for (let attempt = 1; ; attempt++) {
    try {
      const results = await deps.store.transaction(pass);
      deps.onCommitted?.();
      return results;
    } catch (error) {
      if (!(error instanceof ConflictError) || attempt >= 3) {
        return storeError(error, desired[0]?.ref ?? { tenantId: "", kind: "", namespace: "", name: "" });
      }
    }
  }
}
