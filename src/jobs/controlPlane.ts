import type { ProviderEvent } from "../providers/types.js";
import { type AutoscaleOptions, autoscalerFor } from "./autoscaler.js";
import type { JobContext } from "./context.js";
import { parseObjectKey } from "./keys.js";
import { LeaderElector } from "./leader.js";
import { lifecycleJob } from "./lifecycle.js";
import { NodeMonitor, type PushedHeartbeats } from "./nodeMonitor.js";
import { syncNodes } from "./nodes.js";
import { type ObservationRecording, Observer } from "./observe.js";
import { type ProbeForecast, Prober } from "./prober.js";
import { rebalance } from "./rebalance.js";
import { reconcileJob } from "./reconcile.js";
import { OutboxRelay } from "./relay.js";
import { resyncAll } from "./resync.js";
import { edgeReach, type RoutePublisher, RoutingSync, type SyncOutcome } from "./routing.js";
import { scheduleJob } from "./schedulePod.js";
import { ServiceProxySync } from "./serviceProxies.js";
import { syncPodJob } from "./syncPod.js";

export interface ControlPlaneOptions {
  concurrency?: number;
  outboxPollMs?: number;
  resyncMs?: number;
  heartbeatMs?: number;
  /** A node silent this long goes NotReady and its pods are declared lost (Kubernetes waits ~40 s, then 5 min). */
  nodeGracePeriodMs?: number;
  /** How often the node monitor looks. */
  nodeMonitorMs?: number;
  /** How often the prober looks for due probes (500 ms when absent), and how many probes run at once at most (100). */
  probeTickMs?: number;
  maxProbesPerTick?: number;
  /** Node autoscaling, when the provider can add and remove nodes; off when absent. */
  autoscale?: AutoscaleOptions;
  /** How often the rebalancer looks for skewed topology spread (10 s), and how many pods one look moves at most (2; 0 turns it off). */
  rebalanceMs?: number;
  maxMovesPerRebalance?: number;
  /**
   * How the periodic duties learn what changed. `poll` (the default, and production): heartbeats,
   * the node monitor and the prober look on their timers, and the resync and the outbox relay poll.
   * `push`, for a provider that reports every change it makes (the simulated one, in the simulator):
   * a node is heard from until it reports itself silent, so heartbeats are not polled and the node
   * monitor looks when a silence outlasts the grace period (and again each `nodeMonitorMs` while it
   * has work); the prober looks when told that pods changed (`podsChanged`) or when a probe falls
   * due; the rebalancer at its next period after a pod or a node changed, not every period; the
   * periodic resync runs only when `resyncMs` is given; the relay, kicked after every
   * commit, polls every `outboxPollMs` (60 s) as a safety net. The rules applied are the same.
   */
  changes?: "poll" | "push";
  /** With `push`: until when running containers' probes are known to pass (see `ProbeForecast`). */
  probeForecast?: ProbeForecast;
  /**
   * The reverse proxy to keep on the route table (src/jobs/routing.ts): synced after every change of
   * a Service (its endpoints) or an Ingress, and every `syncMs` (1 s) in case a change was missed.
   * What it serves is recorded for rollouts when the job context has `routing` (src/jobs/rotation.ts).
   */
  routing?: { publisher: RoutePublisher; syncMs?: number; onOutcome?: (outcome: SyncOutcome) => void };
  /**
   * How often tenants' Service proxies are synced as a safety net (2 s), where the provider runs them
   * (`NodeProvider.serviceProxies`); a Service's reconcile syncs its tenant's at once.
   */
  serviceProxySyncMs?: number;
  /**
   * How the provider's observations are recorded (src/jobs/observe.ts): by `observe` jobs (`queued`,
   * the default), or by this process, a batch at a time (`local`), which a queue shared by several
   * processes wants: the observations are in this process's memory anyway.
   */
  observations?: ObservationRecording;
  /**
   * Several processes on one store (`kubernease worker`): the singleton duties (outbox relay,
   * heartbeats and the node monitor, probing, autoscaling, rebalancing, routing, and the periodic
   * resync unless the queue repeats it) run only in the process holding the `control-plane` lease
   * (src/jobs/leader.ts); every process runs jobs.
   * Absent: this process is the only one and runs them all.
   */
  leader?: { holder: string; ttlMs?: number };
}

/** The default periods (ms) of the periodic duties. */
const HEARTBEAT_MS = 2_000;
const NODE_MONITOR_MS = 1_000;
const RESYNC_MS = 30_000;
const REBALANCE_MS = 10_000;
/** The `periodic` queue's key of the resync's repeatable job. */
const RESYNC_KEY = "resync";
/** How long the control-plane lease lasts unless renewed (renewed every third of it). */
const LEASE_TTL_MS = 15_000;

/**
 * The workers of one process: job handlers on the queue, the outbox relay, the
 * provider's observations, node heartbeats and the periodic resync. `serve` runs
 * one of these beside the API.
 */
export class ControlPlane {
  private readonly observer: Observer;
  /** The singleton duties while this process runs them (always, or while it leads); null otherwise. */
  private duties: Duties | null = null;
  private readonly elector: LeaderElector | undefined;
  private readonly cancels: (() => void)[] = [];
  private stopped = false;

  constructor(
    private readonly ctx: JobContext,
    private readonly options: ControlPlaneOptions = {},
  ) {
    // Polling, a pod recorded running is looked at by the prober at once (`push` wakes it at every change).
    const running = options.changes === "push" ? undefined : (podIds: string[]) => this.duties?.prober.wake(podIds);
    this.observer = new Observer(ctx, options.observations, running);
    this.startMs = ctx.clock.now();
    const leader = options.leader;
    this.elector = leader
      ? new LeaderElector(ctx.store, ctx.clock, {
          name: "control-plane",
          holder: leader.holder,
          ttlMs: leader.ttlMs ?? LEASE_TTL_MS,
          onElected: (term) => {
            ctx.log("leading the control plane", { holder: leader.holder, term });
            void this.startDuties().catch((error) => ctx.log("starting duties failed", { error: String(error) }));
          },
          onDeposed: () => {
            ctx.log("no longer leading the control plane", { holder: leader.holder });
            void this.stopDuties();
          },
          log: ctx.log,
        })
      : undefined;
  }

  /** Fresh duties for a term: a new leader starts from its own look, not from a former term's memory. */
  private newDuties(): Duties {
    const { ctx, options } = this;
    const pushed = options.changes === "push";
    const routing = options.routing;
    return {
      stopped: false,
      cancels: [],
      rebalance: { armed: null, pass: Promise.resolve() },
      relay: new OutboxRelay(ctx.store, ctx.queue, ctx.clock, {
        pollMs: options.outboxPollMs ?? (pushed ? 60_000 : 500),
        batch: 200,
        onError: (error: unknown) => ctx.log("outbox relay failed", { error: String(error) }),
      }),
      monitor: pushed
        ? new NodeMonitor(ctx, options.nodeGracePeriodMs ?? 5_000, this.heard)
        : new NodeMonitor(ctx, options.nodeGracePeriodMs ?? 5_000, undefined, options.heartbeatMs ?? HEARTBEAT_MS),
      prober: new Prober(ctx, {
        tickMs: options.probeTickMs ?? 500,
        maxProbesPerTick: options.maxProbesPerTick ?? 100,
        ...(pushed ? { wakeOnly: true } : {}),
        ...(pushed && options.probeForecast ? { forecast: options.probeForecast } : {}),
      }),
      services: ctx.provider.serviceProxies
        ? new ServiceProxySync(ctx.store, ctx.provider.serviceProxies, ctx.clock, { log: ctx.log })
        : undefined,
      routing: routing
        ? new RoutingSync(ctx.store, routing.publisher, {
            ...(routing.onOutcome ? { onOutcome: routing.onOutcome } : {}),
            reach: () => edgeReach(ctx.store, ctx.provider),
            clock: ctx.clock,
            ...(ctx.routing ? { status: { store: ctx.store, clock: ctx.clock, rng: ctx.rng.fork("routing") } } : {}),
          })
        : undefined,
    };
  }

  /** The route sync while this process runs the duties and a proxy is configured. */
  get routing(): RoutingSync | undefined {
    return this.duties?.routing;
  }

  /** Whether this process runs the singleton duties now. */
  get leading(): boolean {
    return this.duties !== null;
  }

  /** When the duties' periods count from. */
  private readonly startMs: number;
  /** `push`: the last heartbeat of each node that reported itself silent; the others are heard from now. */
  private readonly silentSince = new Map<string, number>();
  private readonly heard: PushedHeartbeats = {
    lastHeartbeatAt: (node, nowMs) => this.silentSince.get(node.name) ?? nowMs,
  };
  /** `push`: the node monitor's next look, when one is armed. */
  private monitorAtMs: number | undefined;
  private cancelMonitor: () => void = () => {};

  async start(): Promise<void> {
    const { queue } = this.ctx;
    const concurrency = this.options.concurrency ?? 8;
    queue.register(
      "reconcile",
      async (key) => {
        const result = await reconcileJob(this.ctx, key);
        // A Service's reconcile writes its endpoints; an Ingress names routes.
        // Only where the duties run: elsewhere the leader's next periodic sync takes the change.
        const routing = this.routing;
        if (routing && (key.startsWith("Service/") || key.startsWith("Ingress/"))) void routing.kick();
        const services = this.duties?.services;
        if (services && key.startsWith("Service/")) void services.kick(parseObjectKey(key)?.tenantId);
        return result;
      },
      { concurrency },
    );
    // Placing is one at a time per process (src/jobs/schedulePod.ts); the jobs that find their pod placed run side by side.
    queue.register("schedule", (key) => scheduleJob(this.ctx, key), { concurrency });
    queue.register("pod", (key) => syncPodJob(this.ctx, key), { concurrency });
    if (this.options.observations !== "local") queue.register("observe", this.observer.job, { concurrency });
    this.cancels.push(this.ctx.provider.subscribe(this.observer.onProviderEvent));
    // A node that joins or leaves is registered at once, not at the next heartbeat.
    this.cancels.push(
      this.ctx.provider.subscribe((event) => {
        if (event.type === "node" || event.type === "nodeGone") this.syncNodesSoon();
      }),
    );
    queue.register("lifecycle", (key) => lifecycleJob(this.ctx, key), { concurrency });
    await this.repeatResync();
    if (this.options.changes === "push") {
      this.cancels.push(this.ctx.provider.subscribe((event) => this.onNodeReport(event)));
    }
    if (this.elector) this.elector.start();
    else await this.startDuties();
  }

  private resyncMs(): number | undefined {
    return this.options.resyncMs ?? (this.options.changes === "push" ? undefined : RESYNC_MS);
  }

  /**
   * On a queue that outlives processes (BullMQ), the periodic resync is a repeatable job rather than
   * the leader's timer: every process asks for the one schedule, and whichever takes a run does it,
   * so the resync goes on while no process leads (a leader killed, its lease not yet expired).
   * The leader still resyncs once when its term begins.
   */
  private async repeatResync(): Promise<void> {
    const { queue } = this.ctx;
    const resyncMs = this.resyncMs();
    if (!queue.repeat || resyncMs === undefined) return;
    queue.register("periodic", async (key) => {
      if (key === RESYNC_KEY) await resyncAll(this.ctx);
      return undefined;
    });
    await queue.repeat("periodic", RESYNC_KEY, resyncMs);
  }

  /** Starts the singleton duties (nothing when they run already). */
  private async startDuties(): Promise<void> {
    if (this.duties || this.stopped) return;
    const duties = this.newDuties();
    this.duties = duties;
    const every = (ms: number, task: () => Promise<void>) => this.every(ms, task, duties.cancels);
    duties.prober.start();
    const pushed = this.options.changes === "push";
    const passMs = this.ctx.clock.now();
    if ((await syncNodes(this.ctx)) && pushed) this.syncNodesLater();
    // The first heartbeat pass of the term.
    duties.monitor.heartbeat(true, passMs);
    // Stopped (deposed) while it waited: what starts after a wait would outlive its term.
    if (duties.stopped) return;
    if (!pushed) {
      every(this.options.heartbeatMs ?? HEARTBEAT_MS, () => this.heartbeat(duties.monitor));
      every(this.options.nodeMonitorMs ?? NODE_MONITOR_MS, async () => void (await duties.monitor.look()));
    }
    duties.relay.start();
    await resyncAll(this.ctx);
    if (duties.stopped) return;
    const resyncMs = this.resyncMs();
    if (resyncMs !== undefined && !this.ctx.queue.repeat) every(resyncMs, () => resyncAll(this.ctx));
    const autoscaler = autoscalerFor(this.ctx, this.options.autoscale);
    if (autoscaler) every(autoscaler.intervalMs, autoscaler.look);
    if (this.maxMoves > 0 && !pushed) every(this.options.rebalanceMs ?? REBALANCE_MS, () => this.rebalancePass());
    if (pushed) {
      duties.cancels.push(() => duties.rebalance.armed?.());
      this.rebalanceSoon();
    }
    if (duties.services) {
      void duties.services.kick();
      duties.cancels.push(duties.services.start(this.options.serviceProxySyncMs ?? 2_000));
    }
    if (duties.routing) {
      void duties.routing.kick();
      duties.cancels.push(duties.routing.start(this.ctx.clock, this.options.routing?.syncMs ?? 1_000));
    }
  }

  /** Stops the singleton duties and waits for what they were doing (a stop under way included). */
  private stopDuties(): Promise<void> {
    const duties = this.duties;
    if (!duties) return this.dutiesStopping;
    this.duties = null;
    duties.stopped = true;
    for (const cancel of duties.cancels) cancel();
    this.dutiesStopping = (async () => {
      await duties.services?.stop();
      await duties.routing?.stop();
      await duties.relay.stop();
      await duties.prober.stop();
    })();
    return this.dutiesStopping;
  }

  private dutiesStopping: Promise<void> = Promise.resolve();

  private nodeSync: Promise<void> = Promise.resolve();

  /**
   * `push`: pods changed (those named, or any when `podIds` is absent); the prober looks at them at its
   * next tick, and the rebalancer at its next period.
   */
  podsChanged(podIds?: readonly string[]): void {
    if (this.options.changes !== "push") return;
    this.duties?.prober.wake(podIds);
    this.rebalanceSoon();
  }

  /** Pods the rebalancer may mark to move in one pass; 0 turns it off. */
  private get maxMoves(): number {
    return this.options.maxMovesPerRebalance ?? 2;
  }

  private async rebalancePass(): Promise<void> {
    await rebalance(this.ctx, this.maxMoves);
  }

  /**
   * `push`: the rebalancer's next pass, at its next period (every `rebalanceMs` from the start), armed
   * by a change (a pod written, a node heard from) rather than run every period. A pass reads nothing
   * but the store, so one with nothing written since a pass that moved nothing would move nothing
   * either (and a move is a write: it arms the next). One pass at a time: a pass whose period comes
   * while the last one still runs follows it.
   */
  private rebalanceSoon(): void {
    const duties = this.duties;
    if (!duties || duties.stopped || this.options.changes !== "push" || this.maxMoves <= 0) return;
    const state = duties.rebalance;
    if (state.armed) return;
    const nowMs = this.ctx.clock.now();
    const atMs = this.onPeriod(nowMs, this.options.rebalanceMs ?? REBALANCE_MS, "after");
    state.armed = this.ctx.clock.setTimer(atMs - nowMs, () => {
      state.armed = null;
      state.pass = state.pass
        .then(() => (duties.stopped ? undefined : this.rebalancePass()))
        .catch((error) => this.ctx.log("periodic task failed", { error: String(error) }));
    });
  }

  /** `push`: what the probe forecast said may have changed (an image's behaviour did). */
  probesChanged(): void {
    if (this.options.changes === "push") this.duties?.prober.reforecast();
  }

  /**
   * `push`: a node that reports itself silent last answered at the heartbeat before (heartbeats fall
   * every `heartbeatMs` from the start); the monitor looks at its first look after the grace period.
   */
  private onNodeReport(event: ProviderEvent): void {
    // A node that joins, leaves, falls silent or answers again changes where pods may go.
    if (event.type === "node" || event.type === "nodeGone") this.rebalanceSoon();
    if (event.type === "nodeGone") this.silentSince.delete(event.nodeName);
    if (event.type !== "node") return;
    if (event.node.ready) {
      this.silentSince.delete(event.node.name);
      return;
    }
    if (this.silentSince.has(event.node.name)) return;
    const lastMs = this.onPeriod(event.atMs, this.options.heartbeatMs ?? HEARTBEAT_MS, "at or before");
    this.silentSince.set(event.node.name, lastMs);
    const graceMs = this.options.nodeGracePeriodMs ?? 5_000;
    this.monitorAt(this.onPeriod(lastMs + graceMs, this.options.nodeMonitorMs ?? NODE_MONITOR_MS, "after"));
  }

  /** The time of a duty of period `periodMs` at or before, or strictly after, `atMs`. */
  private onPeriod(atMs: number, periodMs: number, where: "at or before" | "after"): number {
    const periods = Math.floor((atMs - this.startMs) / periodMs);
    return this.startMs + (where === "after" ? periods + 1 : periods) * periodMs;
  }

  /** `push`: the node monitor looks at `atMs` (or sooner, if a look is armed sooner), and again while it has work. */
  private monitorAt(atMs: number): void {
    if (this.stopped || (this.monitorAtMs !== undefined && this.monitorAtMs <= atMs)) return;
    this.cancelMonitor();
    this.monitorAtMs = atMs;
    this.cancelMonitor = this.ctx.clock.setTimer(atMs - this.ctx.clock.now(), () => {
      this.monitorAtMs = undefined;
      const monitor = this.duties?.monitor;
      if (!monitor) return;
      monitor
        .look()
        .then((busy) => {
          if (busy) this.monitorAt(this.ctx.clock.now() + (this.options.nodeMonitorMs ?? NODE_MONITOR_MS));
        })
        .catch((error) => this.ctx.log("periodic task failed", { error: String(error) }));
    });
  }

  /** `push`: a node the provider no longer lists still has pods; it is looked at again a heartbeat later. */
  private syncNodesLater(): void {
    if (this.stopped || this.nodeSyncArmed) return;
    this.nodeSyncArmed = true;
    this.cancelNodeSync = this.ctx.clock.setTimer(this.options.heartbeatMs ?? HEARTBEAT_MS, () => {
      this.nodeSyncArmed = false;
      this.syncNodesSoon();
    });
  }

  private nodeSyncArmed = false;
  private cancelNodeSync: () => void = () => {};

  /** Heartbeats, and whether they worked: the monitor holds back while they did not. */
  private async heartbeat(monitor: NodeMonitor): Promise<void> {
    const startedMs = this.ctx.clock.now();
    try {
      await syncNodes(this.ctx);
      monitor.heartbeat(true, startedMs);
    } catch (error) {
      monitor.heartbeat(false);
      throw error;
    }
  }

  /** One node sync after another, never two at once. */
  private syncNodesSoon(): void {
    this.nodeSync = this.nodeSync
      .then(async () => {
        if (this.stopped) return;
        if ((await syncNodes(this.ctx)) && this.options.changes === "push") this.syncNodesLater();
      })
      .catch((error) => this.ctx.log("node sync failed", { error: String(error) }));
  }

  /** Called after a commit that wrote outbox rows, so the work starts without waiting for the next poll. */
  kick(): void {
    this.duties?.relay.kick();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.cancelMonitor();
    this.cancelNodeSync();
    for (const cancel of this.cancels) cancel();
    await this.observer.close();
    await this.elector?.stop();
    await this.stopDuties();
    await this.ctx.queue.close();
  }

  private every(intervalMs: number, task: () => Promise<void>, cancels = this.cancels): void {
    let cancel = () => {};
    let cancelled = false;
    const tick = () => {
      if (this.stopped || cancelled) return;
      task()
        .catch((error) => this.ctx.log("periodic task failed", { error: String(error) }))
        .finally(() => {
          if (!this.stopped && !cancelled) cancel = this.ctx.clock.setTimer(intervalMs, tick);
        });
    };
    cancel = this.ctx.clock.setTimer(intervalMs, tick);
    cancels.push(() => {
      cancelled = true;
      cancel();
    });
  }
}

/** The singleton duties of one term (see `ControlPlaneOptions.leader`). */
interface Duties {
  /** Set when the term ends; a start still under way then starts nothing more. */
  stopped: boolean;
  cancels: (() => void)[];
  /** `push`: the rebalancer's next pass (its timer's cancel, when armed), and the last pass, run or running. */
  rebalance: { armed: (() => void) | null; pass: Promise<void> };
  relay: OutboxRelay;
  monitor: NodeMonitor;
  prober: Prober;
  routing: RoutingSync | undefined;
  /** Tenants' Service proxies, where the provider runs them. */
  services: ServiceProxySync | undefined;
}
