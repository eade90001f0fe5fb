import { conditionsOf } from "../controllers/podStatus.js";
import type { PodRecord } from "../db/types.js";

/** The claims a pod's volumes name. */
export function claimsOf(pod: PodRecord): string[] {
  const volumes = (pod.spec.volumes as { persistentVolumeClaim?: { claimName?: string } }[] | undefined) ?? [];
  return volumes.flatMap((v) => (v.persistentVolumeClaim?.claimName ? [v.persistentVolumeClaim.claimName] : []));
}

/**
 * Whether a pod may be placed by another pod's batch: waiting for its first placement, with no claim
 * or pin of its own. A controller asks for one schedule job per burst of such pods (src/jobs/apply.ts),
 * and one for each other pod.
 */
export function batchable(p: PodRecord): boolean {
  return (
    p.nodeName === null &&
    p.deletionRequestedAt === null &&
    p.phase === "Pending" &&
    claimsOf(p).length === 0 &&
    typeof p.spec.nodeName !== "string" &&
    !conditionsOf(p.status).some((c) => c.type === "PodScheduled")
  );
}
