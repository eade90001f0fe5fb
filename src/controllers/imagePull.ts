import { canonicalEqual } from "../core/hash.js";
import {
  type BackOffSettings,
  type ContainerStatus,
  containerStatusesOf,
  KUBELET_BACK_OFF,
  type LifecycleEvent,
  nextBackOffMs,
} from "./podLifecycle.js";
import type { Json } from "./types.js";

/**
 * The kubelet's image pull back-off, pure. A runtime reports a failed pull as a container waiting
 * with `ErrImagePull` and the registry's message; the control plane then keeps the container in
 * `ImagePullBackOff` and tries the pull again after 10 s, 20 s, 40 s, … up to 5 min (the same
 * settings as CrashLoopBackOff). The back-off lives in the pod's status (`imagePullBackOff`), so a
 * restarted control plane keeps it, and it goes once the container has been created.
 *
 * Only the control plane starts a pull again (the `pod` job, which holds off while a back-off
 * runs), so an `ErrImagePull` seen before the retry is due is the failure already counted,
 * reported once more; one seen after is the retry's.
 */
export const ERR_IMAGE_PULL = "ErrImagePull";
export const IMAGE_PULL_BACK_OFF = "ImagePullBackOff";

export interface PullBackOff {
  image: string;
  /** Failed pulls in a row. */
  failures: number;
  delayMs: number;
  retryAtMs: number;
  /** The last failure's message (the registry's words). */
  message: string;
}

export type PullBackOffs = Record<string, PullBackOff>;

export interface PullPlan {
  /** The pod's status with the back-offs applied; undefined when nothing changes. */
  status?: Json;
  events: LifecycleEvent[];
  /** Some container waits out its back-off: start nothing until `retryAtMs`. */
  retryAtMs?: number;
}

export function pullBackOffsOf(status: Json): PullBackOffs {
  return (status.imagePullBackOff as PullBackOffs | undefined) ?? {};
}

/** Whether a container waits with a failed pull that the back-off has not taken in yet. */
export function hasImagePullError(status: Json): boolean {
  return containerStatusesOf(status).some((c) => waitingReason(c) === ERR_IMAGE_PULL);
}

/** Pulls not done yet: some container has never been created. */
export function awaitsImages(status: Json, containerNames: string[]): boolean {
  const statuses = containerStatusesOf(status);
  return containerNames.some((name) => statuses.find((c) => c.name === name)?.containerID === undefined);
}

/** Folds failed pulls into back-offs at `nowMs`: what the status becomes, the events, and when to try again. */
export function imagePullPlan(status: Json, nowMs: number, settings: BackOffSettings = KUBELET_BACK_OFF): PullPlan {
  if (status.containerStatuses === undefined && status.imagePullBackOff === undefined) return { events: [] };
  const before = pullBackOffsOf(status);
  const backOffs: PullBackOffs = {};
  const events: LifecycleEvent[] = [];
  let retryAtMs: number | undefined;
  const containers = containerStatusesOf(status).map((c): ContainerStatus => {
    // A created container pulled its image: the next failure starts from the base wait again.
    const current = c.containerID === undefined ? before[c.name] : undefined;
    let backOff = current;
    if (waitingReason(c) === ERR_IMAGE_PULL && (!current || nowMs >= current.retryAtMs)) {
      const message = waitingMessage(c) ?? `Failed to pull image "${c.image}"`;
      const delayMs = nextBackOffMs(current?.delayMs, undefined, settings);
      backOff = {
        image: c.image,
        failures: (current?.failures ?? 0) + 1,
        delayMs,
        retryAtMs: nowMs + delayMs,
        message,
      };
      events.push(
        { eventType: "Warning", reason: "Failed", message },
        { eventType: "Warning", reason: "BackOff", message: `Back-off pulling image "${c.image}"` },
      );
    }
    if (!backOff) return c;
    backOffs[c.name] = backOff;
    const waiting = waitingReason(c);
    if (nowMs >= backOff.retryAtMs || (waiting !== ERR_IMAGE_PULL && waiting !== IMAGE_PULL_BACK_OFF)) return c;
    retryAtMs = Math.min(retryAtMs ?? Number.POSITIVE_INFINITY, backOff.retryAtMs);
    const message = `Back-off pulling image "${backOff.image}": ${ERR_IMAGE_PULL}: ${backOff.message}`;
    return { ...c, ready: false, started: false, state: { waiting: { reason: IMAGE_PULL_BACK_OFF, message } } };
  });
  const { imagePullBackOff: _old, ...rest } = status;
  const next: Json = {
    ...rest,
    containerStatuses: containers,
    ...(Object.keys(backOffs).length > 0 ? { imagePullBackOff: backOffs } : {}),
  };
  const changed = !canonicalEqual(next, status);
  return { ...(changed ? { status: next } : {}), events, ...(retryAtMs !== undefined ? { retryAtMs } : {}) };
}

function waitingReason(c: ContainerStatus): string | undefined {
  return "waiting" in c.state ? c.state.waiting.reason : undefined;
}

function waitingMessage(c: ContainerStatus): string | undefined {
  return "waiting" in c.state ? c.state.waiting.message : undefined;
}
