import { conditionsOf, setCondition } from "../controllers/podStatus.js";
import { canonicalJson } from "../core/hash.js";
import { ConflictError, type PodRecord } from "../db/types.js";
import { type PlacedPod, type PodDemand, schedule, type Unschedulable } from "../scheduler/index.js";
import { recordEvent } from "./apply.js";
import type { JobContext } from "./context.js";
import type { HandlerResult } from "./queue.js";
import { pinVolumes, placementOf } from "./volumes.js";

/** The `schedule` job: place one unbound pod, then bind it with a conditional write that cannot over-commit. */
export async function scheduleJob(ctx: JobContext, podId: string): Promise<HandlerResult | undefined> {
  const pod = await ctx.store.getPod(podId);
  if (!pod || pod.deletionRequestedAt !== null) return undefined;
  if (pod.nodeName) {
    await ctx.queue.enqueue("pod", pod.id);
    return undefined;
  }
  const placement = await placementOf(ctx, pod);
  if (placement.waiting) {
    await markWaiting(ctx, pod, placement.waiting);
    return { requeueAfterMs: ctx.unschedulableRetryMs };
  }
  const nodes = await ctx.store.listNodes();
  const demand = demandOf(pod, placement.requiredNodes);
  const result = schedule(demand, nodes, {
    policy: ctx.schedulingPolicy,
    placed: await placedPods(ctx, pod.tenantId, demand),
  });
  if (!result.ok) {
    await markUnschedulable(ctx, pod, result);
    return { requeueAfterMs: ctx.unschedulableRetryMs };
  }
  const bind = await ctx.store.bindPod(pod.id, result.nodeName, ctx.clock.now());
  if (bind === "bound" || bind === "already-bound") {
    if (bind === "bound") await pinVolumes(ctx, pod, result.nodeName);
    await markScheduled(ctx, pod.id);
    await ctx.queue.enqueue("pod", pod.id);
    return undefined;
  }
  // Another binder took the room (or the node went) between our read and our write: place again on fresh state.
  return bind === "pod-gone" ? undefined : { requeueAfterMs: 10 };
}

type Placing = Pick<PodDemand, "nodeSelector" | "affinity" | "topologySpreadConstraints">;

export function demandOf(pod: PodRecord, requiredNodes: PodDemand["requiredNodes"]): PodDemand {
  const spec = pod.spec as Placing;
  return {
    id: pod.id,
    namespace: pod.namespace,
    labels: pod.labels,
    cpuMillis: pod.cpuMillis,
    memoryBytes: pod.memoryBytes,
    nodeSelector: spec.nodeSelector,
    affinity: spec.affinity,
    topologySpreadConstraints: spec.topologySpreadConstraints,
    requiredNodes,
  };
}

/**
 * The tenant's bound, live pods, for affinity and spread. Only the tenant's own:
 * tenants never attract, repel or skew each other. Pods on their way out do not
 * count, as Kubernetes leaves terminating pods out.
 */
export async function placedPods(
  ctx: Pick<JobContext, "store">,
  tenantId: string,
  demand?: PodDemand,
): Promise<PlacedPod[]> {
  const every = demand === undefined || needsEveryPlacedPod(demand);
  const placed: PlacedPod[] = [];
  for (const p of await ctx.store.listPods({ tenantId })) {
    if (p.nodeName === null || p.deletionRequestedAt !== null) continue;
    const affinity = (p.spec as Placing).affinity;
    if (!every && !holdsPodAffinity(affinity)) continue;
    placed.push({ namespace: p.namespace, labels: p.labels, nodeName: p.nodeName, affinity });
  }
  return placed;
}

/**
 * Whether every placed pod can sway where `demand` goes. A pod with no pod affinity and no spread of
 * its own is swayed only by the placed pods' own affinity terms (Kubernetes' symmetry), so the rest
 * can be left out: on a large cluster, most pods need none of them.
 */
function needsEveryPlacedPod(demand: PodDemand): boolean {
  const own = demand.affinity;
  return Boolean(own?.podAffinity || own?.podAntiAffinity || (demand.topologySpreadConstraints?.length ?? 0) > 0);
}

function holdsPodAffinity(affinity: Placing["affinity"]): boolean {
  return Boolean(affinity?.podAffinity || affinity?.podAntiAffinity);
}

async function markScheduled(ctx: JobContext, podId: string): Promise<void> {
  await updatePodConditions(ctx, podId, (conditions) =>
    setCondition(conditions, "PodScheduled", true, ctx.clock.now()),
  );
}

async function markUnschedulable(ctx: JobContext, pod: PodRecord, result: Unschedulable): Promise<void> {
  await markWaiting(ctx, pod, result.tenantMessage);
}

/** PodScheduled=False with the reason, on the pod and as a FailedScheduling event. */
async function markWaiting(ctx: JobContext, pod: PodRecord, message: string): Promise<void> {
  const detail = { reason: "Unschedulable", message };
  await updatePodConditions(ctx, pod.id, (conditions) =>
    setCondition(conditions, "PodScheduled", false, ctx.clock.now(), detail),
  );
  const involved = { tenantId: pod.tenantId, namespace: pod.namespace, kind: "Pod", name: pod.name, uid: pod.uid };
  await recordEvent(ctx, involved, "Warning", "FailedScheduling", message);
}

/** Rewrites a pod's conditions with a conditional write, re-reading on a race (bounded). */
export async function updatePodConditions(
  ctx: JobContext,
  podId: string,
  change: (conditions: ReturnType<typeof conditionsOf>) => ReturnType<typeof conditionsOf>,
): Promise<void> {
  for (let attempt = 0; attempt < 5; attempt++) {
    const pod = await ctx.store.getPod(podId);
    if (!pod) return;
    const conditions = change(conditionsOf(pod.status));
    // A retry that finds the pod still unschedulable for the same reason writes nothing.
    if (canonicalJson(conditions) === canonicalJson(conditionsOf(pod.status))) return;
    const status = { ...pod.status, conditions };
    try {
      await ctx.store.updatePodStatus(
        pod.id,
        { phase: pod.phase, ready: pod.ready, status },
        { expectedResourceVersion: pod.resourceVersion, nowMs: ctx.clock.now() },
      );
      return;
    } catch (error) {
      if (!(error instanceof ConflictError)) throw error;
    }
  }
  throw new Error(`pod ${podId} kept changing while its conditions were written`);
}
