import type { PodView } from "./types.js";

/** Ready for at least `minReadySeconds`: what Kubernetes counts as available. */
export function isAvailable(pod: PodView, minReadySeconds: number, nowMs: number): boolean {
  if (!pod.ready || pod.deleting || pod.awaitingRotation) return false;
  if (minReadySeconds <= 0) return true;
  return pod.readySinceMs !== undefined && nowMs - pod.readySinceMs >= minReadySeconds * 1000;
}

/** How long until the next ready pod becomes available, so the controller can look again then. */
export function msUntilNextAvailable(pods: PodView[], minReadySeconds: number, nowMs: number): number | undefined {
  if (minReadySeconds <= 0) return undefined;
  const waits = pods
    // A pod awaiting rotation is looked at again when the proxy takes it (src/jobs/rotation.ts), not here.
    .filter(
      (p) =>
        p.ready &&
        !p.deleting &&
        !p.awaitingRotation &&
        p.readySinceMs !== undefined &&
        !isAvailable(p, minReadySeconds, nowMs),
    )
    .map((p) => (p.readySinceMs as number) + minReadySeconds * 1000 - nowMs);
  return waits.length ? Math.max(1, Math.min(...waits)) : undefined;
}
