import {
  checkQuota,
  formatUsage,
  podQuotaMessage,
  type QuotaObject,
  quotaMessage,
  specRequests,
  steadyState,
  type Violation,
} from "../controllers/quota.js";
import type { Json, ObjectRef, PodRecord, StoreOps, TenantRecord } from "../db/types.js";
import { ApiError } from "./errors.js";

/** The stored kinds whose objects take from a quota (bare Pods live in their own table). */
const COUNTED_KINDS = ["Deployment", "StatefulSet", "ReplicaSet", "ReplicationController", "PersistentVolumeClaim"];
const COUNTED = new Set([...COUNTED_KINDS, "Pod"]);

/** A write as the quota sees it: the object's identity and its new spec. */
export interface QuotaChange {
  ref: ObjectRef;
  spec: Json;
}

const keyOf = (o: { kind: string; namespace: string; name: string }) => `${o.kind}/${o.namespace}/${o.name}`;

/** A bare pod counts until it finishes or is being deleted, as in Kubernetes. */
const running = (pod: PodRecord) =>
  pod.phase !== "Succeeded" && pod.phase !== "Failed" && pod.deletionRequestedAt === null;

/** The tenant's desired objects that count against a quota, and the names of every bare pod it has. */
export async function quotaObjects(
  store: StoreOps,
  tenantId: string,
): Promise<{ objects: QuotaObject[]; podNames: Set<string> }> {
  const objects: QuotaObject[] = [];
  for (const kind of COUNTED_KINDS) {
    for (const o of await store.listObjects({ kind, tenantId })) {
      objects.push({ kind, namespace: o.namespace, name: o.name, ownerKind: o.ownerKind, spec: o.spec });
    }
  }
  const pods = await store.listPods({ tenantId, ownerless: true });
  for (const pod of pods.filter(running)) {
    objects.push({ kind: "Pod", namespace: pod.namespace, name: pod.name, spec: pod.spec });
  }
  return { objects, podNames: new Set(pods.map((p) => keyOf({ kind: "Pod", ...p }))) };
}

/**
 * Refuses, with the numbers, a write whose steady state would take the tenant
 * over its quota. Runs inside the write's transaction, under the tenant's lock,
 * so two writes cannot both spend the same room; the caller's transaction then
 * writes nothing. A tenant without a quota pays one read, and a write of kinds
 * that do not count (Services, ConfigMaps, …) pays nothing.
 */
export async function admitQuota(tx: StoreOps, tenantId: string, changes: readonly QuotaChange[]): Promise<void> {
  if (!changes.some((c) => COUNTED.has(c.ref.kind))) return;
  if (!(await tx.getTenant(tenantId))?.quota) return;
  const hard = (await tx.lockTenant(tenantId))?.quota;
  if (!hard) return;
  const { objects, podNames } = await quotaObjects(tx, tenantId);
  const next = new Map(objects.map((o) => [keyOf(o), o]));
  for (const { ref, spec } of changes) {
    const key = keyOf(ref);
    // An existing pod is never replaced (its spec cannot change), so it adds nothing.
    if (!COUNTED.has(ref.kind) || (ref.kind === "Pod" && podNames.has(key))) continue;
    next.set(key, {
      kind: ref.kind,
      namespace: ref.namespace,
      name: ref.name,
      ownerKind: next.get(key)?.ownerKind,
      spec,
    });
  }
  const single = changes.length === 1 ? changes[0]?.ref : undefined;
  const violations = checkQuota(hard, steadyState(objects), steadyState([...next.values()]));
  if (violations.length > 0) throw quotaError(violations, single);
  // A bare pod starts at once, so it must also fit beside the pods that exist now (surge pods included).
  const newPods = changes.filter((c) => c.ref.kind === "Pod" && !podNames.has(keyOf(c.ref)));
  if (newPods.length === 0) return;
  const live = { ...(await tx.tenantPodUsage(tenantId)), storageBytes: 0 };
  const added = { ...live };
  for (const change of newPods) {
    const requests = specRequests(change.spec);
    added.pods += 1;
    added.cpuMillis += requests.cpuMillis;
    added.memoryBytes += requests.memoryBytes;
  }
  const now = checkQuota(hard, live, added);
  if (now.length > 0) throw quotaError(now, single, podQuotaMessage);
}

/** 403, as Kubernetes answers "exceeded quota", with one `ExceededQuota` cause per resource. */
function quotaError(
  violations: Violation[],
  single: ObjectRef | undefined,
  message: (violations: Violation[]) => string = quotaMessage,
): ApiError {
  const prefix = single ? `${single.kind} "${single.name}" is forbidden: ` : "";
  return new ApiError("FORBIDDEN", `${prefix}${message(violations)}`, {
    ...(single ? { kind: single.kind, name: single.name } : {}),
    causes: violations.map((v) => ({ reason: "ExceededQuota", message: message([v]), field: v.resource })),
  });
}

/**
 * A tenant's quota as `GET /v1/quota` shows it: the limits set (`hard`), what its
 * pods and claims take now (`used`, as ResourceQuota counts it: surge pods
 * included), and what its desired objects take once every rollout is done.
 */
export async function quotaView(store: StoreOps, tenant: TenantRecord): Promise<Json> {
  const { objects } = await quotaObjects(store, tenant.id);
  const pods = await store.tenantPodUsage(tenant.id);
  const claims = steadyState(objects.filter((o) => o.kind === "PersistentVolumeClaim"));
  return {
    kind: "TenantQuota",
    tenant: tenant.name,
    hard: formatUsage(tenant.quota ?? {}),
    used: formatUsage({ ...pods, storageBytes: claims.storageBytes }),
    steadyState: formatUsage(steadyState(objects)),
  };
}
