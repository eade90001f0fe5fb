import { awaitsImages, imagePullPlan } from "../controllers/imagePull.js";
import { NODE_LOST } from "../controllers/nodeLifecycle.js";
import { KUBELET_BACK_OFF } from "../controllers/podLifecycle.js";
import { ConflictError, type PodRecord } from "../db/types.js";
import type { Json, StopOptions } from "../providers/types.js";
import { recordEvent } from "./apply.js";
import type { JobContext } from "./context.js";
import { objectKey } from "./keys.js";
import { markConfigError, podConfig } from "./podConfig.js";
import type { HandlerResult } from "./queue.js";
import { enqueueSelecting } from "./reconcile.js";
import { msUntilDrained } from "./rotation.js";

const CONFIG_RETRY_MS = 1_000;
/** Kubernetes' default `terminationGracePeriodSeconds`. */
const DEFAULT_GRACE_PERIOD_SECONDS = 30;
const CONFLICT_RETRY_MS = 10;

/**
 * The `pod` job: make the provider match one pod row. A bound pod is started
 * (idempotent) unless it has ended or its node does not answer; a pod declared
 * lost is stopped; a pod marked for deletion is stopped (once the managed proxy
 * has drained it, src/jobs/rotation.ts), then its row goes and
 * its node's capacity returns, and whoever waits on that is told. A pod whose
 * image pull failed is started again only when its pull back-off ends.
 */
export async function syncPodJob(ctx: JobContext, podId: string): Promise<HandlerResult | undefined> {
  const pod = await ctx.store.getPod(podId);
  if (!pod) return undefined;
  return syncPod(ctx, pod, async (name) => (await ctx.store.getNode(name))?.ready !== false);
}

/**
 * Starts pods just bound (`bindPods`' records of them) as their `pod` jobs would, without a job each:
 * a burst's binds are its starts, which a batching provider sends together. At most `startsAtOnce`
 * (the provider's `concurrentStarts`, else `DEFAULT_STARTS_AT_ONCE`) are under way at a time. A pod
 * whose start failed, or that has to wait (a missing ConfigMap, say), gets its own job for that.
 * A process that dies before the starts leaves bound pods that have not started: the periodic
 * resync gives every bound pod a job.
 */
export async function startBound(
  ctx: JobContext,
  pods: readonly PodRecord[],
  nodes: ReadonlyMap<string, { ready: boolean }>,
): Promise<void> {
  const startsAtOnce = ctx.provider.concurrentStarts ?? DEFAULT_STARTS_AT_ONCE;
  const nodeAnswers = async (name: string) => (nodes.get(name) ?? (await ctx.store.getNode(name)))?.ready !== false;
  let next = 0;
  // A lane never rejects: the job awaits every lane only once it has bound its last batch, and a
  // rejection meanwhile would be unhandled (which ends the process). What cannot even be handed to
  // the pod's own job is left to the periodic resync.
  const lane = async () => {
    for (let pod = pods[next++]; pod; pod = pods[next++]) {
      const id = pod.id;
      const result = await syncPod(ctx, pod, nodeAnswers).catch((error) => {
        ctx.log("starting a bound pod failed; its own job tries again", { podId: id, error: String(error) });
        return { requeueAfterMs: 0 };
      });
      if (result?.requeueAfterMs === undefined) continue;
      await ctx.queue.enqueue("pod", id, result.requeueAfterMs).catch((error) => {
        ctx.log("a bound pod's job could not be enqueued; the resync gives it one", {
          podId: id,
          error: String(error),
        });
      });
    }
  };
  await Promise.all(Array.from({ length: Math.min(startsAtOnce, pods.length) }, lane));
}

/** Starts under way at once by `startBound` on a provider that does not say how many it takes. */
const DEFAULT_STARTS_AT_ONCE = 8;

/** The `pod` job on a record of the pod; `nodeAnswers` says whether its node is not known to be down. */
async function syncPod(
  ctx: JobContext,
  pod: PodRecord,
  nodeAnswers: (nodeName: string) => Promise<boolean>,
): Promise<HandlerResult | undefined> {
  if (pod.deletionRequestedAt !== null) {
    // The proxy first stops sending it requests and lets those under way finish.
    const drainMs = await msUntilDrained(ctx, pod);
    if (drainMs > 0) return { requeueAfterMs: drainMs };
    if (pod.nodeName) await ctx.provider.stopPod(pod.nodeName, pod.id, stopOptions(pod, ctx.clock.now()));
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
  if (!(await nodeAnswers(pod.nodeName))) return undefined;
  const config = await podConfig(ctx, pod);
  if (!config.ok) {
    // Like the kubelet, try again a little later: the missing ConfigMap or Secret may be on its way.
    await markConfigError(ctx, pod, config.message);
    return { requeueAfterMs: CONFIG_RETRY_MS };
  }
  const pullWait = await imagePullBackOff(ctx, pod);
  if (pullWait) return pullWait;
  const containers = ((pod.spec.containers as { name: string }[] | undefined) ?? []).map((c) => c.name);
  if (config.pullSecretProblems.length > 0 && awaitsImages(pod.status, containers)) {
    // As the kubelet: the pull goes ahead without them, and fails with the registry's reason if it needed them.
    const message = `Unable to retrieve some image pull secrets (${config.pullSecretProblems.join("; ")}); attempting to pull the image may not succeed.`;
    await recordEvent(ctx, involvedOf(pod), "Warning", "FailedToRetrieveImagePullSecret", message);
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
    registryAuth: config.registryAuth,
  });
  return undefined;
}

/**
 * Folds failed image pulls into their back-off (src/controllers/imagePull.ts) and, while one runs,
 * starts nothing: the job comes back when it ends, and the provider pulls again then. Undefined when
 * the pod may start now.
 */
async function imagePullBackOff(ctx: JobContext, pod: PodRecord): Promise<HandlerResult | undefined> {
  const now = ctx.clock.now();
  const plan = imagePullPlan(pod.status, now, ctx.restartBackOff ?? KUBELET_BACK_OFF);
  if (plan.status) {
    try {
      await ctx.store.updatePodStatus(
        pod.id,
        { phase: pod.phase, ready: pod.ready, status: plan.status },
        { expectedResourceVersion: pod.resourceVersion, nowMs: now },
      );
    } catch (error) {
      if (!(error instanceof ConflictError)) throw error;
      // A newer observation came meanwhile: decide again on it.
      return { requeueAfterMs: CONFLICT_RETRY_MS };
    }
    for (const event of plan.events) {
      await recordEvent(ctx, involvedOf(pod), event.eventType, event.reason, event.message);
    }
  }
  return plan.retryAtMs !== undefined ? { requeueAfterMs: Math.max(1, plan.retryAtMs - now) } : undefined;
}

function involvedOf(pod: PodRecord) {
  return { tenantId: pod.tenantId, namespace: pod.namespace, kind: "Pod", name: pod.name, uid: pod.uid };
}

/** Capacity came free: every pod still waiting for a place gets another try. */
export async function enqueueUnbound(ctx: JobContext): Promise<void> {
  for (const pending of await ctx.store.listPods({ unbound: true })) await ctx.queue.enqueue("schedule", pending.id);
}

/**
 * A deleted pod goes gracefully: its containers' preStop hooks, SIGTERM, and SIGKILL when its grace
 * period is over. As in Kubernetes, the period counts from the deletion, so the proxy's drain comes
 * out of it; a second is left for SIGTERM whatever the drain took.
 */
export function stopOptions(pod: PodRecord, nowMs: number): StopOptions {
  const containers = (pod.spec.containers as { name: string; lifecycle?: { preStop?: Json } }[] | undefined) ?? [];
  const preStop = Object.fromEntries(
    containers.flatMap((c) => (c.lifecycle?.preStop ? [[c.name, c.lifecycle.preStop]] : [])),
  );
  const given = pod.spec.terminationGracePeriodSeconds;
  const grace = typeof given === "number" ? given : DEFAULT_GRACE_PERIOD_SECONDS;
  const spentSeconds = pod.deletionRequestedAt === null ? 0 : Math.max(0, nowMs - pod.deletionRequestedAt) / 1000;
  return {
    gracePeriodSeconds: grace === 0 ? 0 : Math.max(1, Math.ceil(grace - spentSeconds)),
    ...(Object.keys(preStop).length > 0 ? { preStop } : {}),
  };
}
