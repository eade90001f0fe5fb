import {
  backOffsOf,
  type ContainerStatus,
  containerStatusesOf,
  formatDuration,
  podStatusFor,
  withProbeVerdict,
} from "../controllers/podLifecycle.js";
import {
  activeProbes,
  type ContainerProbeSettings,
  type ContainerProbeState,
  isReady,
  isStarted,
  killMessage,
  newContainerProbeState,
  nextProbeAtMs,
  type ProbeKind,
  type ProbeSettings,
  probeFailedMessage,
  probeSettingsOf,
  recordProbe,
} from "../controllers/probes.js";
import type { Json } from "../controllers/types.js";
import { MinHeap } from "../core/heap.js";
import { ConflictError, type PodRecord } from "../db/types.js";
import type { ProbeResult } from "../providers/types.js";
import { recordEvent } from "./apply.js";
import type { JobContext } from "./context.js";
import { enqueuePodDependents, enqueueRestarts, OwnerLooks } from "./observe.js";

export interface ProberOptions {
  /** How often the prober re-reads the running pods and starts the probes that are due. */
  tickMs: number;
  /**
   * Bound on probes running at once; the most overdue go first. One that ends makes room for the
   * next one due at once, not at the next tick: probes that answer in milliseconds are not held to
   * this many per tick, so 5,000 pods probed every 10 s fit in the bound.
   */
  maxProbesPerTick: number;
  /**
   * Look only when told that pods changed (`wake`) or when a probe falls due, still on the ticks'
   * times, instead of at every tick: for a caller that reports every change (the simulator).
   */
  wakeOnly?: boolean;
  /** Until when a run's probes are known to pass; the successes until then are taken as read, not run. */
  forecast?: ProbeForecast;
}

/**
 * When the probes of a running container start to fail, as far as the runtime can tell: `Infinity`
 * when they never will, `undefined` when it cannot say (each probe must then be run). Only a runtime
 * that decides the outcomes itself (the simulated provider) can answer.
 */
export type ProbeForecast = (
  nodeName: string,
  podId: string,
  containerName: string,
  kind: ProbeKind,
) => number | undefined;

/** One run of one container being probed. */
interface Tracked {
  key: string;
  pod: PodRecord;
  containerName: string;
  settings: ContainerProbeSettings;
  state: ContainerProbeState;
  /** A kill was decided but the provider has not yet confirmed it: the next tick asks again. */
  killPending: boolean;
  /** Per kind, when the first probe taken as read (by the forecast) would have run. */
  skippedFrom: Partial<Record<ProbeKind, number>>;
  /** The last refresh that saw this run. */
  seenAt: number;
}

/** One probe of one run, due at `atMs` as the run's state (`state`) said when it was queued. */
interface DueProbe {
  atMs: number;
  key: string;
  kind: ProbeKind;
  tracked: Tracked;
  state: ContainerProbeState;
}

/** Earlier first; at one time, by run, then kind: the most overdue go first, in a fixed order. */
function dueBefore(a: DueProbe, b: DueProbe): boolean {
  if (a.atMs !== b.atMs) return a.atMs < b.atMs;
  if (a.key !== b.key) return a.key < b.key;
  return a.kind < b.kind;
}

/**
 * The kubelet's prober, run by the control plane: every tick it re-reads the
 * running pods, starts the probes that are due (bounded), feeds each result to
 * the pure rules (src/controllers/probes.ts) and applies the verdict — readiness
 * and `started` written to the pod's status with a conditional write, its owner
 * and Services told; a run that failed liveness or startup killed, after which
 * the observed exit is restarted per the restartPolicy and back-off
 * (src/jobs/observe.ts, lifecycle.ts). Probe counters live in memory, as in the
 * kubelet; what they decided lives in the store, and is where a restarted
 * prober starts from. Every timer goes through the injected Clock.
 */
export class Prober {
  private readonly tracked = new Map<string, Tracked>();
  /** Per frozen pod record, the runs it gave at the last refresh that read it (see `runsOf`). */
  private readonly runsByRecord = new WeakMap<PodRecord, { tracked: Tracked; status: ContainerStatus }[]>();
  /** Refreshes so far: a run not seen by the latest one has ended. */
  private refreshes = 0;
  private readonly inFlight = new Map<string, Promise<void>>();
  /** Probes running whose next entry was taken out of the queue meanwhile (`drop`): queued again when they end. */
  private readonly dueAfterFlight = new Set<string>();
  /** The tracked runs' probes, by when they fall due. */
  /**
   * The probes to come, in due order, so a tick finds the probes due without walking every run. An
   * entry whose run or state has changed since is stale, and dropped when it comes up (the change
   * queued the run's probes afresh).
   */
  private readonly due = new MinHeap<DueProbe>(dueBefore);
  /** Readiness changes come in bursts (a rollout's pods turning Ready): their owners look at most once a period. */
  private readonly ownerLooks = new OwnerLooks();
  private cancelTimer: (() => void) | undefined;
  private ticking: Promise<void> | undefined;
  /** Looks (ticks, and early looks at pods that started: `wake` when polling) run one after another, never two at once. */
  private lastLook: Promise<void> = Promise.resolve();
  /** The pods of the early look queued (`earlyLookQueued`) behind the look under way. */
  private startedPods = new Set<string>();
  private earlyLookQueued = false;
  private stopped = false;
  /** When the armed timer fires (`wakeOnly`), and whether a wake came while a tick ran. */
  private armedAtMs: number | undefined;
  private wokenWhileTicking = false;
  /** The ticks' times count from here. */
  private readonly startMs: number;
  /**
   * `wakeOnly`: the pods changed since the last look, which is all the next look re-reads (`all`:
   * any pod may have, as at the start, and every pod is read).
   */
  private changedPods: Set<string> | "all" = "all";
  /** Runs whose kill the provider has not confirmed yet: every look asks again. */
  private readonly killsPending = new Set<Tracked>();
  /** Per pod, the keys of its runs being tracked: what a look at that pod alone replaces. */
  private readonly keysByPod = new Map<string, string[]>();

  constructor(
    private readonly ctx: JobContext,
    private readonly options: ProberOptions,
  ) {
    this.startMs = ctx.clock.now();
  }

  start(): void {
    if (this.options.wakeOnly) this.wake();
    else this.arm();
  }

  /**
   * Pods changed. Woken (`wakeOnly`): look at them at the next tick (`podIds` absent: at every pod).
   * Polling, told of pods just recorded running: look at those now rather than at the next tick, so
   * that a new run's first probe (due at its start, after `initialDelaySeconds`) is not held back by
   * up to a tick, as the kubelet probes a container from its start.
   */
  wake(podIds?: readonly string[]): void {
    if (this.stopped) return;
    if (!this.options.wakeOnly) {
      this.lookEarly(podIds ?? []);
      return;
    }
    this.recheck(podIds);
    if (this.ticking) this.wokenWhileTicking = true;
    else this.armAt(this.tickAtOrAfter(this.ctx.clock.now() + 1));
  }

  /** Polling: an early look at these pods, queued behind the look under way (with those of a look queued already). */
  private lookEarly(podIds: readonly string[]): void {
    if (podIds.length === 0) return;
    for (const id of podIds) this.startedPods.add(id);
    if (this.earlyLookQueued) return;
    this.earlyLookQueued = true;
    void this.oneLookAtATime(async () => {
      this.earlyLookQueued = false;
      const podIds = this.startedPods;
      this.startedPods = new Set();
      if (this.stopped) return;
      await this.refreshPods(podIds, false);
      if (!this.stopped) this.launchDue();
    }).catch((error) => this.ctx.log("prober look failed", { error: String(error) }));
  }

  /** Runs `look` once the looks before it have ended. */
  private oneLookAtATime(look: () => Promise<void>): Promise<void> {
    const next = this.lastLook.then(look);
    this.lastLook = next.catch(() => {});
    return next;
  }

  /**
   * What the forecast said may no longer hold (an image's behaviour changed): every probe taken as
   * read runs again from its next regular time.
   */
  reforecast(): void {
    const now = this.ctx.clock.now();
    for (const tracked of this.tracked.values()) {
      for (const [kind, fromMs] of Object.entries(tracked.skippedFrom) as [ProbeKind, number][]) {
        const probe = tracked.state.probes[kind];
        const periodMs = tracked.settings[kind]?.periodMs ?? 1;
        delete tracked.skippedFrom[kind];
        if (!probe) continue;
        const nextDueAtMs = fromMs + Math.ceil(Math.max(0, now - fromMs) / periodMs) * periodMs;
        this.setState(tracked, {
          ...tracked.state,
          probes: { ...tracked.state.probes, [kind]: { ...probe, nextDueAtMs } },
        });
        this.armForDue(nextDueAtMs);
      }
    }
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.cancelTimer?.();
    await this.ticking;
    await this.lastLook;
    await Promise.allSettled([...this.inFlight.values()]);
  }

  /** One look: re-read what runs, then start the probes that are due. */
  async tick(): Promise<void> {
    await this.refresh();
    if (!this.stopped) this.launchDue();
  }

  private arm(): void {
    if (this.stopped) return;
    this.cancelTimer = this.ctx.clock.setTimer(this.options.tickMs, () => this.runTick());
  }

  private runTick(): void {
    this.armedAtMs = undefined;
    this.ticking = this.oneLookAtATime(() => this.tick())
      .catch((error) => this.ctx.log("prober tick failed", { error: String(error) }))
      .finally(() => {
        this.ticking = undefined;
        if (!this.options.wakeOnly) return this.arm();
        if (this.wokenWhileTicking) {
          this.wokenWhileTicking = false;
          this.wake();
        }
        this.armForDue(this.earliestDueMs());
      });
  }

  /** Arms the timer for `atMs` unless it fires sooner already (`wakeOnly`). */
  private armAt(atMs: number): void {
    if (this.stopped || (this.armedAtMs !== undefined && this.armedAtMs <= atMs)) return;
    this.cancelTimer?.();
    this.armedAtMs = atMs;
    this.cancelTimer = this.ctx.clock.setTimer(atMs - this.ctx.clock.now(), () => this.runTick());
  }

  /** A probe due at `dueAtMs` is started at the first tick from then on (`wakeOnly`). */
  private armForDue(dueAtMs: number | undefined): void {
    if (!this.options.wakeOnly || dueAtMs === undefined || !Number.isFinite(dueAtMs)) return;
    this.armAt(this.tickAtOrAfter(Math.max(dueAtMs, this.ctx.clock.now() + 1)));
  }

  /** The first tick at or after `atMs`: ticks fall every `tickMs` from the start. */
  private tickAtOrAfter(atMs: number): number {
    const { tickMs } = this.options;
    return this.startMs + Math.ceil((atMs - this.startMs) / tickMs) * tickMs;
  }

  /** When the first probe not yet running falls due (stale entries on the way are dropped). */
  private earliestDueMs(): number | undefined {
    for (let next = this.due.peek(); next; next = this.due.peek()) {
      if (this.isQueued(next)) return next.atMs;
      this.drop(next);
    }
    return undefined;
  }

  /**
   * Takes the first entry out of the queue. One that is current but whose probe is still running (its
   * state moved on and queued it before the probe's handling ended: a slow write of its event or
   * verdict) is queued again when that run ends, or the run would never be probed again.
   */
  private drop(entry: DueProbe): void {
    this.due.pop();
    const flightKey = `${entry.key}/${entry.kind}`;
    if (this.isCurrent(entry) && this.inFlight.has(flightKey)) this.dueAfterFlight.add(flightKey);
  }

  /** The run's state changes: its probes are queued by their new times. */
  private setState(tracked: Tracked, state: ContainerProbeState): void {
    tracked.state = state;
    this.queueProbes(tracked);
  }

  /** Queues the run's active probes that will run at some time; stale entries go once they outnumber the live. */
  private queueProbes(tracked: Tracked): void {
    for (const kind of activeProbes(tracked.state)) this.queueProbe(tracked, kind);
    if (this.due.size > 4 * this.tracked.size + 1_024) this.requeueAll();
  }

  private queueProbe(tracked: Tracked, kind: ProbeKind): void {
    const { state, key } = tracked;
    const atMs = state.probes[kind]?.nextDueAtMs;
    if (atMs !== undefined && Number.isFinite(atMs)) this.due.push({ atMs, key, kind, tracked, state });
  }

  private requeueAll(): void {
    const entries: DueProbe[] = [];
    for (const tracked of this.tracked.values()) {
      const { state, key } = tracked;
      for (const kind of activeProbes(state)) {
        const atMs = state.probes[kind]?.nextDueAtMs;
        if (atMs !== undefined && Number.isFinite(atMs)) entries.push({ atMs, key, kind, tracked, state });
      }
    }
    this.due.rebuild(entries);
  }

  /** Still to run as queued: the run is tracked, its state unchanged since, and this probe is not running. */
  private isQueued(entry: DueProbe): boolean {
    return this.isCurrent(entry) && !this.inFlight.has(`${entry.key}/${entry.kind}`);
  }

  /** The run is tracked and its state unchanged since the entry was queued. */
  private isCurrent(entry: DueProbe): boolean {
    return this.tracked.get(entry.key) === entry.tracked && entry.tracked.state === entry.state;
  }

  /** The next look re-reads these pods (`undefined`: every pod). */
  private recheck(podIds: readonly string[] | undefined): void {
    if (podIds === undefined) this.changedPods = "all";
    else if (this.changedPods !== "all") for (const id of podIds) this.changedPods.add(id);
  }

  /**
   * Tracks every running container that has a probe; forgets runs that ended; repairs what a failed
   * write left. Polling, every pod with a probe or a restart back-off is read (no other pod has a
   * run to track or a restart to catch up on); woken (`wakeOnly`), only those that changed since.
   */
  private async refresh(): Promise<void> {
    const changed = this.options.wakeOnly ? this.changedPods : "all";
    this.changedPods = new Set();
    if (changed !== "all") return this.refreshPods(changed);
    const refresh = ++this.refreshes;
    this.keysByPod.clear();
    for (const pod of await this.ctx.store.listPods({ probedOrBackingOff: true })) await this.refreshPod(pod, refresh);
    for (const [key, tracked] of this.tracked) if (tracked.seenAt !== refresh) this.tracked.delete(key);
    for (const tracked of this.killsPending)
      if (this.tracked.get(tracked.key) !== tracked) this.killsPending.delete(tracked);
  }

  /**
   * Re-reads the pods named, forgetting the runs of those that ended; retries the kills still pending
   * (not in an early look, whose probes would wait for them: the next tick's look does).
   */
  private async refreshPods(podIds: ReadonlySet<string>, retryKills = true): Promise<void> {
    const refresh = ++this.refreshes;
    const pods = podIds.size === 0 ? [] : await this.ctx.store.getPods([...podIds]);
    for (const pod of pods) await this.refreshPod(pod, refresh);
    for (const podId of podIds) {
      const keys = this.keysByPod.get(podId) ?? [];
      for (const key of keys) if (this.tracked.get(key)?.seenAt !== refresh) this.tracked.delete(key);
      const kept = keys.filter((key) => this.tracked.has(key));
      if (kept.length > 0) this.keysByPod.set(podId, kept);
      else this.keysByPod.delete(podId);
    }
    if (!retryKills) return;
    for (const tracked of [...this.killsPending]) {
      if (this.tracked.get(tracked.key) === tracked) await this.kill(tracked);
      else this.killsPending.delete(tracked);
    }
  }

  private async refreshPod(pod: PodRecord, refresh: number): Promise<void> {
    if (!pod.nodeName || pod.deletionRequestedAt !== null) return;
    // Level-triggered catch-up: a back-off whose lifecycle job was lost (a restart of the process) still ends.
    await enqueueRestarts(this.ctx, pod.id, pod, this.ctx.clock.now());
    if (pod.phase !== "Running") return;
    const runs = this.runsOf(pod);
    for (const { tracked, status } of runs) {
      tracked.seenAt = refresh;
      // Most runs need no repair: skip the call, and its turn of the microtask queue, for them.
      if (tracked.killPending || this.verdictDiffers(tracked, status)) await this.repair(tracked, status);
    }
    const keys = this.keysByPod.get(pod.id) ?? [];
    for (const { tracked } of runs) if (!keys.includes(tracked.key)) keys.push(tracked.key);
    if (keys.length > 0) this.keysByPod.set(pod.id, keys);
  }

  /**
   * The pod's runs being probed, each with its container status. A record that cannot change (a
   * frozen one, as the in-memory store hands out) whose runs are all still tracked gives what it gave
   * at the last refresh, without reading its statuses and spec again.
   */
  private runsOf(pod: PodRecord): { tracked: Tracked; status: ContainerStatus }[] {
    const known = this.runsByRecord.get(pod);
    if (known?.every(({ tracked }) => this.tracked.get(tracked.key) === tracked)) return known;
    const runs: { tracked: Tracked; status: ContainerStatus }[] = [];
    for (const status of containerStatusesOf(pod.status)) {
      const tracked = this.track(pod, status);
      if (tracked) runs.push({ tracked, status });
    }
    if (Object.isFrozen(pod)) this.runsByRecord.set(pod, runs);
    return runs;
  }

  private track(pod: PodRecord, status: ContainerStatus): Tracked | undefined {
    if (!("running" in status.state) || !status.containerID) return undefined;
    const key = `${pod.id}/${status.name}`;
    const known = this.tracked.get(key);
    // A pod's spec never changes: a run tracked already has its settings, so they are read once per run.
    if (known && known.state.containerID === status.containerID) {
      known.pod = pod;
      return known;
    }
    const spec = ((pod.spec.containers as Json[] | undefined) ?? []).find((c) => c.name === status.name);
    const settings = spec ? probeSettingsOf(spec) : {};
    if (Object.keys(settings).length === 0) return undefined;
    const startedAtMs = Date.parse(status.state.running.startedAt);
    const prior = { ready: status.ready, started: status.started };
    const state = newContainerProbeState(settings, status.containerID, startedAtMs, prior);
    const tracked: Tracked = {
      key,
      pod,
      containerName: status.name,
      settings,
      state,
      killPending: false,
      skippedFrom: {},
      seenAt: 0,
    };
    this.tracked.set(key, tracked);
    this.queueProbes(tracked);
    return tracked;
  }

  /** The stored verdict should match the prober's; a write or kill that failed is tried again. */
  private async repair(tracked: Tracked, status: ContainerStatus): Promise<void> {
    if (tracked.killPending) await this.kill(tracked);
    if (this.verdictDiffers(tracked, status)) await this.writeVerdict(tracked);
  }

  private verdictDiffers(tracked: Tracked, status: ContainerStatus): boolean {
    return isReady(tracked.state) !== status.ready || isStarted(tracked.state) !== status.started;
  }

  /** Starts the probes due now, the most overdue first, as many as there is room for. */
  private launchDue(): void {
    const now = this.ctx.clock.now();
    let room = Math.max(0, this.options.maxProbesPerTick - this.inFlight.size);
    // Bounded: each pass takes one entry out of the heap.
    for (let next = this.due.peek(); room > 0 && next && next.atMs <= now; next = this.due.peek()) {
      this.drop(next);
      if (!this.isQueued(next)) continue;
      room--;
      this.launch(next.tracked, next.kind);
    }
  }

  private launch(tracked: Tracked, kind: ProbeKind): void {
    const flightKey = `${tracked.key}/${kind}`;
    const launchedState = tracked.state;
    const run = this.probe(tracked, kind)
      .catch((error) => this.ctx.log("probe handling failed", { pod: tracked.pod.id, kind, error: String(error) }))
      .finally(() => {
        this.inFlight.delete(flightKey);
        const current = this.tracked.get(tracked.key);
        // A probe that changed nothing (its result came too late, or handling it failed) is due again as it was.
        if (current?.state === launchedState) this.queueProbes(current);
        else if (current && this.dueAfterFlight.has(flightKey) && activeProbes(current.state).includes(kind)) {
          this.queueProbe(current, kind);
        }
        this.dueAfterFlight.delete(flightKey);
        if (current) this.armForDue(nextProbeAtMs(current.state));
        // Room for the next probe due; while a tick runs, its own launch follows its look.
        if (!this.stopped && !this.ticking) this.launchDue();
      });
    this.inFlight.set(flightKey, run);
  }

  private async probe(tracked: Tracked, kind: ProbeKind): Promise<void> {
    const settings = tracked.settings[kind] as ProbeSettings;
    const containerID = tracked.state.containerID;
    const result = await this.runProbe(tracked, kind, settings);
    const current = this.tracked.get(tracked.key);
    // The run ended or was replaced while the probe ran: its result means nothing now.
    if (!current || current.state.containerID !== containerID) return;
    const before = { ready: isReady(current.state), started: isStarted(current.state) };
    const outcome = recordProbe(current.settings, current.state, kind, result?.ok, this.ctx.clock.now());
    this.setState(current, result?.ok ? this.takeAsRead(current, kind, outcome.state) : outcome.state);
    const involved = podInvolved(current.pod);
    if (result && !result.ok) {
      await recordEvent(this.ctx, involved, "Warning", "Unhealthy", probeFailedMessage(kind, result.message));
    }
    if (isReady(current.state) !== before.ready || isStarted(current.state) !== before.started) {
      await this.writeVerdict(current);
    }
    if (outcome.kill) {
      await recordEvent(this.ctx, involved, "Normal", "Killing", killMessage(current.containerName, outcome.kill));
      current.killPending = true;
      this.killsPending.add(current);
      await this.kill(current);
    }
  }

  /**
   * After a success that changed nothing, the successes the forecast promises change nothing either:
   * the next probe run is the first one at or after the time the forecast says they may fail.
   */
  private takeAsRead(tracked: Tracked, kind: ProbeKind, state: ContainerProbeState): ContainerProbeState {
    const forecast = this.options.forecast;
    const probe = state.probes[kind];
    const periodMs = tracked.settings[kind]?.periodMs;
    if (!forecast || !probe || !periodMs || probe.result !== "success" || probe.lastRaw !== "success") return state;
    const untilMs = forecast(tracked.pod.nodeName as string, tracked.pod.id, tracked.containerName, kind);
    if (untilMs === undefined || untilMs <= probe.nextDueAtMs) return state;
    tracked.skippedFrom[kind] = probe.nextDueAtMs;
    const nextDueAtMs = Number.isFinite(untilMs)
      ? probe.nextDueAtMs + Math.ceil((untilMs - probe.nextDueAtMs) / periodMs) * periodMs
      : Number.POSITIVE_INFINITY;
    return { ...state, probes: { ...state.probes, [kind]: { ...probe, nextDueAtMs } } };
  }

  /** The provider's answer, a failure when it does not come within the probe's timeout, undefined when it cannot run. */
  private async runProbe(tracked: Tracked, kind: ProbeKind, settings: ProbeSettings): Promise<ProbeResult | undefined> {
    const { pod } = tracked;
    let cancel = () => {};
    const timeout = new Promise<ProbeResult>((resolve) => {
      cancel = this.ctx.clock.setTimer(settings.timeoutMs, () =>
        resolve({ ok: false, message: `probe timed out after ${formatDuration(settings.timeoutMs)}` }),
      );
    });
    const answer = this.ctx.provider
      .probe(pod.nodeName as string, pod.id, tracked.containerName, kind, settings.spec)
      .catch((error): undefined => {
        this.ctx.log("probe could not run", { pod: pod.id, kind, error: String(error) });
        return undefined;
      });
    try {
      return await Promise.race([answer, timeout]);
    } finally {
      cancel();
    }
  }

  private async kill(tracked: Tracked): Promise<void> {
    const { pod, containerName, state } = tracked;
    try {
      await this.ctx.provider.killContainer(pod.nodeName as string, pod.id, containerName, state.containerID);
      tracked.killPending = false;
      this.killsPending.delete(tracked);
    } catch (error) {
      this.ctx.log("kill failed; will retry", { pod: pod.id, container: containerName, error: String(error) });
    }
  }

  /** Writes the run's `ready` and `started`, and the pod's readiness that follows, with a conditional write. */
  private async writeVerdict(tracked: Tracked): Promise<void> {
    // Woken, the next look compares this pod again, in case the write below does not get through.
    this.recheck([tracked.pod.id]);
    const verdict = { ready: isReady(tracked.state), started: isStarted(tracked.state) };
    for (let attempt = 0; attempt < 5; attempt++) {
      const pod = await this.ctx.store.getPod(tracked.pod.id);
      // Only a running pod's readiness follows its probes: a fenced pod (Unknown) stays not ready until its node is back.
      if (!pod || pod.deletionRequestedAt !== null || pod.phase !== "Running") return;
      const containers = containerStatusesOf(pod.status);
      const next = withProbeVerdict(containers, tracked.containerName, tracked.state.containerID, verdict);
      if (!next) return;
      const now = this.ctx.clock.now();
      const change = podStatusFor(pod.status, pod.spec, next, backOffsOf(pod.status), now);
      try {
        await this.ctx.store.updatePodStatus(pod.id, change, {
          expectedResourceVersion: pod.resourceVersion,
          nowMs: now,
        });
      } catch (error) {
        if (error instanceof ConflictError) continue;
        throw error;
      }
      if (change.ready !== pod.ready || change.phase !== pod.phase)
        await enqueuePodDependents(this.ctx, pod, this.ownerLooks);
      return;
    }
    // The next tick compares again and retries (`repair`).
    this.ctx.log("pod kept changing while its readiness was written", { pod: tracked.pod.id });
  }
}

function podInvolved(pod: PodRecord) {
  return { tenantId: pod.tenantId, namespace: pod.namespace, kind: "Pod", name: pod.name, uid: pod.uid };
}
