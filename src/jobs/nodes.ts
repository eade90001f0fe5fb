import type { JobContext } from "./context.js";
import { objectKey } from "./keys.js";
import { enqueueUnbound } from "./syncPod.js";

/** Registers the provider's nodes in the store (capacity, labels) and stamps the heartbeat of each that answers. */
export async function syncNodes(ctx: JobContext): Promise<void> {
  const now = ctx.clock.now();
  let changed = false;
  const listed = await ctx.provider.listNodes();
  for (const node of listed) {
    const before = await ctx.store.getNode(node.name);
    // A node that answers is Ready (a returning one too); one that does not keeps its state until the node
    // monitor has waited out the grace period: silence is judged there, not here.
    const ready = node.ready || (before?.ready ?? false);
    await ctx.store.upsertNode(
      {
        name: node.name,
        provider: ctx.provider.name,
        address: node.address,
        labels: node.labels,
        cpuMillis: node.cpuMillis,
        memoryBytes: node.memoryBytes,
        maxPods: node.maxPods,
        ready,
        unschedulable: before?.unschedulable ?? false,
        lastHeartbeatAt: node.ready ? now : (before?.lastHeartbeatAt ?? null),
      },
      now,
    );
    if (before && node.ready) await ctx.store.updateNode(node.name, { lastHeartbeatAt: now }, now);
    changed ||= !before || before.ready !== ready || before.cpuMillis !== node.cpuMillis;
  }
  changed = (await forgetRemoved(ctx, new Set(listed.map((n) => n.name)))) || changed;
  if (!changed) return;
  // New or returning capacity: pods waiting for a place may fit now, and daemons follow the nodes.
  await enqueueUnbound(ctx);
  for (const ds of await ctx.store.listObjects({ kind: "DaemonSet" }))
    await ctx.queue.enqueue("reconcile", objectKey(ds));
}

/**
 * Nodes of this provider it no longer lists: gone once their pods are (a node
 * that still holds pods is marked not ready until then). Returns whether any changed.
 */
async function forgetRemoved(ctx: JobContext, listed: Set<string>): Promise<boolean> {
  let changed = false;
  for (const node of await ctx.store.listNodes()) {
    if (node.provider !== ctx.provider.name || listed.has(node.name)) continue;
    if (await ctx.store.deleteNode(node.name)) changed = true;
    else if (node.ready) {
      await ctx.store.updateNode(node.name, { ready: false }, ctx.clock.now());
      changed = true;
    }
  }
  return changed;
}
