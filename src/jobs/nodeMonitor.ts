import { fateOnSilentNode, isDown, isFenced, monitorNodes, NODE_LOST } from "../controllers/nodeLifecycle.js";
import { conditionsOf, setCondition } from "../controllers/podStatus.js";
import { ConflictError, type NodeRecord, type PodRecord } from "../db/types.js";
import { recordEvent } from "./apply.js";
import type { JobContext } from "./context.js";
import { objectKey } from "./keys.js";
import { enqueueSelecting } from "./reconcile.js";

/**
 * The node monitor (a singleton duty): looks at heartbeats, marks silent nodes
 * NotReady after the grace period, and declares the pods of NotReady nodes lost
 * so their owners replace them elsewhere. The rules are pure (`nodeLifecycle.ts`);
 * this applies them. When a lost node comes back, the pods it still runs are
 * unknown to the store and are stopped by the observer: never doubled. Fenced
 * pods (StatefulSet replicas, pods with claims) wait for their node's fate.
 */
export class NodeMonitor {
  private lastLookMs: number | undefined;
  private healthySinceMs: number;
  /** When the latest heartbeat pass that worked began (polled heartbeats only). */
  private lastPassMs: number | undefined;

  /**
   * `heartbeatMs`: how often heartbeat passes begin, when they are polled (absent when pushed).
   */
  constructor(
    private readonly ctx: JobContext,
    private readonly gracePeriodMs: number,
    private readonly pushed?: PushedHeartbeats,
    private readonly heartbeatMs?: number,
  ) {
    this.healthySinceMs = ctx.clock.now();
  }

  /** The heartbeat pipeline worked (`true`) or failed (`false`) just now; a pass that worked began at `passStartedMs`. */
  heartbeat(ok: boolean, passStartedMs?: number): void {
    if (!ok) this.healthySinceMs = Number.POSITIVE_INFINITY;
    else if (this.healthySinceMs === Number.POSITIVE_INFINITY) this.healthySinceMs = this.ctx.clock.now();
    if (ok && passStartedMs !== undefined) this.lastPassMs = Math.max(this.lastPassMs ?? passStartedMs, passStartedMs);
  }

  /**
   * One look; true when it acted or held back, so that a monitor that does not poll looks again soon.
   * Silence is judged as of the latest heartbeat pass plus its period at most: a node is silent when
   * passes that ran did not hear it, never because the passes themselves fell behind (an overloaded
   * control plane), which would mark every node NotReady and stop every start until the next pass.
   */
  async look(): Promise<boolean> {
    // Polled, and no pass has worked yet in this term: nothing is known of the nodes to judge them by.
    if (this.heartbeatMs !== undefined && this.lastPassMs === undefined) return false;
    const now = this.ctx.clock.now();
    const nowMs =
      this.lastPassMs === undefined || this.heartbeatMs === undefined
        ? now
        : Math.min(now, this.lastPassMs + this.heartbeatMs);
    const nodes = await this.ctx.store.listNodes();
    const heartbeatOf = (node: NodeRecord) => this.pushed?.lastHeartbeatAt(node, nowMs) ?? node.lastHeartbeatAt;
    // Placements, not pods: a look needs only counts, and only of nodes that are down (none, most
    // looks); full rows are read for the nodes it evicts from.
    const anyDown = nodes.some((n) => isDown({ ...n, lastHeartbeatAt: heartbeatOf(n) }, nowMs, this.gracePeriodMs));
    const placements = anyDown ? await this.ctx.store.listPodPlacements() : [];
    const unfenced = new Map<string, number>();
    for (const pod of placements) {
      if (!pod.nodeName || !isLive(pod) || isFenced({ phase: pod.phase, status: { reason: pod.reason } })) continue;
      unfenced.set(pod.nodeName, (unfenced.get(pod.nodeName) ?? 0) + 1);
    }
    const decision = monitorNodes({
      // Fenced pods need nothing more until their node's fate is known, so they do not make a node a candidate.
      nodes: nodes.map((n) => ({
        ...n,
        lastHeartbeatAt: heartbeatOf(n),
        pods: unfenced.get(n.name) ?? 0,
      })),
      nowMs,
      gracePeriodMs: this.gracePeriodMs,
      // A monitor that looks only when something is due was not stalled between its looks.
      lastLookMs: this.pushed ? undefined : this.lastLookMs,
      healthySinceMs: this.healthySinceMs,
    });
    this.lastLookMs = nowMs;
    if (decision.holdingBack) this.ctx.log("node monitor holding back", { why: decision.holdingBack });
    for (const name of decision.notReady) await this.ctx.store.updateNode(name, { ready: false }, now);
    for (const name of decision.evict) {
      for (const pod of await this.ctx.store.listPods({ nodeName: name })) {
        if (isLive(pod)) await declareLost(this.ctx, pod, "silent");
      }
    }
    return decision.holdingBack !== undefined || decision.evict.length > 0 || decision.notReady.length > 0;
  }
}

/** A pod that holds its node: not marked for deletion and not ended. */
function isLive(pod: Pick<PodRecord, "deletionRequestedAt" | "phase">): boolean {
  return pod.deletionRequestedAt === null && pod.phase !== "Failed" && pod.phase !== "Succeeded";
}

/**
 * Heartbeats as a provider that reports every change pushes them (the simulator's): a node is heard
 * from continuously until it reports itself silent, and its last heartbeat is then the one before.
 */
export interface PushedHeartbeats {
  /** The node's last heartbeat as of `nowMs`: `nowMs` itself while it answers. */
  lastHeartbeatAt(node: NodeRecord, nowMs: number): number | null;
}

const LOST_MESSAGES = {
  silent: "The pod's node stopped responding",
  gone: "The pod's node is gone",
} as const;

/**
 * Declares a pod on a silent or vanished node lost, so that its owner replaces
 * it. On a silent node, a pod that must never run twice is fenced instead
 * (`fateOnSilentNode`): Unknown and not ready until the node is back or gone.
 */
export async function declareLost(ctx: JobContext, pod: PodRecord, node: "silent" | "gone"): Promise<void> {
  const fenced = node === "silent" && fateOnSilentNode(pod) === "fenced";
  if (fenced && isFenced(pod)) return;
  const nowMs = ctx.clock.now();
  const phase = fenced ? "Unknown" : "Failed";
  const message = fenced
    ? `${LOST_MESSAGES[node]}; the pod is kept, not ready, until its node returns or is confirmed gone, so it never runs twice`
    : `${LOST_MESSAGES[node]}: the pod was declared lost${pod.ownerKind ? "; its controller replaces it" : ""}`;
  const conditions = setCondition(conditionsOf(pod.status), "Ready", false, nowMs, { reason: NODE_LOST });
  const status = { ...pod.status, phase, reason: NODE_LOST, message: `${message}.`, conditions };
  try {
    await ctx.store.updatePodStatus(
      pod.id,
      { phase, ready: false, status },
      { expectedResourceVersion: pod.resourceVersion, nowMs },
    );
  } catch (error) {
    // Changed meanwhile: the next look decides again on fresh state.
    if (error instanceof ConflictError) return;
    throw error;
  }
  const involved = { tenantId: pod.tenantId, namespace: pod.namespace, kind: "Pod", name: pod.name, uid: pod.uid };
  await recordEvent(ctx, involved, "Warning", NODE_LOST, message);
  if (pod.ownerKind && pod.ownerName) {
    await ctx.queue.enqueue(
      "reconcile",
      objectKey({ tenantId: pod.tenantId, kind: pod.ownerKind, namespace: pod.namespace, name: pod.ownerName }),
    );
  }
  await enqueueSelecting(ctx, pod.tenantId, pod.namespace);
}
