import type { Clock } from "../core/clock.js";
import { canonicalJson } from "../core/hash.js";
import { newId, newUid } from "../core/ids.js";
import type { Rng } from "../core/rng.js";
import type { ObjectRef, Store, StoredObject, StoreOps } from "../db/types.js";
import { insertBarePod } from "../jobs/apply.js";
import type { ExpandedManifest } from "../manifest/index.js";

/**
 * The simulator's own thin applier: parsed manifests into store objects and
 * outbox rows, in one transaction, the way `applyAll` in src/http/objects.ts
 * writes them (the same job key, `Kind/tenantId/namespace/name`). src/simulator
 * may not import src/http, so this is a deliberate, small duplicate: it should
 * fold into one lower-layer applier (src/jobs or src/db) that both use, once
 * objects.ts is free to move. Quotas, auth and dry runs are the API's concerns
 * and are not repeated here.
 */
export interface ApplyDeps {
  store: Store;
  clock: Clock;
  rng: Rng;
  tenantId: string;
  /** Called after a commit that wrote outbox rows (the control plane's relay kick). */
  onCommitted: () => void;
}

/** Kinds whose content sits at the top level of the object, not under `spec` (as src/http/resources.ts). */
const TOP_LEVEL_KINDS = new Set(["ConfigMap", "Secret", "ServiceAccount", "Endpoints"]);

interface Desired {
  ref: ObjectRef;
  apiVersion: string;
  labels: Record<string, string>;
  annotations: Record<string, string>;
  spec: Record<string, unknown>;
}

const jobKey = (ref: ObjectRef) => `${ref.kind}/${ref.tenantId}/${ref.namespace}/${ref.name}`;

function desiredOf(tenantId: string, manifest: ExpandedManifest): Desired {
  const meta = manifest.metadata as { name: string; namespace?: string; labels?: Record<string, string> } & {
    annotations?: Record<string, string>;
  };
  const namespace = manifest.kind === "Namespace" ? meta.name : (meta.namespace ?? "default");
  const { apiVersion, kind: _kind, metadata: _metadata, ...body } = manifest as unknown as Record<string, unknown>;
  const spec = TOP_LEVEL_KINDS.has(manifest.kind) ? body : ((body.spec as Record<string, unknown> | undefined) ?? {});
  return {
    ref: { tenantId, kind: manifest.kind, namespace, name: meta.name },
    apiVersion: apiVersion as string,
    labels: meta.labels ?? {},
    annotations: meta.annotations ?? {},
    spec,
  };
}

export type ApplyOutcome = "created" | "configured" | "unchanged";

/** Applies manifests as `kubectl apply` would: each object created, configured or left unchanged. */
export async function applyManifests(
  deps: ApplyDeps,
  manifests: ExpandedManifest[],
): Promise<{ ref: ObjectRef; outcome: ApplyOutcome }[]> {
  const desired = manifests.map((m) => desiredOf(deps.tenantId, m));
  const results = await deps.store.transaction(async (tx) => {
    const out: { ref: ObjectRef; outcome: ApplyOutcome }[] = [];
    for (const item of desired) out.push({ ref: item.ref, outcome: await applyOne(tx, deps, item) });
    return out;
  });
  deps.onCommitted();
  return results;
}

async function applyOne(tx: StoreOps, deps: ApplyDeps, item: Desired): Promise<ApplyOutcome> {
  const now = deps.clock.now();
  const { tenantId, kind, namespace, name } = item.ref;
  if (kind === "Namespace") return (await tx.ensureNamespace(tenantId, name, now)) ? "created" : "unchanged";
  await tx.ensureNamespace(tenantId, namespace, now);
  if (kind === "Pod") {
    if (await tx.getPodByName(tenantId, namespace, name)) return "unchanged";
    await insertBarePod(tx, deps, item);
    return "created";
  }
  const existing = await tx.getObject(item.ref);
  const settled = withClusterIp(deps, item, existing);
  if (!existing) {
    await tx.createObject({
      ...settled.ref,
      id: newId("obj", deps.clock, deps.rng),
      uid: newUid(deps.rng),
      apiVersion: settled.apiVersion,
      labels: settled.labels,
      annotations: settled.annotations,
      spec: settled.spec,
      createdAt: now,
    });
    await tx.addOutbox("reconcile", jobKey(settled.ref), now);
    return "created";
  }
  const change = {
    apiVersion: settled.apiVersion,
    labels: settled.labels,
    annotations: settled.annotations,
    spec: settled.spec,
  };
  const before = {
    apiVersion: existing.apiVersion,
    labels: existing.labels,
    annotations: existing.annotations,
    spec: existing.spec,
  };
  if (canonicalJson(change) === canonicalJson(before)) return "unchanged";
  await tx.updateObject(settled.ref, change, { expectedResourceVersion: existing.resourceVersion, nowMs: now });
  await tx.addOutbox("reconcile", jobKey(settled.ref), now);
  return "configured";
}

/** A Service keeps its cluster IP across applies; a new one gets one from 10.96.0.0/16, as the API gives it. */
function withClusterIp(deps: ApplyDeps, item: Desired, existing: StoredObject | undefined): Desired {
  if (item.ref.kind !== "Service" || item.spec.type === "ExternalName") return item;
  const clusterIP =
    (item.spec.clusterIP as string | undefined) ||
    (existing?.spec.clusterIP as string | undefined) ||
    `10.96.${deps.rng.int(256)}.${1 + deps.rng.int(254)}`;
  return { ...item, spec: { ...item.spec, clusterIP, clusterIPs: [clusterIP] } };
}

/** Sets a workload's `spec.replicas` (kubectl scale), with its outbox row; false when there is no such workload. */
export async function scaleWorkload(deps: ApplyDeps, ref: ObjectRef, replicas: number): Promise<boolean> {
  const done = await deps.store.transaction(async (tx) => {
    const current = await tx.getObject(ref);
    if (!current) return false;
    const now = deps.clock.now();
    const change = {
      apiVersion: current.apiVersion,
      labels: current.labels,
      annotations: current.annotations,
      spec: { ...current.spec, replicas },
    };
    await tx.updateObject(ref, change, { expectedResourceVersion: current.resourceVersion, nowMs: now });
    await tx.addOutbox("reconcile", jobKey(ref), now);
    return true;
  });
  if (done) deps.onCommitted();
  return done;
}
