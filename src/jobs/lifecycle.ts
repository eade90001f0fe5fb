import { backOffsOf, containerStatusesOf, restartsDue } from "../controllers/podLifecycle.js";
import type { JobContext } from "./context.js";
import type { HandlerResult } from "./queue.js";

/**
 * The `lifecycle` job (key: a pod's id): restarts the pod's containers whose
 * CrashLoopBackOff is over, then comes back when the next one ends. The wait
 * and the run it follows are read from the pod's stored status, so a retried,
 * duplicated or early job restarts nothing early, and a restarted control plane
 * keeps every back-off. The restart is counted when the new run is observed
 * (src/jobs/observe.ts), never here, so a restart asked for twice counts once.
 */
export async function lifecycleJob(ctx: JobContext, podId: string): Promise<HandlerResult | undefined> {
  const pod = await ctx.store.getPod(podId);
  if (!pod || pod.deletionRequestedAt !== null || !pod.nodeName) return undefined;
  const now = ctx.clock.now();
  const plan = restartsDue(containerStatusesOf(pod.status), backOffsOf(pod.status), now);
  for (const { name, containerID } of plan.due) {
    // Conditional on the run that ended: a run that started (and even ended) meanwhile is left alone.
    await ctx.provider.restartContainer(pod.nodeName, pod.id, name, containerID);
  }
  return plan.nextAtMs !== undefined ? { requeueAfterMs: Math.max(1, plan.nextAtMs - now) } : undefined;
}
