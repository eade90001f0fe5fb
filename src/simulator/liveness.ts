import { KUBELET_BACK_OFF } from "../controllers/podLifecycle.js";
import type { ImageSpec, Scenario, TimelineEvent } from "./scenario.js";

/**
 * When the faults of a timeline have all stopped, in virtual ms since the start: the latest
 * moment any event still disturbs the cluster, or `null` when one never stops (a partition or
 * a crash loop without `for:`, slow pulls without `for:`). An instant change (a crash, an
 * apply, a scale, a drain, added nodes) stops when it happens; a partition when it heals; a
 * crash loop when it stops plus the kubelet's longest back-off (a container waiting out its
 * last back-off restarts only then); slow pulls when their window closes plus one slow pull
 * (a pull begun at the last moment of the window still takes that long). Read from the
 * scenario alone, so the moment does not depend on the run.
 */
export function faultsStopMs(timeline: readonly TimelineEvent[]): number | null {
  let stopMs = 0;
  for (const event of timeline) {
    const end = eventEndMs(event);
    if (end === null) return null;
    stopMs = Math.max(stopMs, end);
  }
  return stopMs;
}

function eventEndMs(event: TimelineEvent): number | null {
  const { action, atMs } = event;
  switch (action.type) {
    case "partitionNode":
      return action.forMs === undefined ? null : atMs + action.forMs;
    case "crashLoopImage":
      return action.forMs === undefined ? null : atMs + action.forMs + KUBELET_BACK_OFF.capMs;
    case "slowImagePulls":
      return action.forMs === undefined ? null : atMs + action.forMs + action.pullMs;
    default:
      return atMs;
  }
}

/**
 * From when the liveness invariant (`eventually-reconciled`) is judged: `quiet` after the
 * faults stopped, or `null` when they never stop or the run ends first or then (nothing can
 * be said of a run cut short of its quiet period).
 */
export function livenessFromMs(scenario: Pick<Scenario, "timeline" | "quietMs" | "durationMs">): number | null {
  const stop = faultsStopMs(scenario.timeline);
  if (stop === null) return null;
  const from = stop + scenario.quietMs;
  return from < scenario.durationMs ? from : null;
}

/**
 * Images the scenario makes fail on purpose (a crash after some time, a probe that fails,
 * fails after a while or at a rate): their pods are a test of the application, not of the
 * platform, so the liveness invariant asks them to exist, not to be Ready.
 */
export function failingImages(images: Readonly<Record<string, ImageSpec>>): ReadonlySet<string> {
  const failing = new Set<string>();
  for (const [image, spec] of Object.entries(images)) {
    const probes = [spec.readiness, spec.liveness, spec.startup];
    const probeFails = probes.some(
      (p) => p !== undefined && p !== "pass" && !(typeof p === "object" && "passAfterMs" in p),
    );
    if (spec.crashAfter !== undefined || probeFails) failing.add(image);
  }
  return failing;
}
