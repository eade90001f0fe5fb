import { reconcileDaemonSet } from "../controllers/daemonset.js";
import { reconcileStatefulSet } from "../controllers/statefulset.js";
import type { ObjectRef, PodRecord } from "../db/types.js";
import { applyActions } from "./apply.js";
import type { JobContext } from "./context.js";
import type { HandlerResult } from "./queue.js";
import { daemonSetView, podView, statefulSetView } from "./views.js";

async function podsOf(ctx: JobContext, ref: ObjectRef): Promise<PodRecord[]> {
  return ctx.store.listPods({
    tenantId: ref.tenantId,
    namespace: ref.namespace,
    ownerKind: ref.kind,
    ownerName: ref.name,
  });
}

/** Pods of an owner that is gone, or was replaced by one of the same name, are stopped. */
export async function collect(ctx: JobContext, pods: PodRecord[]): Promise<void> {
  for (const pod of pods.filter((p) => p.deletionRequestedAt === null)) {
    await ctx.store.markPodDeleting(pod.id, ctx.clock.now());
    await ctx.queue.enqueue("pod", pod.id);
  }
}

export async function reconcileStatefulSetRef(ctx: JobContext, ref: ObjectRef): Promise<HandlerResult | undefined> {
  const [sts, pods] = await Promise.all([ctx.store.getObject(ref), podsOf(ctx, ref)]);
  await collect(
    ctx,
    pods.filter((p) => p.ownerUid !== sts?.uid),
  );
  const claims = await ctx.store.listObjects({
    kind: "PersistentVolumeClaim",
    tenantId: ref.tenantId,
    namespace: ref.namespace,
  });
  if (!sts) {
    // Claims made with `whenDeleted: Delete` go with their StatefulSet.
    for (const claim of claims.filter((c) => c.ownerKind === ref.kind && c.ownerName === ref.name)) {
      await ctx.store.deleteObject(claim, { nowMs: ctx.clock.now() });
      await ctx.queue.enqueue("reconcile", `PersistentVolumeClaim/${ref.tenantId}/${ref.namespace}/${claim.name}`);
    }
    return undefined;
  }
  const owned = pods.filter((p) => p.ownerUid === sts.uid).map(podView);
  const names = new Set(claims.map((c) => c.name));
  return applyActions(ctx, sts, reconcileStatefulSet(statefulSetView(sts), owned, names, ctx.clock.now()));
}

export async function reconcileDaemonSetRef(ctx: JobContext, ref: ObjectRef): Promise<HandlerResult | undefined> {
  const [ds, pods] = await Promise.all([ctx.store.getObject(ref), podsOf(ctx, ref)]);
  await collect(
    ctx,
    pods.filter((p) => p.ownerUid !== ds?.uid),
  );
  if (!ds) return undefined;
  const nodes = (await ctx.store.listNodes()).map((n) => ({ name: n.name, labels: n.labels, ready: n.ready }));
  const owned = pods.filter((p) => p.ownerUid === ds.uid).map(podView);
  return applyActions(ctx, ds, reconcileDaemonSet(daemonSetView(ds), nodes, owned, ctx.clock.now()));
}
