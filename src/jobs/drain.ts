import { blockingBudgets, type DisruptionBudgetView } from "../controllers/disruption.js";
import type { Clock } from "../core/clock.js";
import type { PodRecord, Store, StoreOps } from "../db/types.js";
import { podView } from "./views.js";

/**
 * A voluntary disruption of one pod: it goes only if every PodDisruptionBudget of
 * its tenant and namespace that covers it can spare it. Runs inside the caller's
 * transaction; answers the budgets that refused, or none when the pod was marked to stop.
 */
export async function evict(tx: StoreOps, deps: { clock: Clock }, pod: PodRecord): Promise<string[]> {
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

export interface DrainResult {
  /** The pods marked to stop, as `namespace/name`, with their ids. */
  evicted: { id: string; pod: string }[];
  /** The pods a disruption budget cannot spare yet, and which budgets. */
  blocked: { pod: string; budgets: string[] }[];
}

/**
 * Evicts every pod on a node (the caller has cordoned it) through `evict`, one
 * transaction per pod, so PodDisruptionBudgets are honoured; pods a budget cannot
 * spare yet are reported, and a later drain takes them once their replacements are
 * ready. Daemon pods stay, as `kubectl drain --ignore-daemonsets` leaves them,
 * and so do the pods `skip` names (the caller moves them another way).
 * The evictions are in the outbox: the caller kicks the relay or enqueues the pods.
 */
export async function evictNodePods(
  deps: { store: Store; clock: Clock },
  nodeName: string,
  skip: (pod: PodRecord) => boolean = () => false,
): Promise<DrainResult> {
  const result: DrainResult = { evicted: [], blocked: [] };
  for (const pod of await deps.store.listPods({ nodeName })) {
    if (pod.ownerKind === "DaemonSet" || pod.deletionRequestedAt !== null || skip(pod)) continue;
    const budgets = await deps.store.transaction((tx) => evict(tx, deps, pod));
    const id = `${pod.namespace}/${pod.name}`;
    if (budgets.length === 0) result.evicted.push({ id: pod.id, pod: id });
    else result.blocked.push({ pod: id, budgets });
  }
  return result;
}
