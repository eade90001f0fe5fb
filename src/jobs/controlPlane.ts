import type { JobContext } from "./context.js";
import { syncNodes } from "./nodes.js";
import { Observer } from "./observe.js";
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
}

/**
 * The workers of one process: job handlers on the queue, the outbox relay, the
 * provider's observations, node heartbeats and the periodic resync. `serve` runs
 * one of these beside the API.
 */
export class ControlPlane {
  private readonly relay: OutboxRelay;
  private readonly observer: Observer;
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
  }

  async start(): Promise<void> {
    const { queue } = this.ctx;
    const concurrency = this.options.concurrency ?? 8;
    queue.register("reconcile", (key) => reconcileJob(this.ctx, key), { concurrency });
    queue.register("schedule", (key) => scheduleJob(this.ctx, key), { concurrency: 1 });
    queue.register("pod", (key) => syncPodJob(this.ctx, key), { concurrency });
    queue.register("observe", this.observer.job, { concurrency });
    this.cancels.push(this.ctx.provider.subscribe(this.observer.onProviderEvent));
    await syncNodes(this.ctx);
    this.every(this.options.heartbeatMs ?? 2_000, () => syncNodes(this.ctx));
    this.relay.start();
    await resyncAll(this.ctx);
    this.every(this.options.resyncMs ?? 30_000, () => resyncAll(this.ctx));
  }

  /** Called after a commit that wrote outbox rows, so the work starts without waiting for the next poll. */
  kick(): void {
    this.relay.kick();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    for (const cancel of this.cancels) cancel();
    await this.relay.stop();
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
