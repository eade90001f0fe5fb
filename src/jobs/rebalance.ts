import { REBALANCING, setCondition } from "../controllers/podStatus.js";
import { fitsQuota } from "../controllers/quota.js";
import type { PodRecord, StoredObject } from "../db/types.js";
import { type Move, planRebalance } from "../scheduler/rebalance.js";
import { recordEvent } from "./apply.js";
import type { JobContext } from "./context.js";
import { objectKey } from "./keys.js";
import { demandOf, updatePodConditions } from "./schedulePod.js";
import { podView } from "./views.js";

/**
 * The rebalancer (a periodic duty): finds workloads whose topology spread has
 * drifted past `maxSkew` (after a scale-down, or a node's return) and marks at
 * most `maxMoves` pods per pass to move (`planRebalance`, pure). A marked pod's
 * ReplicaSet starts its replacement first and deletes it once the replacement
 * is available, so a move never takes the workload below its replicas. Only
 * stable workloads are touched: every replica bound and ready, no rollout and
 * no move under way, no claim (a pod's storage decides where it runs), and
 * room in the tenant's quota for the replacement.
 */
export async function rebalance(ctx: JobContext, maxMoves: number): Promise<Move[]> {
  const nodes = (await ctx.store.listNodes()).filter((n) => n.ready && !n.unschedulable);
  if (nodes.length < 2 || maxMoves <= 0) return [];
  const sets = await ctx.store.listObjects({ kind: "ReplicaSet" });
  // Only workloads that ask for spread are looked at, and only their tenants' pods are read.
  const candidates = sets.filter((rs) => spreads(rs) && !rollingOut(rs, sets));
  const done: Move[] = [];
  for (const tenantId of [...new Set(candidates.map((s) => s.tenantId))].sort()) {
    if (done.length >= maxMoves) break;
    const own = await ctx.store.listPods({ tenantId });
    const groups = candidates
      .filter((rs) => rs.tenantId === tenantId)
      .flatMap((rs) => {
        const mine = own.filter((p) => p.ownerUid === rs.uid);
        if (!stable(rs, mine)) return [];
        const group = mine.map((p) => ({ demand: demandOf(p, undefined), nodeName: p.nodeName as string }));
        return [{ key: rs.uid, pods: group }];
      });
    if (groups.length === 0) continue;
    const placed = own
      .filter((p) => p.nodeName !== null && p.deletionRequestedAt === null)
      .map((p) => ({ ...demandOf(p, undefined), nodeName: p.nodeName as string }));
    const moves = planRebalance({
      nodes,
      placed,
      groups,
      maxMoves: maxMoves - done.length,
      policy: ctx.schedulingPolicy,
    });
    for (const move of moves) {
      const pod = own.find((p) => p.id === move.podId) as PodRecord;
      if (!(await roomToMove(ctx, pod))) continue;
      // Counts, never domain names: with a hostname spread a domain is a node, and tenants never see nodes.
      const message = `moving to restore topology spread on ${move.topologyKey}: ${move.from.count} replicas share one domain, another holds ${move.to.count}; a replacement starts first`;
      await markMoving(ctx, pod, message);
      done.push(move);
    }
  }
  return done;
}

/** The template asks for topology spread. */
function spreads(rs: StoredObject): boolean {
  const template = rs.spec.template as { spec?: { topologySpreadConstraints?: unknown[] } } | undefined;
  return (template?.spec?.topologySpreadConstraints?.length ?? 0) > 0 && ((rs.spec.replicas as number) ?? 1) > 0;
}

/** Another ReplicaSet of the same Deployment still has replicas: a rollout is under way. */
function rollingOut(rs: StoredObject, sets: StoredObject[]): boolean {
  if (!rs.ownerUid) return false;
  return sets.some((s) => s.uid !== rs.uid && s.ownerUid === rs.ownerUid && ((s.spec.replicas as number) ?? 1) > 0);
}

/** Every replica bound, running and ready; nothing deleting or moving; no claim. */
function stable(rs: StoredObject, pods: PodRecord[]): boolean {
  if (pods.length !== ((rs.spec.replicas as number) ?? 1)) return false;
  return pods.every((p) => {
    const view = podView(p);
    return view.bound && view.ready && !view.moving && canMove(p);
  });
}

/**
 * A pod its ReplicaSet can replace before it goes (replacement first): owned by
 * one, and with no claim, since a pod's storage decides where it runs.
 */
export function canMove(pod: PodRecord): boolean {
  const volumes = (pod.spec.volumes as { persistentVolumeClaim?: unknown }[] | undefined) ?? [];
  const replicated = pod.ownerKind === "ReplicaSet" || pod.ownerKind === "ReplicationController";
  return replicated && pod.deletionRequestedAt === null && volumes.every((v) => !v.persistentVolumeClaim);
}

/**
 * The tenant's quota has room for the pod's replacement beside it (a move
 * surges by one pod); without a quota there is always room.
 */
export async function roomToMove(ctx: JobContext, pod: PodRecord): Promise<boolean> {
  const hard = (await ctx.store.getTenant(pod.tenantId))?.quota;
  if (!hard) return true;
  return fitsQuota(hard, await ctx.store.tenantPodUsage(pod.tenantId), pod).length === 0;
}

/** Marks a pod to move (its `DisruptionTarget` condition), tells the tenant why, and wakes its owner. */
export async function markMoving(ctx: JobContext, pod: PodRecord, message: string): Promise<void> {
  await updatePodConditions(ctx, pod.id, (conditions) =>
    setCondition(conditions, "DisruptionTarget", true, ctx.clock.now(), { reason: REBALANCING, message }),
  );
  const involved = { tenantId: pod.tenantId, namespace: pod.namespace, kind: "Pod", name: pod.name, uid: pod.uid };
  await recordEvent(ctx, involved, "Normal", REBALANCING, message);
  if (pod.ownerKind && pod.ownerName) {
    const owner = { tenantId: pod.tenantId, kind: pod.ownerKind, namespace: pod.namespace, name: pod.ownerName };
    await ctx.queue.enqueue("reconcile", objectKey(owner));
  }
}

/** Takes back a move that has not happened (a drain given up or cancelled): the pod stays where it is. */
export async function cancelMove(ctx: JobContext, pod: PodRecord): Promise<void> {
  await updatePodConditions(ctx, pod.id, (conditions) =>
    setCondition(conditions, "DisruptionTarget", false, ctx.clock.now(), { reason: "MoveCancelled" }),
  );
}
