import type { Action, EndpointSubset, PodDraft } from "../controllers/types.js";
import { nameSuffix, newId, newUid } from "../core/ids.js";
import { ConflictError, type StoredObject } from "../db/types.js";
import type { JobContext } from "./context.js";
import { objectKey } from "./keys.js";

/** Applies a controller's actions for one owner object. Each action is idempotent on its own. */
export async function applyActions(ctx: JobContext, owner: StoredObject, actions: Action[]): Promise<void> {
  for (const action of actions) {
    switch (action.type) {
      case "createPod":
        await createPod(ctx, owner, action.pod);
        break;
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
}

async function createPod(ctx: JobContext, owner: StoredObject, draft: PodDraft): Promise<void> {
  // A name clash of the random suffix is rare; a few tries settle it.
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      const pod = await ctx.store.createPod({
        id: newId("pod", ctx.clock, ctx.rng),
        tenantId: owner.tenantId,
        namespace: draft.namespace,
        name: draft.generateName + nameSuffix(ctx.rng),
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
      });
      await ctx.queue.enqueue("schedule", pod.id);
      return;
    } catch (error) {
      if (!(error instanceof ConflictError)) throw error;
    }
  }
  throw new Error(`could not find a free name for a pod of ${draft.generateName}`);
}

async function updateStatus(ctx: JobContext, owner: StoredObject, status: Record<string, unknown>): Promise<void> {
  try {
    await ctx.store.updateObjectStatus(owner, status, {
      expectedResourceVersion: owner.resourceVersion,
      nowMs: ctx.clock.now(),
    });
  } catch (error) {
    // The object changed while we worked: reconcile again from the new state.
    if (!(error instanceof ConflictError)) throw error;
    await ctx.queue.enqueue("reconcile", objectKey(owner));
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
  await ctx.store.createObject({
    ...ref,
    ...change,
    id: newId("obj", ctx.clock, ctx.rng),
    uid: newUid(ctx.rng),
    createdAt: ctx.clock.now(),
  });
}
