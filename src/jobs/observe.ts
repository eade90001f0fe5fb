import { hasImagePullError } from "../controllers/imagePull.js";
import {
  type BackOffSettings,
  backOffsOf,
  CRASH_LOOP_BACK_OFF,
  containerStatusesOf,
  KUBELET_BACK_OFF,
  type LifecycleEvent,
  observeContainers,
  type PodStatusChange,
  podStatusFor,
  restartsDue,
} from "../controllers/podLifecycle.js";
import { conditionsOf, setCondition } from "../controllers/podStatus.js";
import { canonicalJson } from "../core/hash.js";
import { ConflictError, type PodRecord } from "../db/types.js";
import type { ObservedPod, ProviderEvent } from "../providers/types.js";
import { recordEvent } from "./apply.js";
import type { JobContext } from "./context.js";
import { objectKey } from "./keys.js";
import type { HandlerResult } from "./queue.js";
import { enqueueSelecting } from "./reconcile.js";

type Observation = { gone: false; pod: ObservedPod } | { gone: true; nodeName: string };

/**
 * Turns what providers see into pod status. Observations are kept per pod, newest
 * only, and handled by the `observe` job, so a burst of changes to one pod costs
 * one write and two pods never wait on each other. Container runs are folded in
 * by the kubelet's rules (src/controllers/podLifecycle.ts): a new run counts a
 * restart, an ended run is restarted per the restartPolicy after a back-off,
 * which the `lifecycle` job waits out.
 */
export class Observer {
  private readonly latest = new Map<string, Observation>();

  constructor(private readonly ctx: JobContext) {}

  onProviderEvent = (event: ProviderEvent): void => {
    if (event.type !== "pod" && event.type !== "podGone") return;
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
    try {
      for (let attempt = 0; attempt < 5; attempt++) {
        const pod = await this.ctx.store.getPod(podId);
        if (!pod) {
          // Running but unknown to the store: nothing asked for it, so it goes.
          if (!observation.gone) await this.ctx.provider.stopPod(observation.pod.nodeName, podId);
          return undefined;
        }
        if (pod.deletionRequestedAt !== null) return undefined;
        // An ended pod stays ended: a late report of a lost pod's containers never brings it back.
        if (!observation.gone && (pod.phase === "Failed" || pod.phase === "Succeeded")) return undefined;
        try {
          await this.record(pod, observation);
          return undefined;
        } catch (error) {
          if (!(error instanceof ConflictError)) throw error;
        }
      }
    } catch (error) {
      this.keep(podId, observation);
      throw error;
    }
    this.keep(podId, observation);
    return { requeueAfterMs: 10 };
  };

  /** An observation not yet recorded stays for the retry, unless a newer one came meanwhile. */
  private keep(podId: string, observation: Observation): void {
    if (!this.latest.has(podId)) this.latest.set(podId, observation);
  }

  private async record(pod: PodRecord, observation: Observation): Promise<void> {
    const now = this.ctx.clock.now();
    const settings = this.ctx.restartBackOff ?? KUBELET_BACK_OFF;
    const { change, events } = observation.gone
      ? { change: lostStatus(pod, now), events: [] }
      : observedStatus(pod, observation.pod, settings, now);
    if (canonicalJson(change) === canonicalJson({ phase: pod.phase, ready: pod.ready, status: pod.status })) return;
    await this.ctx.store.updatePodStatus(pod.id, change, { expectedResourceVersion: pod.resourceVersion, nowMs: now });
    const involved = { tenantId: pod.tenantId, namespace: pod.namespace, kind: "Pod", name: pod.name, uid: pod.uid };
    for (const event of events) await recordEvent(this.ctx, involved, event.eventType, event.reason, event.message);
    await enqueueRestarts(this.ctx, pod.id, change, now);
    // A failed image pull: the pod job starts its back-off (src/controllers/imagePull.ts).
    if (hasImagePullError(change.status)) await this.ctx.queue.enqueue("pod", pod.id);
    if (dependentsCare(pod, change)) await enqueuePodDependents(this.ctx, pod);
  }
}

function observedStatus(
  pod: PodRecord,
  observed: ObservedPod,
  settings: BackOffSettings,
  nowMs: number,
): { change: PodStatusChange; events: LifecycleEvent[] } {
  const result = observeContainers({
    pod: { name: pod.name, namespace: pod.namespace, uid: pod.uid },
    podSpec: pod.spec,
    previous: containerStatusesOf(pod.status),
    backOffs: backOffsOf(pod.status),
    observed: observed.containers,
    settings,
  });
  const { reason: _reason, message: _message, ...kept } = pod.status;
  const previous = {
    ...kept,
    ...(observed.podIP ? { podIP: observed.podIP, podIPs: [{ ip: observed.podIP }] } : {}),
    ...(observed.startedAt ? { startTime: new Date(observed.startedAt).toISOString() } : {}),
    ...(observed.reason ? { reason: observed.reason } : {}),
    ...(observed.message ? { message: observed.message } : {}),
  };
  const failed = observed.phase === "Failed";
  const change = podStatusFor(previous, pod.spec, result.containerStatuses, result.backOffs, nowMs, failed);
  return { change, events: result.events };
}

/** The pod vanished from its node without being asked to stop: it failed, and its owner replaces it. */
function lostStatus(pod: PodRecord, nowMs: number): PodStatusChange {
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

/** A container waiting out its back-off gets a `lifecycle` run when the wait ends (the queue keeps the earliest). */
export async function enqueueRestarts(
  ctx: JobContext,
  podId: string,
  change: { status: Record<string, unknown> },
  nowMs: number,
): Promise<void> {
  const plan = restartsDue(containerStatusesOf(change.status), backOffsOf(change.status), nowMs);
  if (plan.due.length > 0) await ctx.queue.enqueue("lifecycle", podId);
  else if (plan.nextAtMs !== undefined) await ctx.queue.enqueue("lifecycle", podId, plan.nextAtMs - nowMs);
}

/** What owners and Services see of a pod changed: readiness, phase, address, restarts. */
function dependentsCare(pod: PodRecord, change: PodStatusChange): boolean {
  const summary = (phase: string, ready: boolean, status: Record<string, unknown>) => {
    const containers = containerStatusesOf(status);
    return canonicalJson({
      phase,
      ready,
      podIP: status.podIP ?? null,
      restarts: containers.map((c) => c.restartCount),
      crashLooping: containers.map((c) => "waiting" in c.state && c.state.waiting.reason === CRASH_LOOP_BACK_OFF),
    });
  };
  return summary(pod.phase, pod.ready, pod.status) !== summary(change.phase, change.ready, change.status);
}

/** The pod's owner and its namespace's Services reconcile again: its readiness, phase or restarts changed. */
export async function enqueuePodDependents(ctx: JobContext, pod: PodRecord): Promise<void> {
  if (pod.ownerKind && pod.ownerName) {
    const owner = { tenantId: pod.tenantId, kind: pod.ownerKind, namespace: pod.namespace, name: pod.ownerName };
    await ctx.queue.enqueue("reconcile", objectKey(owner));
  }
  await enqueueSelecting(ctx, pod.tenantId, pod.namespace);
}
