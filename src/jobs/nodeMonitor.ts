import { monitorNodes } from "../controllers/nodeLifecycle.js";
import { ConflictError, type PodRecord } from "../db/types.js";
import { recordEvent } from "./apply.js";
import type { JobContext } from "./context.js";
import { objectKey } from "./keys.js";
import { enqueueSelecting } from "./reconcile.js";

/**
 * The node monitor (a singleton duty): looks at heartbeats, marks silent nodes
 * NotReady after the grace period, and declares the pods of NotReady nodes lost
 * so their owners replace them elsewhere. The rules are pure (`nodeLifecycle.ts`);
 * this applies them. When a lost node comes back, the pods it still runs are
 * unknown to the store and are stopped by the observer: never doubled.
 */
export class NodeMonitor {
  private lastLookMs: number | undefined;
  private healthySinceMs: number;

  constructor(
    private readonly ctx: JobContext,
    private readonly gracePeriodMs: number,
  ) {
    this.healthySinceMs = ctx.clock.now();
  }

  /** The heartbeat pipeline worked (`true`) or failed (`false`) just now. */
  heartbeat(ok: boolean): void {
    if (!ok) this.healthySinceMs = Number.POSITIVE_INFINITY;
    else if (this.healthySinceMs === Number.POSITIVE_INFINITY) this.healthySinceMs = this.ctx.clock.now();
  }

  async look(): Promise<void> {
    const nowMs = this.ctx.clock.now();
    const [nodes, pods] = await Promise.all([this.ctx.store.listNodes(), this.ctx.store.listPods({})]);
    const live = pods.filter(
      (p) => p.nodeName && p.deletionRequestedAt === null && p.phase !== "Failed" && p.phase !== "Succeeded",
    );
    const decision = monitorNodes({
      nodes: nodes.map((n) => ({ ...n, pods: live.filter((p) => p.nodeName === n.name).length })),
      nowMs,
      gracePeriodMs: this.gracePeriodMs,
      lastLookMs: this.lastLookMs,
      healthySinceMs: this.healthySinceMs,
    });
    this.lastLookMs = nowMs;
    if (decision.holdingBack) this.ctx.log("node monitor holding back", { why: decision.holdingBack });
    for (const name of decision.notReady) await this.ctx.store.updateNode(name, { ready: false }, nowMs);
    for (const name of decision.evict) {
      for (const pod of live.filter((p) => p.nodeName === name)) await this.declareLost(pod);
    }
  }

  private async declareLost(pod: PodRecord): Promise<void> {
    const nowMs = this.ctx.clock.now();
    const status = {
      ...pod.status,
      phase: "Failed",
      reason: "NodeLost",
      message: "The pod's node stopped responding.",
    };
    try {
      await this.ctx.store.updatePodStatus(
        pod.id,
        { phase: "Failed", ready: false, status },
        { expectedResourceVersion: pod.resourceVersion, nowMs },
      );
    } catch (error) {
      // Changed meanwhile: the next look decides again on fresh state.
      if (error instanceof ConflictError) return;
      throw error;
    }
    const involved = { tenantId: pod.tenantId, namespace: pod.namespace, kind: "Pod", name: pod.name, uid: pod.uid };
    const replaced = pod.ownerKind ? "; its controller replaces it" : "";
    await recordEvent(
      this.ctx,
      involved,
      "Warning",
      "NodeLost",
      `The pod's node stopped responding: the pod was declared lost${replaced}`,
    );
    if (pod.ownerKind && pod.ownerName) {
      await this.ctx.queue.enqueue(
        "reconcile",
        objectKey({ tenantId: pod.tenantId, kind: pod.ownerKind, namespace: pod.namespace, name: pod.ownerName }),
      );
    }
    await enqueueSelecting(this.ctx, pod.tenantId, pod.namespace);
  }
}
