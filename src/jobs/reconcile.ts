import { reconcileDeployment } from "../controllers/deployment.js";
import { disruptionStatus } from "../controllers/disruption.js";
import type { QuotaHeadroom } from "../controllers/quota.js";
import { reconcileReplicaSet } from "../controllers/replicaset.js";
import { reconcileService } from "../controllers/service.js";
import type { EndpointSubset, PodView } from "../controllers/types.js";
import { canonicalJson } from "../core/hash.js";
import type { ObjectRef, StoredObject } from "../db/types.js";
import { applyActions } from "./apply.js";
import type { JobContext } from "./context.js";
import { objectKey, parseObjectKey } from "./keys.js";
import type { HandlerResult } from "./queue.js";
import { awaitingRotation, markedAwaiting, ROTATION_LOOK_MS } from "./rotation.js";
import { deploymentView, ownedPods, podView, replicaSetView, serviceView } from "./views.js";
import { reconcileClaimRef } from "./volumes.js";
import { collect, reconcileDaemonSetRef, reconcileStatefulSetRef } from "./workloads.js";

/** The `reconcile` job: load the object and what it owns, ask its controller, apply the answer. */
export async function reconcileJob(ctx: JobContext, key: string): Promise<HandlerResult | undefined> {
  const ref = parseObjectKey(key);
  if (!ref) return undefined;
  switch (ref.kind) {
    case "Deployment":
      return reconcileDeploymentRef(ctx, ref);
    case "ReplicaSet":
    case "ReplicationController":
      return reconcileReplicaSetRef(ctx, ref);
    case "Service":
      await reconcileServiceRef(ctx, ref);
      return undefined;
    case "StatefulSet":
      return reconcileStatefulSetRef(ctx, ref);
    case "DaemonSet":
      return reconcileDaemonSetRef(ctx, ref);
    case "PersistentVolumeClaim":
      await reconcileClaimRef(ctx, ref);
      return undefined;
    case "PodDisruptionBudget":
      await reconcileBudgetRef(ctx, ref);
      return undefined;
    default:
      return undefined;
  }
}

/** Objects of `kind` in the namespace that name `owner` as their controller, whatever its uid. */
async function ownedObjects(ctx: JobContext, ref: ObjectRef, kind: string): Promise<StoredObject[]> {
  const all = await ctx.store.listObjects({ kind, tenantId: ref.tenantId, namespace: ref.namespace });
  return all.filter((o) => o.ownerKind === ref.kind && o.ownerName === ref.name);
}

async function reconcileDeploymentRef(ctx: JobContext, ref: ObjectRef): Promise<HandlerResult | undefined> {
  const [deployment, sets] = await Promise.all([ctx.store.getObject(ref), ownedObjects(ctx, ref, "ReplicaSet")]);
  // ReplicaSets of a Deployment that is gone, or was replaced by another of the same name, are garbage.
  for (const rs of sets.filter((s) => s.ownerUid !== deployment?.uid)) {
    await ctx.store.deleteObject(rs, { nowMs: ctx.clock.now() });
    await ctx.queue.enqueue("reconcile", objectKey(rs));
  }
  if (!deployment) return undefined;
  const mine = sets.filter((s) => s.ownerUid === deployment.uid);
  // Only the pods of this Deployment's own ReplicaSets, not every ReplicaSet pod of the namespace.
  const byOwner = new Map<string, PodView[]>();
  for (const rs of mine) {
    const query = { tenantId: ref.tenantId, namespace: ref.namespace, ownerKind: rs.kind, ownerName: rs.name };
    byOwner.set(rs.uid, ownedPods(await ctx.store.listPods(query), rs.uid).owned);
  }
  const awaiting = await awaitingRotation(ctx, ref.tenantId, ref.namespace, byOwner.values());
  for (const [uid, pods] of byOwner) byOwner.set(uid, markedAwaiting(pods, awaiting));
  const views = mine.map(replicaSetView);
  const actions = reconcileDeployment(
    deploymentView(deployment),
    views,
    (rs) => byOwner.get(rs.uid) ?? [],
    ctx.clock.now(),
  );
  return lookAgainWhile(awaiting.size > 0, await applyActions(ctx, deployment, actions));
}

/** While pods await the proxy, the job looks again soon (the routing sync tells no owner). */
function lookAgainWhile(awaiting: boolean, result: HandlerResult | undefined): HandlerResult | undefined {
  if (!awaiting) return result;
  return { requeueAfterMs: Math.min(result?.requeueAfterMs ?? ROTATION_LOOK_MS, ROTATION_LOOK_MS) };
}

async function reconcileReplicaSetRef(ctx: JobContext, ref: ObjectRef): Promise<HandlerResult | undefined> {
  const [rs, pods] = await Promise.all([
    ctx.store.getObject(ref),
    ctx.store.listPods({ tenantId: ref.tenantId, namespace: ref.namespace, ownerKind: ref.kind, ownerName: ref.name }),
  ]);
  const { owned, strangers } = ownedPods(pods, rs?.uid);
  await collect(ctx, strangers);
  if (!rs) return undefined;
  const awaiting = await awaitingRotation(ctx, ref.tenantId, ref.namespace, [owned]);
  const headroom = await quotaHeadroom(ctx, ref.tenantId);
  const actions = reconcileReplicaSet(replicaSetView(rs), markedAwaiting(owned, awaiting), ctx.clock.now(), headroom);
  const result = lookAgainWhile(awaiting.size > 0, await applyActions(ctx, rs, actions));
  // The owning Deployment counts this ReplicaSet's pods: let it look again.
  if (rs.ownerKind && rs.ownerName) {
    await ctx.queue.enqueue("reconcile", objectKey({ ...ref, kind: rs.ownerKind, name: rs.ownerName }));
  }
  return result;
}

/** The tenant's quota and what its pods take now, when it has a quota: the ReplicaSet creates only what fits. */
async function quotaHeadroom(ctx: JobContext, tenantId: string): Promise<QuotaHeadroom | undefined> {
  const quota = (await ctx.store.getTenant(tenantId))?.quota;
  return quota ? { hard: quota, used: await ctx.store.tenantPodUsage(tenantId) } : undefined;
}

/** A budget's status: how many pods it covers, how many are healthy, and how many may go now. */
async function reconcileBudgetRef(ctx: JobContext, ref: ObjectRef): Promise<void> {
  const budget = await ctx.store.getObject(ref);
  if (!budget) return;
  const pods = (await ctx.store.listPods({ tenantId: ref.tenantId, namespace: ref.namespace })).map(podView);
  const status = {
    ...disruptionStatus({ name: budget.name, spec: budget.spec }, pods),
    observedGeneration: budget.generation,
  };
  if (canonicalJson(status) !== canonicalJson(budget.status)) {
    await ctx.store.updateObjectStatus(budget, status, { nowMs: ctx.clock.now() });
  }
}

async function reconcileServiceRef(ctx: JobContext, ref: ObjectRef): Promise<void> {
  const endpointsRef = { ...ref, kind: "Endpoints" };
  const [service, endpoints] = await Promise.all([ctx.store.getObject(ref), ctx.store.getObject(endpointsRef)]);
  if (!service) {
    if (endpoints) await ctx.store.deleteObject(endpointsRef, { nowMs: ctx.clock.now() });
    return;
  }
  const pods = await ctx.store.listPods({ tenantId: ref.tenantId, namespace: ref.namespace });
  const current = endpoints?.spec.subsets as EndpointSubset[] | undefined;
  await applyActions(ctx, service, reconcileService(serviceView(service), pods.map(podView), current));
}

/** Every object of a namespace that selects pods (Services, disruption budgets): what one pod changes may change them. */
export async function enqueueSelecting(ctx: JobContext, tenantId: string, namespace: string): Promise<void> {
  for (const kind of ["Service", "PodDisruptionBudget"]) {
    for (const object of await ctx.store.listObjects({ kind, tenantId, namespace })) {
      await ctx.queue.enqueue("reconcile", `${kind}/${tenantId}/${namespace}/${object.name}`);
    }
  }
}
