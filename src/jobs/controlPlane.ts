import { type AutoscaleOptions, autoscalerFor } from "./autoscaler.js";
import type { JobContext } from "./context.js";
import { lifecycleJob } from "./lifecycle.js";
import { NodeMonitor } from "./nodeMonitor.js";
import { syncNodes } from "./nodes.js";
import { Observer } from "./observe.js";
import { Prober } from "./prober.js";
import { rebalance } from "./rebalance.js";
import { reconcileJob } from "./reconcile.js";
import { OutboxRelay } from "./relay.js";
import { resyncAll } from "./resync.js";
import { scheduleJob } from "./schedulePod.js";
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
}

/**
 * The workers of one process: job handlers on the queue, the outbox relay, the
 * provider's observations, node heartbeats and the periodic resync. `serve` runs
 * one of these beside the API.
 */
export class ControlPlane {
  private readonly relay: OutboxRelay;
  private readonly observer: Observer;
  private readonly prober: Prober;
  private readonly monitor: NodeMonitor;
  private readonly cancels: (() => void)[] = [];
  private stopped = false;

  constructor(
    private readonly ctx: JobContext,
    private readonly options: ControlPlaneOptions = {},
  ) {
    const onError = (error: unknown) => ctx.log("outbox relay failed", { error: String(error) });
    this.relay = new OutboxRelay(ctx.store, ctx.queue, ctx.clock, {
      pollMs: options.outboxPollMs ?? 500,
      batch: 200,
      onError,
    });
    this.observer = new Observer(ctx);
    this.monitor = new NodeMonitor(ctx, options.nodeGracePeriodMs ?? 5_000);
    this.prober = new Prober(ctx, {
      tickMs: options.probeTickMs ?? 500,
      maxProbesPerTick: options.maxProbesPerTick ?? 100,
    });
  }

  async start(): Promise<void> {
    const { queue } = this.ctx;
    const concurrency = this.options.concurrency ?? 8;
    queue.register("reconcile", (key) => reconcileJob(this.ctx, key), { concurrency });
    queue.register("schedule", (key) => scheduleJob(this.ctx, key), { concurrency: 1 });
    queue.register("pod", (key) => syncPodJob(this.ctx, key), { concurrency });
    queue.register("observe", this.observer.job, { concurrency });
    this.cancels.push(this.ctx.provider.subscribe(this.observer.onProviderEvent));
    // A node that joins or leaves is registered at once, not at the next heartbeat.
    this.cancels.push(
      this.ctx.provider.subscribe((event) => {
        if (event.type === "node" || event.type === "nodeGone") this.syncNodesSoon();
      }),
    );
    queue.register("lifecycle", (key) => lifecycleJob(this.ctx, key), { concurrency });
    this.prober.start();
    await syncNodes(this.ctx);
    this.every(this.options.heartbeatMs ?? 2_000, () => this.heartbeat());
    this.every(this.options.nodeMonitorMs ?? 1_000, () => this.monitor.look());
    this.relay.start();
    await resyncAll(this.ctx);
    this.every(this.options.resyncMs ?? 30_000, () => resyncAll(this.ctx));
    const autoscaler = autoscalerFor(this.ctx, this.options.autoscale);
    if (autoscaler) this.every(autoscaler.intervalMs, autoscaler.look);
    const maxMoves = this.options.maxMovesPerRebalance ?? 2;
    if (maxMoves > 0)
      this.every(this.options.rebalanceMs ?? 10_000, async () => void (await rebalance(this.ctx, maxMoves)));
  }

  private nodeSync: Promise<void> = Promise.resolve();

  /** Heartbeats, and whether they worked: the monitor holds back while they did not. */
  private async heartbeat(): Promise<void> {
    try {
      await syncNodes(this.ctx);
      this.monitor.heartbeat(true);
    } catch (error) {
      this.monitor.heartbeat(false);
      throw error;
    }
  }

  /** One node sync after another, never two at once. */
  private syncNodesSoon(): void {
    this.nodeSync = this.nodeSync
      .then(() => (this.stopped ? undefined : syncNodes(this.ctx)))
      .catch((error) => this.ctx.log("node sync failed", { error: String(error) }));
  }

  /** Called after a commit that wrote outbox rows, so the work starts without waiting for the next poll. */
  kick(): void {
    this.relay.kick();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    for (const cancel of this.cancels) cancel();
    await this.relay.stop();
    await this.prober.stop();
    await this.ctx.queue.close();
  }

  private every(intervalMs: number, task: () => Promise<void>): void {
    let cancel = () => {};
    const tick = () => {
      if (this.stopped) return;
      task()
        .catch((error) => this.ctx.log("periodic task failed", { error: String(error) }))
        .finally(() => {
          if (!this.stopped) cancel = this.ctx.clock.setTimer(intervalMs, tick);
        });
    };
    cancel = this.ctx.clock.setTimer(intervalMs, tick);
    this.cancels.push(() => cancel());
  }
}
