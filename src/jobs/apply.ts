import { fitsQuota, podQuotaMessage, QUOTA_RETRY_MS } from "../controllers/quota.js";
import type {
  Action,
  ClaimDraft,
  EndpointSubset,
  OwnerRef,
  PodDraft,
  PodTemplate,
  ReplicaSetDraft,
} from "../controllers/types.js";
import type { Clock } from "../core/clock.js";
import { nameSuffix, newId, newUid } from "../core/ids.js";
import type { Rng } from "../core/rng.js";
import {
  ConflictError,
  type Json,
  type NewPod,
  NotFoundError,
  type ObjectRef,
  type PodRecord,
  type PodUsage,
  type StoredObject,
  type StoreOps,
  type TenantQuota,
} from "../db/types.js";
import { podRequests } from "../manifest/index.js";
import { batchable } from "./batchable.js";
import type { JobContext } from "./context.js";
import { objectKey, waitingPodsKey } from "./keys.js";
import type { HandlerResult } from "./queue.js";

/**
 * Applies a controller's actions for one owner object. Each action is idempotent
 * on its own; a `requeue` becomes the job's answer, so the controller looks again then.
 */
export async function applyActions(
  ctx: JobContext,
  owner: StoredObject,
  actions: Action[],
): Promise<HandlerResult | undefined> {
  let result: HandlerResult | undefined;
  for (let at = 0; at < actions.length; at++) {
    const action = actions[at] as Action;
    switch (action.type) {
      case "requeue":
        result = { requeueAfterMs: Math.min(action.afterMs, result?.requeueAfterMs ?? Number.POSITIVE_INFINITY) };
        break;
      case "createReplicaSet":
        await createReplicaSet(ctx, owner, action.replicaSet);
        break;
      case "scaleReplicaSet":
        await scaleReplicaSet(ctx, owner, action.name, action.replicas, action.annotations);
        break;
      case "deleteReplicaSet": {
        const ref = { tenantId: owner.tenantId, kind: "ReplicaSet", namespace: owner.namespace, name: action.name };
        await ctx.store.deleteObject(ref, { nowMs: ctx.clock.now() });
        await ctx.queue.enqueue("reconcile", objectKey(ref));
        break;
      }
      case "rollback":
        await rollback(ctx, owner, action.template);
        break;
      case "createClaim":
        await createClaim(ctx, owner, action.claim);
        break;
      case "deleteClaim": {
        const ref = {
          tenantId: owner.tenantId,
          kind: "PersistentVolumeClaim",
          namespace: owner.namespace,
          name: action.name,
        };
        await ctx.store.deleteObject(ref, { nowMs: ctx.clock.now() });
        await ctx.queue.enqueue("reconcile", objectKey(ref));
        break;
      }
      case "createPod": {
        // A run of creates (a ReplicaSet's missing replicas) goes to the store together.
        const drafts = [action.pod];
        while (at + 1 < actions.length && actions[at + 1]?.type === "createPod") {
          drafts.push((actions[++at] as Extract<Action, { type: "createPod" }>).pod);
        }
        // Refused by quota: look again later, as a controller does after a failed create.
        if (!(await createPods(ctx, owner, drafts)))
          result = { requeueAfterMs: Math.min(QUOTA_RETRY_MS, result?.requeueAfterMs ?? Number.POSITIVE_INFINITY) };
        break;
      }
      case "deletePod":
        if (await ctx.store.markPodDeleting(action.podId, ctx.clock.now()))
          await ctx.queue.enqueue("pod", action.podId);
        break;
      case "updateStatus":
        await updateStatus(ctx, owner, action.status);
        break;
      case "recordEvent":
        await recordEvent(ctx, owner, action.eventType, action.reason, action.message);
        break;
      case "setEndpoints":
        await setEndpoints(ctx, owner, action.subsets);
        break;
    }
  }
  return result;
}

/**
 * Creates an object the platform makes (a ReplicaSet, a claim, endpoints, a volume),
 * with its id, uid and time drawn here. Answers false when one of that name
 * already exists, which callers treat as done or as a collection still under way.
 */
export async function createPlatformObject(
  ctx: JobContext,
  ref: ObjectRef,
  body: { apiVersion: string; labels: Record<string, string>; annotations: Record<string, string>; spec: Json },
  owner?: OwnerRef,
): Promise<boolean> {
  try {
    await ctx.store.createObject({
      ...ref,
      ...body,
      id: newId("obj", ctx.clock, ctx.rng),
      uid: newUid(ctx.rng),
      createdAt: ctx.clock.now(),
      ...(owner ? { ownerKind: owner.kind, ownerName: owner.name, ownerUid: owner.uid } : {}),
    });
    return true;
  } catch (error) {
    if (!(error instanceof ConflictError)) throw error;
    return false;
  }
}

async function createReplicaSet(ctx: JobContext, owner: StoredObject, draft: ReplicaSetDraft): Promise<void> {
  const ref = { tenantId: owner.tenantId, kind: "ReplicaSet", namespace: owner.namespace, name: draft.name };
  const { labels, annotations } = draft;
  const spec = draft.spec as unknown as Json;
  // A ReplicaSet of that name from an earlier owner still stands when this fails; its collection is under way.
  if (!(await createPlatformObject(ctx, ref, { apiVersion: "apps/v1", labels, annotations, spec }, draft.owner))) {
    await ctx.queue.enqueue("reconcile", objectKey(owner), 100);
  }
  await ctx.queue.enqueue("reconcile", objectKey(ref));
}

async function scaleReplicaSet(
  ctx: JobContext,
  owner: StoredObject,
  name: string,
  replicas: number,
  annotations: Record<string, string> | undefined,
): Promise<void> {
  const ref = { tenantId: owner.tenantId, kind: "ReplicaSet", namespace: owner.namespace, name };
  const rs = await ctx.store.getObject(ref);
  if (!rs || rs.ownerUid !== owner.uid) return;
  const change = {
    apiVersion: rs.apiVersion,
    labels: rs.labels,
    annotations: { ...rs.annotations, ...annotations },
    spec: { ...rs.spec, replicas },
  };
  try {
    await ctx.store.updateObject(ref, change, { expectedResourceVersion: rs.resourceVersion, nowMs: ctx.clock.now() });
  } catch (error) {
    if (!(error instanceof ConflictError)) throw error;
    await ctx.queue.enqueue("reconcile", objectKey(owner));
  }
  await ctx.queue.enqueue("reconcile", objectKey(ref));
}

/** A claim for one ordinal: created once, kept across pod restarts; its volume is provisioned by its own reconcile. */
async function createClaim(ctx: JobContext, owner: StoredObject, draft: ClaimDraft): Promise<void> {
  const ref = { tenantId: owner.tenantId, kind: "PersistentVolumeClaim", namespace: owner.namespace, name: draft.name };
  const { labels, annotations, spec } = draft;
  await createPlatformObject(ctx, ref, { apiVersion: "v1", labels, annotations, spec }, draft.owner);
  await ctx.queue.enqueue("reconcile", objectKey(ref));
}

/** Puts an earlier revision's template back on the Deployment, conditionally on what was read. */
async function rollback(ctx: JobContext, deployment: StoredObject, template: PodTemplate): Promise<void> {
  const change = {
    apiVersion: deployment.apiVersion,
    labels: deployment.labels,
    annotations: deployment.annotations,
    spec: { ...deployment.spec, template },
  };
  try {
    await ctx.store.updateObject(deployment, change, {
      expectedResourceVersion: deployment.resourceVersion,
      nowMs: ctx.clock.now(),
    });
  } catch (error) {
    if (!(error instanceof ConflictError)) throw error;
  }
  await ctx.queue.enqueue("reconcile", objectKey(deployment));
}

/** Drafts created by one store write at most. */
const CREATE_BATCH = 1_000;

/**
 * Creates a controller's pods, in order, as one create after another would, a batch per store
 * write, then asks for each one's scheduling. A draft with a fixed name (a StatefulSet ordinal) goes alone: it may exist already, and
 * then takes no quota. Answers false when the quota refused any.
 */
async function createPods(ctx: JobContext, owner: StoredObject, drafts: readonly PodDraft[]): Promise<boolean> {
  let admitted = true;
  const created: PodRecord[] = [];
  for (let start = 0; start < drafts.length; ) {
    let end = start + 1;
    if (drafts[start]?.name === undefined) {
      while (end < drafts.length && end - start < CREATE_BATCH && drafts[end]?.name === undefined) end++;
    }
    const batch = await createPodBatch(ctx, owner, drafts.slice(start, end));
    created.push(...batch.created);
    if (!batch.admitted) admitted = false;
    start = end;
    // The tenant's waiting pods are placed while the next batch is created: one job places all the
    // tenant's pods waiting then, and looks once more if asked again meanwhile (src/jobs/schedulePod.ts).
    if (batch.created.some(batchable)) await ctx.queue.enqueue("schedule", waitingPodsKey(owner.tenantId));
  }
  // A pod no batch takes (a claim, a pinned node) gets its own job. A job lost to a crash is asked
  // for again by the periodic resync.
  await Promise.all(created.filter((pod) => !batchable(pod)).map((pod) => ctx.queue.enqueue("schedule", pod.id)));
  return admitted;
}

/**
 * Creates one batch of a controller's pods. For a tenant with a quota, the checks and the creates
 * are one transaction under the tenant's lock, so racing controllers cannot both take the last
 * room; each draft is checked against the usage with the drafts admitted before it counted in, as
 * when each was its own transaction. A refusal is a `FailedCreate` event on the owner, and the
 * answer is false so the owner looks again later. The operator's DaemonSets are not held to quotas.
 */
async function createPodBatch(
  ctx: JobContext,
  owner: StoredObject,
  drafts: readonly PodDraft[],
): Promise<{ created: PodRecord[]; admitted: boolean }> {
  const held = drafts.some((d) => d.owner.kind !== "DaemonSet");
  const quota = held ? (await ctx.store.getTenant(owner.tenantId))?.quota : null;
  const { created, refused } = quota
    ? await ctx.store.transaction(async (tx) => {
        const hard = (await tx.lockTenant(owner.tenantId))?.quota;
        const { admitted, refused } = hard
          ? admit(hard, await tx.tenantPodUsage(owner.tenantId), drafts)
          : { admitted: drafts, refused: [] };
        return { created: await insertPods(ctx, owner, admitted), refused };
      })
    : { created: await insertPods(ctx, owner, drafts), refused: [] };
  for (const { draft, violations } of refused) {
    const message = `Error creating: pods "${draft.name ?? draft.generateName}" is forbidden: ${podQuotaMessage(violations)}`;
    await recordEvent(ctx, owner, "Warning", "FailedCreate", message);
  }
  return { created, admitted: refused.length === 0 };
}

/** The drafts the quota lets in, each checked with those before it counted; the rest, with why. */
function admit(hard: TenantQuota, usage: PodUsage, drafts: readonly PodDraft[]) {
  const used = { ...usage };
  const admitted: PodDraft[] = [];
  const refused: { draft: PodDraft; violations: ReturnType<typeof fitsQuota> }[] = [];
  for (const draft of drafts) {
    // The operator's DaemonSets are not held to quotas, nor counted against the tenant's drafts here.
    const violations = draft.owner.kind === "DaemonSet" ? [] : fitsQuota(hard, used, draft);
    if (violations.length > 0) {
      refused.push({ draft, violations });
      continue;
    }
    admitted.push(draft);
    used.pods += 1;
    used.cpuMillis += draft.cpuMillis;
    used.memoryBytes += draft.memoryBytes;
  }
  return { admitted, refused };
}

/**
 * Inserts the pod rows (joining the caller's transaction, if any), one write per try. A random
 * suffix that clashes is drawn again (a few tries settle it); a fixed name (a StatefulSet ordinal)
 * that is taken means the pod exists: nothing to do.
 */
async function insertPods(ctx: JobContext, owner: StoredObject, drafts: readonly PodDraft[]): Promise<PodRecord[]> {
  const created: PodRecord[] = [];
  let left = drafts;
  for (let attempt = 0; attempt < 3 && left.length > 0; attempt++) {
    const rows = left.map((draft) => newPodRow(ctx, owner, draft));
    const inserted = await ctx.store.createPods(rows.map((r) => r.pod));
    const ids = new Set(inserted.map((p) => p.id));
    created.push(...inserted);
    left = rows.filter((r) => !ids.has(r.pod.id) && r.draft.name === undefined).map((r) => r.draft);
  }
  if (left.length > 0) throw new Error(`could not find a free name for a pod of ${left[0]?.generateName}`);
  return created;
}

function newPodRow(ctx: JobContext, owner: StoredObject, draft: PodDraft): { draft: PodDraft; pod: NewPod } {
  const pod: NewPod = {
    id: newId("pod", ctx.clock, ctx.rng),
    tenantId: owner.tenantId,
    namespace: draft.namespace,
    name: draft.name ?? draft.generateName + nameSuffix(ctx.rng),
    uid: newUid(ctx.rng),
    ownerKind: draft.owner.kind,
    ownerName: draft.owner.name,
    ownerUid: draft.owner.uid,
    labels: draft.labels,
    annotations: draft.annotations,
    templateHash: draft.templateHash,
    spec: draft.spec,
    cpuMillis: draft.cpuMillis,
    memoryBytes: draft.memoryBytes,
    createdAt: ctx.clock.now(),
    status: { phase: "Pending", conditions: [] },
  };
  return { draft, pod };
}

async function updateStatus(ctx: JobContext, owner: StoredObject, status: Record<string, unknown>): Promise<void> {
  try {
    await ctx.store.updateObjectStatus(owner, status, { nowMs: ctx.clock.now() });
  } catch (error) {
    // The object went while we worked: its next reconcile collects what it owned.
    if (!(error instanceof NotFoundError)) throw error;
  }
}

export async function recordEvent(
  ctx: JobContext,
  involved: { tenantId: string; namespace: string; kind: string; name: string; uid: string },
  type: "Normal" | "Warning",
  reason: string,
  message: string,
): Promise<void> {
  await ctx.store.recordEvent({
    id: newId("evt", ctx.clock, ctx.rng),
    tenantId: involved.tenantId,
    namespace: involved.namespace,
    involvedKind: involved.kind,
    involvedName: involved.name,
    involvedUid: involved.uid,
    type,
    reason,
    message,
    atMs: ctx.clock.now(),
  });
}

/** Endpoints are an object of their own, named after their Service, as in Kubernetes. */
async function setEndpoints(ctx: JobContext, service: StoredObject, subsets: EndpointSubset[]): Promise<void> {
  const ref = { tenantId: service.tenantId, kind: "Endpoints", namespace: service.namespace, name: service.name };
  const change = { apiVersion: "v1", labels: service.labels, annotations: {}, spec: { subsets } };
  const existing = await ctx.store.getObject(ref);
  if (existing) {
    await ctx.store.updateObject(ref, change, {
      expectedResourceVersion: existing.resourceVersion,
      nowMs: ctx.clock.now(),
    });
    return;
  }
  await createPlatformObject(ctx, ref, change);
}

/**
 * A bare Pod as a tenant asks for it (no owner; nothing replaces it), inserted in
 * the caller's transaction with its `schedule` outbox row.
 */
export async function insertBarePod(
  tx: StoreOps,
  deps: { clock: Clock; rng: Rng },
  item: { ref: ObjectRef; labels: Record<string, string>; annotations: Record<string, string>; spec: Json },
): Promise<PodRecord> {
  const now = deps.clock.now();
  const requests = podRequests(item.spec as Parameters<typeof podRequests>[0]);
  const pod = await tx.createPod({
    id: newId("pod", deps.clock, deps.rng),
    tenantId: item.ref.tenantId,
    namespace: item.ref.namespace,
    name: item.ref.name,
    uid: newUid(deps.rng),
    ownerKind: null,
    ownerName: null,
    ownerUid: null,
    labels: item.labels,
    annotations: item.annotations,
    templateHash: null,
    spec: item.spec,
    cpuMillis: requests.cpuMillis,
    memoryBytes: requests.memoryBytes,
    createdAt: now,
    status: { phase: "Pending", conditions: [] },
  });
  await tx.addOutbox("schedule", pod.id, now);
  return pod;
}
