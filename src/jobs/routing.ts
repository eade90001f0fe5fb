/**
 * Keeps the reverse proxy on the store's route table: loads the table, and hands
 * it to a publisher when its version differs from the last one published. Run on
 * a timer (level-triggered, so a missed kick converges) and kicked on changes;
 * one run at a time, and a kick during a run runs once more after it.
 * Without a proxy the null publisher takes every table and does nothing.
 */
import type { Clock } from "../core/clock.js";
import type { StoreOps } from "../db/types.js";
import { currentRouteTable } from "../routing/load.js";
import type { RouteTable } from "../routing/table.js";

export interface RoutePublisher {
  publish(table: RouteTable): Promise<{ ok: boolean; version: string | null; error?: string }>;
}

export const nullRoutePublisher: RoutePublisher = {
  publish: async (table) => ({ ok: true, version: table.version }),
};

export type SyncOutcome =
  | { status: "unchanged"; version: string }
  | { status: "published"; version: string }
  | { status: "failed"; version: string; error: string };

export class RoutingSync {
  private published: string | null = null;
  private running: Promise<void> | null = null;
  private again = false;
  private stopTimer: (() => void) | null = null;
  readonly failures: string[] = [];

  constructor(
    private readonly store: Pick<StoreOps, "listTenants" | "listObjects">,
    private readonly publisher: RoutePublisher,
    private readonly onOutcome?: (outcome: SyncOutcome) => void,
  ) {}

  /** Loads the table and publishes it when it changed since the last good publish. */
  async sync(): Promise<SyncOutcome> {
    const table = await currentRouteTable(this.store);
    let outcome: SyncOutcome;
    if (table.version === this.published) {
      outcome = { status: "unchanged", version: table.version };
    } else {
      const result = await this.publisher.publish(table).catch((e: Error) => ({ ok: false, error: e.message }));
      if (result.ok) {
        this.published = table.version;
        outcome = { status: "published", version: table.version };
      } else {
        // The proxy keeps the last good table; the next run tries again.
        outcome = { status: "failed", version: table.version, error: result.error ?? "publish failed" };
        this.failures.push(outcome.error);
        if (this.failures.length > 100) this.failures.shift();
      }
    }
    this.onOutcome?.(outcome);
    return outcome;
  }

  /** Runs a sync now, or once more after the one running; resolves when the table is published or failed. */
  kick(): Promise<void> {
    if (this.running) {
      this.again = true;
      return this.running;
    }
    this.running = (async () => {
      // Bounded: each pass clears `again`; a kick during the last pass is taken by the next kick or timer.
      for (let pass = 0; pass < 10; pass++) {
        this.again = false;
        await this.sync().catch((e: Error) => this.failures.push(e.message));
        if (!this.again) break;
      }
      this.running = null;
    })();
    return this.running;
  }

  /** Syncs every `intervalMs` on the clock until the returned function is called. */
  start(clock: Clock, intervalMs: number): () => void {
    const tick = () => {
      this.stopTimer = clock.setTimer(intervalMs, () => {
        void this.kick().then(() => {
          if (this.stopTimer) tick();
        });
      });
    };
    tick();
    return () => {
      this.stopTimer?.();
      this.stopTimer = null;
    };
  }
}
