import { hasImagePullError } from "../controllers/imagePull.js";
import {
  type BackOffSettings,
  backOffsOf,
  type ContainerStatus,
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
import { canonicalEqual } from "../core/hash.js";
import { ConflictError, type PodRecord } from "../db/types.js";
import type { ObservedPod, ProviderEvent } from "../providers/types.js";
import { recordEvent } from "./apply.js";
import type { JobContext } from "./context.js";
import { objectKey } from "./keys.js";
import { type HandlerResult, retryDelayMs } from "./queue.js";
import { enqueueSelecting } from "./reconcile.js";

type Observation = { gone: false; pod: ObservedPod } | { gone: true; nodeName: string };

/**
 * How the observations a process hears are recorded: by `observe` jobs on the work queue (`queued`),
 * or by the process itself, a batch at a time (`local`), as a kubelet reports its own pods' status.
 * An observation lives in the memory of the process that heard it, so on a queue shared by several
 * processes (BullMQ) a job for it is only overhead: `local` records it with no job at all.
 */
export type ObservationRecording = "queued" | "local";

/**
 * Turns what providers see into pod status. Observations are kept per pod, newest
 * only, and recorded by the `observe` job or the local recorder, so a burst of changes to one pod costs
 * one write; a job records the other observations this process holds with its own,
 * in one read and one write. Container runs are folded in
 * by the kubelet's rules (src/controllers/podLifecycle.ts): a new run counts a
 * restart, an ended run is restarted per the restartPolicy after a back-off,
 * which the `lifecycle` job waits out.
 */
export class Observer {
  private readonly latest = new Map<string, Observation>();
  private readonly ownerLooks = new OwnerLooks();
  /** `local`: the batch being recorded, if any, and the timer of the next, if armed. */
  private flushing: Promise<void> | undefined;
  private cancelFlush: (() => void) | undefined;
  /** `local`: recordings that failed in a row (the next waits `retryDelayMs` of it). */
  private failures = 0;
  /**
   * What follows statuses already written (events, restarts, telling owners and Services) that failed
   * part way: owed, and done again before the next recording. The observations themselves are not
   * kept, for their statuses are stored: recorded again, they would change nothing and tell no one.
   */
  private owed: Recorded[] = [];
  private closed = false;

  /** `onRunning`: told of the pods whose recorded status is Running, once that status is written. */
  constructor(
    private readonly ctx: JobContext,
    private readonly recording: ObservationRecording = "queued",
    private readonly onRunning?: (podIds: string[]) => void,
  ) {}

  onProviderEvent = (event: ProviderEvent): void => {
    if (event.type !== "pod" && event.type !== "podGone") return;
    const observation: Observation =
      event.type === "pod" ? { gone: false, pod: event.pod } : { gone: true, nodeName: event.nodeName };
    const podId = event.type === "pod" ? event.pod.podId : event.podId;
    this.latest.set(podId, observation);
    if (this.recording === "local") this.flushAfter(LOCAL_GATHER_MS);
    else void this.ctx.queue.enqueue("observe", podId);
  };

  /** `local`: records what it holds after `delayMs`, unless a recording is under way or armed (it looks again after). */
  private flushAfter(delayMs: number): void {
    if (this.closed || this.flushing || this.cancelFlush) return;
    this.cancelFlush = this.ctx.clock.setTimer(delayMs, () => {
      this.cancelFlush = undefined;
      this.flushing = this.flush().finally(() => {
        this.flushing = undefined;
        if (this.latest.size > 0 || this.owed.length > 0) {
          this.flushAfter(this.failures > 0 ? retryDelayMs(this.failures) : LOCAL_GATHER_MS);
        }
      });
    });
  }

  /**
   * `local`: records every observation held, a batch at a time. A pod that changed between its read
   * and its write is read again with the others that did, a few rounds at most; what is left, and a
   * batch whose recording failed, stays for the next recording.
   */
  private async flush(drain = false): Promise<void> {
    let batch = new Map<string, Observation>();
    try {
      await this.payOwed();
      while ((drain || !this.closed) && this.latest.size > 0) {
        batch = this.take(this.latest.keys().next().value as string);
        for (let round = 0; batch.size > 0; round++) {
          const stale = await this.recordBatch(batch);
          batch = new Map();
          for (const [id, observation] of stale) this.keep(id, observation);
          if (round + 1 >= LOCAL_ROUNDS) return;
          for (const id of stale.keys()) batch.set(id, this.latest.get(id) as Observation);
          for (const id of stale.keys()) this.latest.delete(id);
        }
        this.failures = 0;
      }
    } catch (error) {
      for (const [id, observation] of batch) this.keep(id, observation);
      this.failures++;
      this.ctx.log("recording observations failed; retrying", { error: String(error) });
    }
  }

  /**
   * Hears nothing more (the caller unsubscribed it). `local`: waits for the recording under way, then
   * records what is still held, once: the process that heard an observation is the only one that
   * holds it. What even that fails to record waits for the resync, whose pod jobs ask each pod's node again.
   */
  async close(): Promise<void> {
    this.closed = true;
    this.cancelFlush?.();
    this.cancelFlush = undefined;
    await this.flushing;
    if (this.recording !== "local" || this.latest.size === 0) return;
    this.failures = 0;
    this.flushing = this.flush(true);
    await this.flushing;
    this.flushing = undefined;
  }

  /**
   * Records the pod's observation together with others this process holds (their own jobs then find
   * nothing left to do): the pods are read in one query and their statuses written in one
   * conditional write. A pod that changed between the two is recorded on its own, re-read and retried.
   */
  job = async (podId: string): Promise<HandlerResult | undefined> => {
    await this.payOwed();
    if (!this.latest.has(podId)) return undefined;
    const batch = this.take(podId);

    let own: HandlerResult | undefined;
    try {
      const stale = await this.recordBatch(batch);
      batch.clear();
      for (const [id, observation] of stale) {
        this.keep(id, observation);
        const result = await this.recordOne(id);
        if (!result) continue;
        // Another pod's retry is that pod's own job's.
        if (id === podId) own = result;
        else await this.ctx.queue.enqueue("observe", id, result.requeueAfterMs);
      }
    } catch (error) {
      for (const [id, observation] of batch) this.keep(id, observation);
      throw error;
    }
    return own;
  };

  /** The pod's observation and up to `OBSERVE_BATCH - 1` others, in the order they came, taken out. */
  private take(podId: string): Map<string, Observation> {
    const batch = new Map<string, Observation>([[podId, this.latest.get(podId) as Observation]]);
    this.latest.delete(podId);
    for (const [id, observation] of this.latest) {
      if (batch.size >= OBSERVE_BATCH) break;
      batch.set(id, observation);
      this.latest.delete(id);
    }
    return batch;
  }

  /** Records a batch; answers the observations of pods that changed since they were read. */
  private async recordBatch(batch: Map<string, Observation>): Promise<Map<string, Observation>> {
    const pods = new Map((await this.ctx.store.getPods([...batch.keys()])).map((p) => [p.id, p]));
    const now = this.ctx.clock.now();
    const planned: Recorded[] = [];
    for (const [podId, observation] of batch) {
      const pod = pods.get(podId);
      if (!pod) {
        // Running but unknown to the store: nothing asked for it, so it goes.
        if (!observation.gone) await this.stopUnknown(observation.pod.nodeName, podId);
        continue;
      }
      if (!recordable(pod, observation)) continue;
      const { change, events } = this.statusOf(pod, observation, now);
      if (canonicalEqual(change, { phase: pod.phase, ready: pod.ready, status: pod.status })) continue;
      planned.push({ pod, change, events, atMs: now });
    }
    const writes = planned.map(({ pod, change }) => ({
      id: pod.id,
      change,
      expectedResourceVersion: pod.resourceVersion,
    }));
    const written = new Set((await this.ctx.store.updatePodStatuses(writes, now)).map((p) => p.id));
    const stale = new Map<string, Observation>();
    for (const { pod } of planned) if (!written.has(pod.id)) stale.set(pod.id, batch.get(pod.id) as Observation);
    await this.followUp(planned.filter(({ pod }) => written.has(pod.id)));
    return stale;
  }

  /** What follows written statuses; what fails of it is owed (`owed`), and the error thrown. */
  private async followUp(recorded: Recorded[]): Promise<void> {
    if (recorded.length === 0) return;
    try {
      const dependents = new Dependents(this.ownerLooks);
      for (const { pod, change, events, atMs } of recorded)
        await this.afterWrite(pod, change, events, atMs, dependents);
      await dependents.enqueue(this.ctx);
    } catch (error) {
      this.owed.push(...recorded);
      throw error;
    }
    const running = recorded.filter(({ change }) => change.phase === "Running").map(({ pod }) => pod.id);
    if (running.length > 0) this.onRunning?.(running);
  }

  /** Does again what followed statuses written before and failed. */
  private async payOwed(): Promise<void> {
    if (this.owed.length === 0) return;
    await this.followUp(this.owed.splice(0));
  }

  /** One pod's observation, on its own: read, write conditionally, re-read on a race (bounded). */
  private async recordOne(podId: string): Promise<HandlerResult | undefined> {
    const observation = this.latest.get(podId);
    if (!observation) return undefined;
    this.latest.delete(podId);
    try {
      for (let attempt = 0; attempt < 5; attempt++) {
        const pod = await this.ctx.store.getPod(podId);
        if (!pod) {
          if (!observation.gone) await this.stopUnknown(observation.pod.nodeName, podId);
          return undefined;
        }
        if (!recordable(pod, observation)) return undefined;
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
  }

  /**
   * Stops a pod the store does not know. One that cannot be stopped now (its node out of reach) is
   * stopped at its next report: its failure is not the batch's, whose other pods are recorded.
   */
  private async stopUnknown(nodeName: string, podId: string): Promise<void> {
    try {
      await this.ctx.provider.stopPod(nodeName, podId);
    } catch (error) {
      this.ctx.log("stopping a pod unknown to the store failed; its next report tries again", {
        podId,
        nodeName,
        error: String(error),
      });
    }
  }

  /** An observation not yet recorded stays for the retry, unless a newer one came meanwhile. */
  private keep(podId: string, observation: Observation): void {
    if (!this.latest.has(podId)) this.latest.set(podId, observation);
  }

  private async record(pod: PodRecord, observation: Observation): Promise<void> {
    const now = this.ctx.clock.now();
    const { change, events } = this.statusOf(pod, observation, now);
    if (canonicalEqual(change, { phase: pod.phase, ready: pod.ready, status: pod.status })) return;
    await this.ctx.store.updatePodStatus(pod.id, change, { expectedResourceVersion: pod.resourceVersion, nowMs: now });
    await this.followUp([{ pod, change, events, atMs: now }]);
  }

  private statusOf(
    pod: PodRecord,
    observation: Observation,
    nowMs: number,
  ): { change: PodStatusChange; events: LifecycleEvent[] } {
    const settings = this.ctx.restartBackOff ?? KUBELET_BACK_OFF;
    return observation.gone
      ? { change: lostStatus(pod, nowMs), events: [] }
      : observedStatus(pod, observation.pod, settings, nowMs);
  }

  /** What follows a recorded status: its events, restarts, a pull back-off, and who depends on the pod. */
  private async afterWrite(
    pod: PodRecord,
    change: PodStatusChange,
    events: LifecycleEvent[],
    nowMs: number,
    dependents: Dependents,
  ): Promise<void> {
    const involved = { tenantId: pod.tenantId, namespace: pod.namespace, kind: "Pod", name: pod.name, uid: pod.uid };
    for (const event of events) await recordEvent(this.ctx, involved, event.eventType, event.reason, event.message);
    await enqueueRestarts(this.ctx, pod.id, change, nowMs);
    // A failed image pull: the pod job starts its back-off (src/controllers/imagePull.ts).
    if (hasImagePullError(change.status)) await this.ctx.queue.enqueue("pod", pod.id);
    dependents.add(pod, whoCares(pod, change));
  }
}

/** A status written from an observation, with what follows it. */
interface Recorded {
  pod: PodRecord;
  change: PodStatusChange;
  events: LifecycleEvent[];
  atMs: number;
}

/** Observations recorded by one `observe` job, or one local write, at most. */
const OBSERVE_BATCH = 256;
/** `local`: how long observations gather before a recording, when none is under way. */
const LOCAL_GATHER_MS = 5;
/** `local`: reads of one batch's pods that changed meanwhile, before they wait for the next recording. */
const LOCAL_ROUNDS = 5;

/** Whether an observation may still change the pod: not one being deleted, nor an ended one brought back. */
function recordable(pod: PodRecord, observation: Observation): boolean {
  if (pod.deletionRequestedAt !== null) return false;
  if (observation.gone) return true;
  // An ended pod stays ended: a late report of a lost pod's containers never brings it back.
  if (pod.phase === "Failed" || pod.phase === "Succeeded") return false;
  // Nor does a pod go back to Pending once it ran. Every worker holds the observations of every pod
  // and they record them in no set order, so one may hold a report older than what another recorded.
  return !(pod.phase === "Running" && observation.pod.phase === "Pending");
}

/** The owners and namespaces of pods whose change others see, each told once however many of its pods changed. */
class Dependents {
  /** Owners' keys, with how many of their pods changed. */
  private readonly owners = new Map<string, number>();
  private readonly namespaces = new Map<string, { tenantId: string; namespace: string }>();

  constructor(private readonly looks: OwnerLooks) {}

  add(pod: PodRecord, told: { owner: boolean; selecting: boolean }): void {
    if (told.owner && pod.ownerKind && pod.ownerName) {
      const key = objectKey({
        tenantId: pod.tenantId,
        kind: pod.ownerKind,
        namespace: pod.namespace,
        name: pod.ownerName,
      });
      this.owners.set(key, (this.owners.get(key) ?? 0) + 1);
    }
    if (told.selecting) {
      this.namespaces.set(`${pod.tenantId}/${pod.namespace}`, { tenantId: pod.tenantId, namespace: pod.namespace });
    }
  }

  async enqueue(ctx: JobContext): Promise<void> {
    const nowMs = ctx.clock.now();
    for (const [key, changed] of this.owners) {
      await ctx.queue.enqueue("reconcile", key, this.looks.delayMs(key, nowMs, changed >= OWNER_BURST));
    }
    for (const { tenantId, namespace } of this.namespaces.values()) await enqueueSelecting(ctx, tenantId, namespace);
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

/**
 * Who is told of a recorded change: the pod's owner when what it counts of the pod changed (readiness,
 * whether it ended, its restarts in all, whether it crash-loops: the pod's view, `src/jobs/views.ts`),
 * the namespace's Services and budgets when what they select on changed (phase, readiness, address).
 * A pod's containers first reported (restarts none → 0) tell no one, and its start (Pending → Running,
 * not yet Ready) tells only the Services, which list its address as not ready.
 */
function whoCares(pod: PodRecord, change: PodStatusChange): { owner: boolean; selecting: boolean } {
  const before = containerStatusesOf(pod.status);
  const after = containerStatusesOf(change.status);
  const ended = (phase: string) => phase === "Failed" || phase === "Succeeded";
  const restarts = (containers: ContainerStatus[]) => containers.reduce((n, c) => n + c.restartCount, 0);
  const crashLooping = (containers: ContainerStatus[]) =>
    containers.some((c) => "waiting" in c.state && c.state.waiting.reason === CRASH_LOOP_BACK_OFF);
  const readiness = pod.ready !== change.ready;
  return {
    owner:
      readiness ||
      ended(pod.phase) !== ended(change.phase) ||
      restarts(before) !== restarts(after) ||
      crashLooping(before) !== crashLooping(after),
    selecting: readiness || pod.phase !== change.phase || (pod.status.podIP ?? null) !== (change.status.podIP ?? null),
  };
}

/**
 * How long an owner waits to look at its pods after a burst of them changed (`OWNER_BURST` or more
 * recorded by one job, as when a 10,000-replica rollout's pods turn Running): the changes of a burst
 * come together to one look, not one each, since a look reads all of the owner's pods. The pods
 * themselves are not held up, only the owner's status; a change outside a burst is looked at at once.
 */
export const OWNER_LOOK_MS = 1_000;
const OWNER_BURST = 16;
/** Owners `OwnerLooks` remembers before it forgets those whose last look is over (the bound doubles with what it keeps). */
const OWNER_LOOKS_KEPT = 1_000;

/**
 * When an owner looks at its pods after some of them changed: at once after a quiet while, but at
 * most once per `OWNER_LOOK_MS` while changes keep coming (pods starting one after another, each
 * turning Running, then Ready): the changes after a look wait for the next one, due a period after
 * it, which sees them all, since a look reads all of the owner's pods. So a pod that fails alone is
 * replaced at once, and a 1,000-replica start is a look a second per owner, not one per pod change.
 * A burst recorded together (`OWNER_BURST` pods or more) waits a period in any case.
 */
export class OwnerLooks {
  /** Per owner, when its latest look was asked for (a time to come when it waits). */
  private readonly lastLookMs = new Map<string, number>();
  private kept = OWNER_LOOKS_KEPT;

  /** The delay of the owner's look at a change of its pods now; remembered as its latest look. */
  delayMs(ownerKey: string, nowMs: number, burst = false): number {
    const last = this.lastLookMs.get(ownerKey);
    // A look still to come sees this change too.
    let atMs = last !== undefined && last > nowMs ? last : Math.max(nowMs, (last ?? -Infinity) + OWNER_LOOK_MS);
    if (burst) atMs = Math.max(atMs, nowMs + OWNER_LOOK_MS);
    if (this.lastLookMs.size >= this.kept) {
      this.forgetBefore(nowMs - OWNER_LOOK_MS);
      this.kept = Math.max(OWNER_LOOKS_KEPT, 2 * this.lastLookMs.size);
    }
    this.lastLookMs.set(ownerKey, atMs);
    return atMs - nowMs;
  }

  /** Bounded memory: an owner whose latest look is a period past looks at once anyway. */
  private forgetBefore(ms: number): void {
    for (const [key, atMs] of this.lastLookMs) if (atMs <= ms) this.lastLookMs.delete(key);
  }
}

/** The pod's owner (see `OwnerLooks`) and its namespace's Services reconcile again: its readiness, phase or restarts changed. */
export async function enqueuePodDependents(ctx: JobContext, pod: PodRecord, looks?: OwnerLooks): Promise<void> {
  if (pod.ownerKind && pod.ownerName) {
    const owner = { tenantId: pod.tenantId, kind: pod.ownerKind, namespace: pod.namespace, name: pod.ownerName };
    const key = objectKey(owner);
    await ctx.queue.enqueue("reconcile", key, looks?.delayMs(key, ctx.clock.now()) ?? 0);
  }
  await enqueueSelecting(ctx, pod.tenantId, pod.namespace);
}
