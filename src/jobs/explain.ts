import type { PodRecord } from "../db/types.js";
import { type SchedulingPolicy, schedule, type Unschedulable } from "../scheduler/index.js";
import type { JobContext } from "./context.js";
import { demandOf, placedPods } from "./schedulePod.js";
import { placementOf } from "./volumes.js";

export type Explanation =
  | { state: "placed" }
  | { state: "waiting"; message: string }
  | { state: "fits" }
  | { state: "unschedulable"; result: Unschedulable };

/**
 * "Why pending", asked now: the same placement the scheduler would make, on the
 * state as it is, without binding anything.
 */
export async function explainPod(
  ctx: Pick<JobContext, "store"> & { schedulingPolicy?: SchedulingPolicy },
  pod: PodRecord,
): Promise<Explanation> {
  if (pod.nodeName) return { state: "placed" };
  const placement = await placementOf(ctx, pod);
  if (placement.waiting) return { state: "waiting", message: placement.waiting };
  const nodes = await ctx.store.listNodes();
  const placed = await placedPods(ctx, pod.tenantId);
  const result = schedule(demandOf(pod, placement.requiredNodes), nodes, { policy: ctx.schedulingPolicy, placed });
  return result.ok ? { state: "fits" } : { state: "unschedulable", result };
}
