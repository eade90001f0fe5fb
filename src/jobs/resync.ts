import type { JobContext } from "./context.js";
import { objectKey } from "./keys.js";

/**
 * Level-triggered resync: enqueue everything, so that whatever an enqueue missed
 * (a crash, a restart, a lost job) converges anyway. Cheap because the queue
 * de-duplicates and handlers that find nothing to do write nothing.
 */
/** Every kind that has a controller. */
export const RECONCILED_KINDS = [
  "Deployment",
  "ReplicaSet",
  "ReplicationController",
  "StatefulSet",
  "DaemonSet",
  "PersistentVolumeClaim",
  "PodDisruptionBudget",
  "Service",
];

export async function resyncAll(ctx: JobContext): Promise<void> {
  for (const kind of RECONCILED_KINDS) {
    for (const object of await ctx.store.listObjects({ kind })) {
      await ctx.queue.enqueue("reconcile", objectKey(object));
    }
  }
  // Placements only: the resync needs no pod's spec or status, and reading them was most of its cost.
  for (const pod of await ctx.store.listPodPlacements()) {
    await ctx.queue.enqueue(pod.nodeName || pod.deletionRequestedAt !== null ? "pod" : "schedule", pod.id);
  }
}
