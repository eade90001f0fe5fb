import { reconcileDeployment } from "../controllers/deployment.js";
import { reconcileService } from "../controllers/service.js";
import type { EndpointSubset } from "../controllers/types.js";
import type { ObjectRef } from "../db/types.js";
import { applyActions } from "./apply.js";
import type { JobContext } from "./context.js";
import { parseObjectKey } from "./keys.js";
import type { HandlerResult } from "./queue.js";
import { deploymentView, podView, serviceView } from "./views.js";

/** The `reconcile` job: load the object and what it owns, ask its controller, apply the answer. */
export async function reconcileJob(ctx: JobContext, key: string): Promise<HandlerResult | undefined> {
  const ref = parseObjectKey(key);
  if (!ref) return undefined;
  if (ref.kind === "Deployment") await reconcileDeploymentRef(ctx, ref);
  if (ref.kind === "Service") await reconcileServiceRef(ctx, ref);
  return undefined;
}

async function reconcileDeploymentRef(ctx: JobContext, ref: ObjectRef): Promise<void> {
  const [deployment, pods] = await Promise.all([
    ctx.store.getObject(ref),
    ctx.store.listPods({ tenantId: ref.tenantId, namespace: ref.namespace, ownerKind: ref.kind, ownerName: ref.name }),
  ]);
  // Pods whose owner is gone, or was replaced by a new object of the same name, are garbage.
  const orphans = pods.filter((p) => p.ownerUid !== deployment?.uid && p.deletionRequestedAt === null);
  for (const pod of orphans) {
    await ctx.store.markPodDeleting(pod.id, ctx.clock.now());
    await ctx.queue.enqueue("pod", pod.id);
  }
  if (!deployment) return;
  const owned = pods.filter((p) => p.ownerUid === deployment.uid).map(podView);
  await applyActions(ctx, deployment, reconcileDeployment(deploymentView(deployment), owned, ctx.clock.now()));
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

/** Every Service of a namespace: its endpoints may have changed with one pod. */
export async function enqueueServices(ctx: JobContext, tenantId: string, namespace: string): Promise<void> {
  const services = await ctx.store.listObjects({ kind: "Service", tenantId, namespace });
  for (const service of services)
    await ctx.queue.enqueue("reconcile", `Service/${tenantId}/${namespace}/${service.name}`);
}
