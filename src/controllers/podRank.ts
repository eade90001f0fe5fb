import type { PodView } from "./types.js";

const PHASE_RANK: Record<PodView["phase"], number> = { Pending: 0, Unknown: 1, Failed: 0, Succeeded: 0, Running: 2 };

/**
 * Orders pods the way Kubernetes picks victims when scaling down: unbound before
 * bound, pending before running, unready before ready, newer before older.
 * The first pods of the result are the cheapest to lose.
 */
export function cheapestFirst(pods: PodView[]): PodView[] {
  return [...pods].sort(
    (a, b) =>
      Number(a.bound) - Number(b.bound) ||
      PHASE_RANK[a.phase] - PHASE_RANK[b.phase] ||
      Number(a.ready) - Number(b.ready) ||
      b.createdAt - a.createdAt ||
      (a.name < b.name ? -1 : 1),
  );
}

/** A pod that has ended for good and must be replaced (a Deployment's pods restart in place until then). */
export function isFinished(pod: PodView): boolean {
  return pod.phase === "Failed" || pod.phase === "Succeeded";
}
