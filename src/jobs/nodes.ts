import { canonicalEqual } from "../core/hash.js";
import type { NodeRecord } from "../db/types.js";
import type { JobContext } from "./context.js";
import { objectKey } from "./keys.js";
import { declareLost } from "./nodeMonitor.js";
import { enqueueUnbound } from "./syncPod.js";

/**
 * Registers the provider's nodes in the store (capacity, labels) and stamps the heartbeat of each that answers.
 * Returns whether a node the provider no longer lists is still registered (its pods are on their way out), so
 * that a caller that does not poll knows to sync again.
 */
export async function syncNodes(ctx: JobContext): Promise<boolean> {
  const now = ctx.clock.now();
  let changed = false;
  const returning: string[] = [];
  const [listed, registered] = await Promise.all([ctx.provider.listNodes(), ctx.store.listNodes()]);
  const known = new Map(registered.map((n) => [n.name, n]));
  const answering: string[] = [];
  for (const node of listed) {
    const before = known.get(node.name);
    // A node that answers is Ready (a returning one too); one that does not keeps its state until the node
    // monitor has waited out the grace period: silence is judged there, not here.
    const ready = node.ready || (before?.ready ?? false);
    const reported = {
      name: node.name,
      provider: ctx.provider.name,
      address: node.address,
      labels: node.labels,
      cpuMillis: node.cpuMillis,
      memoryBytes: node.memoryBytes,
      maxPods: node.maxPods,
      ready,
    };
    // Only what changed is written: on a large cluster a heartbeat is one write, not three per node.
    if (!before || differs(before, reported)) {
      await ctx.store.upsertNode(
        {
          ...reported,
          unschedulable: before?.unschedulable ?? false,
          lastHeartbeatAt: node.ready ? now : (before?.lastHeartbeatAt ?? null),
        },
        now,
      );
    }
    if (node.ready) answering.push(node.name);
    changed ||= !before || before.ready !== ready || before.cpuMillis !== node.cpuMillis;
    if (before && !before.ready && node.ready) returning.push(node.name);
  }
  await ctx.store.stampHeartbeats(answering, now);
  // A node back from silence: its pods are looked at again, so fenced ones resume and lost ones are stopped.
  if (returning.length > 0) {
    const back = new Set(returning);
    const pods = (await ctx.store.listPodPlacements()).filter((p) => p.nodeName !== null && back.has(p.nodeName));
    await Promise.all(pods.map((pod) => ctx.queue.enqueue("pod", pod.id)));
  }
  const removed = await forgetRemoved(ctx, new Set(listed.map((n) => n.name)));
  changed ||= removed.changed;
  if (!changed) return removed.lingering;
  // New or returning capacity: pods waiting for a place may fit now, and daemons follow the nodes.
  await enqueueUnbound(ctx);
  for (const ds of await ctx.store.listObjects({ kind: "DaemonSet" }))
    await ctx.queue.enqueue("reconcile", objectKey(ds));
  return removed.lingering;
}

/**
 * Nodes of this provider it no longer lists: gone once their pods are. The
 * provider confirms such a node gone, so the pods still bound to it, fenced ones
 * included, are declared lost and replaced; the node is marked not ready until
 * they have gone. Returns whether any changed, and whether any is still registered.
 */
async function forgetRemoved(ctx: JobContext, listed: Set<string>): Promise<{ changed: boolean; lingering: boolean }> {
  let changed = false;
  let lingering = false;
  for (const node of await ctx.store.listNodes()) {
    if (node.provider !== ctx.provider.name || listed.has(node.name)) continue;
    if (await ctx.store.deleteNode(node.name)) {
      changed = true;
      continue;
    }
    lingering = true;
    if (node.ready) {
      await ctx.store.updateNode(node.name, { ready: false }, ctx.clock.now());
      changed = true;
    }
    for (const pod of await ctx.store.listPods({ nodeName: node.name })) {
      const ended = pod.phase === "Failed" || pod.phase === "Succeeded";
      if (pod.deletionRequestedAt === null && !ended) await declareLost(ctx, pod, "gone");
    }
  }
  return { changed, lingering };
}

/** Whether the provider reports a node otherwise than the store holds it. */
function differs(
  stored: NodeRecord,
  reported: Pick<NodeRecord, "provider" | "address" | "labels" | "cpuMillis" | "memoryBytes" | "maxPods" | "ready">,
): boolean {
  return (
    stored.provider !== reported.provider ||
    stored.address !== reported.address ||
    stored.cpuMillis !== reported.cpuMillis ||
    stored.memoryBytes !== reported.memoryBytes ||
    stored.maxPods !== reported.maxPods ||
    stored.ready !== reported.ready ||
    !canonicalEqual(stored.labels, reported.labels)
  );
}
