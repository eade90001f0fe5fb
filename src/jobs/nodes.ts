import type { JobContext } from "./context.js";
import { enqueueUnbound } from "./syncPod.js";

/** Registers the provider's nodes in the store (capacity, labels, readiness) and stamps their heartbeat. */
export async function syncNodes(ctx: JobContext): Promise<void> {
  const now = ctx.clock.now();
  let changed = false;
  for (const node of await ctx.provider.listNodes()) {
    const before = await ctx.store.getNode(node.name);
    await ctx.store.upsertNode(
      {
        name: node.name,
        provider: ctx.provider.name,
        address: node.address,
        labels: node.labels,
        cpuMillis: node.cpuMillis,
        memoryBytes: node.memoryBytes,
        maxPods: node.maxPods,
        ready: node.ready,
        unschedulable: before?.unschedulable ?? false,
        lastHeartbeatAt: now,
      },
      now,
    );
    changed ||= !before || before.ready !== node.ready || before.cpuMillis !== node.cpuMillis;
  }
  // New or returning capacity: pods waiting for a place may fit now.
  if (changed) await enqueueUnbound(ctx);
}
