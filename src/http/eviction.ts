import { blockingBudgets, type DisruptionBudgetView } from "../controllers/disruption.js";
import type { PodRecord, StoreOps } from "../db/types.js";
import { podView } from "../jobs/views.js";
import type { ApiDeps } from "./context.js";

/**
 * A voluntary disruption of one pod: it goes only if every PodDisruptionBudget of
 * its tenant and namespace that covers it can spare it. Runs inside the caller's
 * transaction; answers the budgets that refused, or none when the pod was marked to stop.
 */
export async function evict(tx: StoreOps, deps: Pick<ApiDeps, "clock">, pod: PodRecord): Promise<string[]> {
  if (pod.deletionRequestedAt !== null) return [];
  const budgets = (
    await tx.listObjects({ kind: "PodDisruptionBudget", tenantId: pod.tenantId, namespace: pod.namespace })
  ).map((b) => ({ name: b.name, spec: b.spec }) as DisruptionBudgetView);
  const pods = (await tx.listPods({ tenantId: pod.tenantId, namespace: pod.namespace })).map(podView);
  const blocking = blockingBudgets(podView(pod), budgets, pods);
  if (blocking.length > 0) return blocking;
  await tx.markPodDeleting(pod.id, deps.clock.now());
  await tx.addOutbox("pod", pod.id, deps.clock.now());
  return [];
}
