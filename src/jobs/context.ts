import type { BackOffSettings } from "../controllers/podLifecycle.js";
import type { Clock } from "../core/clock.js";
import type { Rng } from "../core/rng.js";
import type { Store } from "../db/types.js";
import type { NodeProvider } from "../providers/types.js";
import type { SchedulingPolicy } from "../scheduler/index.js";
import type { WorkQueue } from "./queue.js";

/** What every job handler works with: state, the queue, the provider, and the injected time and chance. */
export interface JobContext {
  store: Store;
  queue: WorkQueue;
  provider: NodeProvider;
  clock: Clock;
  rng: Rng;
  schedulingPolicy: SchedulingPolicy;
  /** How long an unschedulable pod waits before it is tried again (changes in capacity also retry it). */
  unschedulableRetryMs: number;
  log: (message: string, fields?: Record<string, unknown>) => void;
  /** Container restart back-off (CrashLoopBackOff); the kubelet's (the first at once, then 10 s doubling to 5 min, reset after 10 min) when absent. */
  restartBackOff?: BackOffSettings;
  /**
   * Present when the platform manages a reverse proxy (src/jobs/rotation.ts): rollouts wait for it to
   * take new pods in rotation (for `rotationTimeoutMs` after they turned Ready at most, 30 s by
   * default), and deleted pods are stopped once it has drained them, or after `drainTimeoutMs` at most.
   */
  routing?: { drainTimeoutMs: number; rotationTimeoutMs?: number };
}
