import {
  type AutoscaledNode,
  type AutoscalerMemory,
  type AutoscalerPlan,
  type AutoscalerSettings,
  type BoundPod,
  DEFAULT_AUTOSCALER_SETTINGS,
  EMPTY_AUTOSCALER_MEMORY,
  MAX_PENDING_PER_LOOK,
  type PendingPod,
  planAutoscaling,
} from "../controllers/nodeAutoscaler.js";
import { conditionsOf, isMoving } from "../controllers/podStatus.js";
import type { NodeRecord, PodRecord } from "../db/types.js";
import { type NodeScaling, POOL_LABEL } from "../providers/types.js";
import { schedule } from "../scheduler/index.js";
import { recordEvent } from "./apply.js";
import type { JobContext } from "./context.js";
import { evictNodePods } from "./drain.js";
import { syncNodes } from "./nodes.js";
import { cancelMove, canMove, markMoving, roomToMove } from "./rebalance.js";
import { demandOf } from "./schedulePod.js";
import { enqueueUnbound } from "./syncPod.js";
import { localVolumesByNode, placementOf } from "./volumes.js";

/** How the control plane runs the node autoscaler; unset fields take `DEFAULT_AUTOSCALER_SETTINGS`. */
export interface AutoscaleOptions {
  /** Nodes in all, never exceeded by a scale-up. */
  maxNodes: number;
  scaleUpCooldownMs?: number;
  scaleDownUnneededMs?: number;
  scaleDownUtilization?: number;
  drainTimeoutMs?: number;
  /** How often it looks (5 s). */
  intervalMs?: number;
}

/** The autoscaler duty, or undefined when autoscaling is off or the provider cannot add and remove nodes. */
export function autoscalerFor(
  ctx: JobContext,
  options: AutoscaleOptions | undefined,
): { intervalMs: number; look: () => Promise<void> } | undefined {
  const scaling = ctx.provider.scaling;
  if (!options || !scaling) return undefined;
  const defaults = DEFAULT_AUTOSCALER_SETTINGS;
  const autoscaler = new NodeAutoscaler(ctx, scaling, {
    maxNodes: options.maxNodes,
    scaleUpCooldownMs: options.scaleUpCooldownMs ?? defaults.scaleUpCooldownMs,
    scaleDownUnneededMs: options.scaleDownUnneededMs ?? defaults.scaleDownUnneededMs,
    scaleDownUtilization: options.scaleDownUtilization ?? defaults.scaleDownUtilization,
    drainTimeoutMs: options.drainTimeoutMs ?? defaults.drainTimeoutMs,
  });
  return { intervalMs: options.intervalMs ?? 5_000, look: () => autoscaler.look() };
}

/**
 * The node autoscaler (a singleton duty): loads nodes and pods, asks the pure
 * rules (src/controllers/nodeAutoscaler.ts) what to do, and does it through the
 * provider's `scaling` capability. Added nodes are registered like any joining
 * node; drains cordon and evict through the same path as the operator's drain,
 * honouring PodDisruptionBudgets; removed nodes are forgotten through the
 * provider's `nodeGone`. What it does goes to the operator's log; tenants only
 * see, on their pods, that capacity is being added or that a pod was moved,
 * never a node.
 */
export class NodeAutoscaler {
  private memory: AutoscalerMemory = EMPTY_AUTOSCALER_MEMORY;
  private lastReasons = "";

  constructor(
    private readonly ctx: JobContext,
    private readonly scaling: NodeScaling,
    private readonly settings: AutoscalerSettings,
  ) {}

  async look(): Promise<void> {
    const nowMs = this.ctx.clock.now();
    const [nodes, pods] = await Promise.all([this.ctx.store.listNodes(), this.ctx.store.listPods({})]);
    const pools = this.scaling.pools();
    const poolNames = new Set(pools.map((p) => p.name));
    const byNode = new Map<string, PodRecord[]>();
    for (const pod of pods) {
      if (pod.nodeName === null) continue;
      const list = byNode.get(pod.nodeName) ?? [];
      list.push(pod);
      byNode.set(pod.nodeName, list);
    }
    const volumes = await localVolumesByNode(this.ctx);
    const input = {
      nodes: await Promise.all(
        nodes.map(async (node) => ({
          ...(await this.nodeOf(node, byNode.get(node.name) ?? [], poolNames)),
          localVolumes: volumes.get(node.name) ?? 0,
        })),
      ),
      pending: await this.pendingOf(pods),
      pools,
      nowMs,
      memory: this.memory,
      settings: this.settings,
    };
    const plan = planAutoscaling(input, schedule);
    this.memory = plan.memory;
    const reasons = plan.reasons.join("\n");
    if (reasons !== this.lastReasons && plan.reasons.length > 0) this.ctx.log("autoscaler", { reasons: plan.reasons });
    this.lastReasons = reasons;
    await this.apply(plan, pods);
  }

  private async apply(plan: AutoscalerPlan, pods: PodRecord[]): Promise<void> {
    const nowMs = this.ctx.clock.now();
    for (const name of plan.uncordon) {
      await this.ctx.store.updateNode(name, { unschedulable: false }, nowMs);
      // Its pods not yet moved stay: their marks go, so their workloads are not left half-moved.
      for (const pod of pods) {
        if (pod.nodeName === name && pod.deletionRequestedAt === null && isMoving(pod.status))
          await cancelMove(this.ctx, pod);
      }
      this.ctx.log("autoscaler uncordoned a node it had drained", { node: name });
    }
    if (plan.uncordon.length > 0) await enqueueUnbound(this.ctx);
    if (plan.add.length > 0) await this.scaleUp(plan, pods);
    for (const name of plan.drain) await this.drain(name, pods);
    for (const name of plan.remove) {
      try {
        await this.scaling.removeNode(name);
        this.ctx.log("autoscaler removed a node", { node: name });
      } catch (error) {
        this.ctx.log("autoscaler could not remove a node", { node: name, error: String(error) });
      }
    }
  }

  private async scaleUp(plan: AutoscalerPlan, pods: PodRecord[]): Promise<void> {
    const added: string[] = [];
    for (const { pool, count } of plan.add) {
      for (let i = 0; i < count; i++) {
        try {
          added.push((await this.scaling.addNode(pool)).name);
        } catch (error) {
          this.ctx.log("autoscaler could not add a node", { pool, error: String(error) });
          break;
        }
      }
    }
    if (added.length === 0) return;
    this.ctx.log("autoscaler added nodes", { nodes: added, forPods: plan.scaleUpFor.length });
    // Registered now rather than at the next heartbeat, so the next look counts them; the waiting pods are retried.
    await syncNodes(this.ctx);
    for (const id of plan.scaleUpFor) {
      const pod = pods.find((p) => p.id === id);
      if (pod) await tell(this.ctx, pod, "TriggeredScaleUp", "The platform is adding capacity for this pod.");
    }
  }

  /**
   * Cordons the node and empties it. Replicated pods move replacement first, so
   * consolidation never takes a workload below its replicas; the others (a
   * StatefulSet's, a pod with a claim) are evicted, honouring disruption budgets.
   */
  private async drain(name: string, pods: PodRecord[]): Promise<void> {
    await this.ctx.store.updateNode(name, { unschedulable: true }, this.ctx.clock.now());
    const moved = new Set<string>();
    for (const pod of pods) {
      if (pod.nodeName !== name || !canMove(pod)) continue;
      // Moving surges by one pod: without room in the tenant's quota for it, the pod is evicted instead.
      if (!isMoving(pod.status) && !(await roomToMove(this.ctx, pod))) continue;
      if (!isMoving(pod.status))
        await markMoving(this.ctx, pod, "moving to consolidate capacity; a replacement starts first");
      moved.add(pod.id);
    }
    const { evicted, blocked } = await evictNodePods(this.ctx, name, (pod) => moved.has(pod.id));
    for (const { id } of evicted) {
      await this.ctx.queue.enqueue("pod", id);
      const pod = pods.find((p) => p.id === id);
      if (pod) await tell(this.ctx, pod, "ScaleDown", "Evicted to consolidate capacity; its controller replaces it.");
    }
    if (moved.size > 0 || evicted.length > 0 || blocked.length > 0) {
      const counts = { moved: moved.size, evicted: evicted.length, blocked: blocked.length };
      this.ctx.log("autoscaler draining a node", { node: name, ...counts });
    }
  }

  /** What the rules need of a node: its pool (when it is in a scaling pool of this provider) and its pods (`pods`). */
  private async nodeOf(node: NodeRecord, pods: PodRecord[], pools: Set<string>): Promise<AutoscaledNode> {
    const label = node.labels[POOL_LABEL];
    const pool =
      node.provider === this.ctx.provider.name && label !== undefined && pools.has(label) ? label : undefined;
    const out: AutoscaledNode = {
      ...node,
      ...(pool ? { pool } : {}),
      pods: [],
      daemons: { cpuMillis: 0, memoryBytes: 0, pods: 0 },
      terminatingPods: 0,
    };
    for (const pod of pods) {
      if (pod.phase === "Succeeded" || pod.phase === "Failed") continue;
      if (pod.ownerKind === "DaemonSet") {
        if (pod.deletionRequestedAt !== null) continue;
        out.daemons.cpuMillis += pod.cpuMillis;
        out.daemons.memoryBytes += pod.memoryBytes;
        out.daemons.pods++;
      } else if (pod.deletionRequestedAt !== null) {
        out.terminatingPods++;
      } else {
        out.pods.push(await this.boundOf(pod, node.name, pool !== undefined));
      }
    }
    return out;
  }

  private async boundOf(pod: PodRecord, nodeName: string, scaling: boolean): Promise<BoundPod> {
    // Only a scaling pool's nodes may go, so only their pods' ties to their node (volumes, pins) are looked up.
    const placement = scaling ? await placementOf(this.ctx, pod) : { requiredNodes: [] };
    const here = [{ node: nodeName, why: "volume" as const }];
    const requiredNodes = "waiting" in placement && placement.waiting ? here : placement.requiredNodes;
    return { tenantId: pod.tenantId, demand: demandOf(pod, requiredNodes), replaceable: pod.ownerKind !== null };
  }

  /** Unbound pods the scheduler found no room for; not those waiting for their storage, which no node helps. */
  private async pendingOf(pods: PodRecord[]): Promise<PendingPod[]> {
    const pending: PendingPod[] = [];
    for (const pod of pods) {
      if (pending.length >= MAX_PENDING_PER_LOOK) break;
      if (pod.nodeName !== null || pod.deletionRequestedAt !== null || !unschedulable(pod)) continue;
      const placement = await placementOf(this.ctx, pod);
      if (placement.waiting) continue;
      pending.push({ tenantId: pod.tenantId, demand: demandOf(pod, placement.requiredNodes) });
    }
    return pending;
  }
}

function unschedulable(pod: PodRecord): boolean {
  return conditionsOf(pod.status).some(
    (c) => c.type === "PodScheduled" && c.status === "False" && c.reason === "Unschedulable",
  );
}

/** An event on the tenant's pod: what the platform does for it, in words that name no node. */
async function tell(ctx: JobContext, pod: PodRecord, reason: string, message: string): Promise<void> {
  const involved = { tenantId: pod.tenantId, namespace: pod.namespace, kind: "Pod", name: pod.name, uid: pod.uid };
  await recordEvent(ctx, involved, "Normal", reason, message);
}
