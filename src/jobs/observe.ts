import { conditionsOf, setCondition } from "../controllers/podStatus.js";
import { ConflictError, type PodRecord } from "../db/types.js";
import type { ObservedPod, ProviderEvent } from "../providers/types.js";
import type { JobContext } from "./context.js";
import { objectKey } from "./keys.js";
import type { HandlerResult } from "./queue.js";
import { enqueueServices } from "./reconcile.js";

type Observation = { gone: false; pod: ObservedPod } | { gone: true; nodeName: string };

/**
 * Turns what providers see into pod status. Observations are kept per pod, newest
 * only, and handled by the `observe` job, so a burst of changes to one pod costs
 * one write and two pods never wait on each other.
 */
export class Observer {
  private readonly latest = new Map<string, Observation>();

  constructor(private readonly ctx: JobContext) {}

  onProviderEvent = (event: ProviderEvent): void => {
    if (event.type === "node") return;
    const observation: Observation =
      event.type === "pod" ? { gone: false, pod: event.pod } : { gone: true, nodeName: event.nodeName };
    const podId = event.type === "pod" ? event.pod.podId : event.podId;
    this.latest.set(podId, observation);
    void this.ctx.queue.enqueue("observe", podId);
  };

  job = async (podId: string): Promise<HandlerResult | undefined> => {
    const observation = this.latest.get(podId);
    if (!observation) return undefined;
    this.latest.delete(podId);
    for (let attempt = 0; attempt < 5; attempt++) {
      const pod = await this.ctx.store.getPod(podId);
      if (!pod) {
        // Running but unknown to the store: nothing asked for it, so it goes.
        if (!observation.gone) await this.ctx.provider.stopPod(observation.pod.nodeName, podId);
        return undefined;
      }
      if (pod.deletionRequestedAt !== null) return undefined;
      try {
        await this.record(pod, observation);
        return undefined;
      } catch (error) {
        if (!(error instanceof ConflictError)) throw error;
      }
    }
    return { requeueAfterMs: 10 };
  };

  private async record(pod: PodRecord, observation: Observation): Promise<void> {
    const now = this.ctx.clock.now();
    const change = observation.gone ? lostStatus(pod, now) : observedStatus(pod, observation.pod, now);
    await this.ctx.store.updatePodStatus(pod.id, change, { expectedResourceVersion: pod.resourceVersion, nowMs: now });
    if (
      change.ready !== pod.ready ||
      change.phase !== pod.phase ||
      (change.status as Record<string, unknown>).podIP !== pod.status.podIP
    ) {
      if (pod.ownerKind && pod.ownerName) {
        const owner = { tenantId: pod.tenantId, kind: pod.ownerKind, namespace: pod.namespace, name: pod.ownerName };
        await this.ctx.queue.enqueue("reconcile", objectKey(owner));
      }
      await enqueueServices(this.ctx, pod.tenantId, pod.namespace);
    }
  }
}

function observedStatus(pod: PodRecord, observed: ObservedPod, nowMs: number) {
  let conditions = setCondition(conditionsOf(pod.status), "PodScheduled", true, nowMs);
  conditions = setCondition(conditions, "Initialized", true, nowMs);
  conditions = setCondition(conditions, "ContainersReady", observed.ready, nowMs);
  conditions = setCondition(conditions, "Ready", observed.ready, nowMs);
  const status = {
    phase: observed.phase,
    conditions,
    ...(observed.podIP ? { podIP: observed.podIP, podIPs: [{ ip: observed.podIP }] } : {}),
    ...(observed.startedAt ? { startTime: new Date(observed.startedAt).toISOString() } : {}),
    ...(observed.reason ? { reason: observed.reason } : {}),
    ...(observed.message ? { message: observed.message } : {}),
    containerStatuses: observed.containers.map((c) => ({ ...c })),
  };
  return { phase: observed.phase, ready: observed.ready, status };
}

/** The pod vanished from its node without being asked to stop: it failed, and its owner replaces it. */
function lostStatus(pod: PodRecord, nowMs: number) {
  const conditions = setCondition(conditionsOf(pod.status), "Ready", false, nowMs, { reason: "PodLost" });
  const status = {
    ...pod.status,
    phase: "Failed",
    reason: "Lost",
    message: "The pod stopped unexpectedly.",
    conditions,
  };
  return { phase: "Failed" as const, ready: false, status };
}
