import { NODE_LOST } from "../controllers/nodeLifecycle.js";
import type { JobContext } from "./context.js";
import { objectKey } from "./keys.js";
import { markConfigError, podConfig } from "./podConfig.js";
import type { HandlerResult } from "./queue.js";
import { enqueueSelecting } from "./reconcile.js";

const CONFIG_RETRY_MS = 1_000;

/**
 * The `pod` job: make the provider match one pod row. A bound pod is started
 * (idempotent) unless it has ended or its node does not answer; a pod declared
 * lost is stopped; a pod marked for deletion is stopped, then its row goes and
 * its node's capacity returns, and whoever waits on that is told.
 */
export async function syncPodJob(ctx: JobContext, podId: string): Promise<HandlerResult | undefined> {
  const pod = await ctx.store.getPod(podId);
  if (!pod) return undefined;
  if (pod.deletionRequestedAt !== null) {
    if (pod.nodeName) await ctx.provider.stopPod(pod.nodeName, pod.id);
    await ctx.store.deletePod(pod.id);
    if (pod.ownerKind && pod.ownerName) {
      const owner = { tenantId: pod.tenantId, kind: pod.ownerKind, namespace: pod.namespace, name: pod.ownerName };
      await ctx.queue.enqueue("reconcile", objectKey(owner));
    }
    await enqueueSelecting(ctx, pod.tenantId, pod.namespace);
    if (pod.nodeName) await enqueueUnbound(ctx);
    return undefined;
  }
  if (!pod.nodeName) {
    await ctx.queue.enqueue("schedule", pod.id);
    return undefined;
  }
  if (pod.phase === "Failed" || pod.phase === "Succeeded") {
    // A pod declared lost must not run on when its node returns; other ended pods keep their exited containers.
    if (pod.status.reason === NODE_LOST) await ctx.provider.stopPod(pod.nodeName, pod.id);
    return undefined;
  }
  // A node that does not answer can start nothing; its pods are looked at again when it returns.
  if ((await ctx.store.getNode(pod.nodeName))?.ready === false) return undefined;
  const config = await podConfig(ctx, pod);
  if (!config.ok) {
    // Like the kubelet, try again a little later: the missing ConfigMap or Secret may be on its way.
    await markConfigError(ctx, pod, config.message);
    return { requeueAfterMs: CONFIG_RETRY_MS };
  }
  await ctx.provider.startPod({
    podId: pod.id,
    uid: pod.uid,
    tenantId: pod.tenantId,
    namespace: pod.namespace,
    name: pod.name,
    nodeName: pod.nodeName,
    spec: pod.spec,
    env: config.env,
    files: config.files,
  });
  return undefined;
}

/** Capacity came free: every pod still waiting for a place gets another try. */
export async function enqueueUnbound(ctx: JobContext): Promise<void> {
  for (const pending of await ctx.store.listPods({ unbound: true })) await ctx.queue.enqueue("schedule", pending.id);
}
