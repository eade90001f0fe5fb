/**
 * The node monitor's rules, pure. A node whose heartbeat is older than the grace
 * period goes NotReady, and the pods on a NotReady node are declared lost so
 * their owners replace them elsewhere. The monitor never acts on silence it may
 * have caused itself: after its own pause, or while its heartbeat pipeline (the
 * provider, the store) was failing, it first waits a full grace period. When most
 * nodes fall silent at once, the fault is more likely between the monitor and the
 * nodes than in the nodes, so, like Kubernetes, it slows down: at most one node's
 * pods are declared lost per look, and none when every node is silent.
 */
export interface MonitoredNode {
  name: string;
  ready: boolean;
  lastHeartbeatAt: number | null;
  /** Live pods still bound to it. */
  pods: number;
}

export interface MonitorInput {
  nodes: MonitoredNode[];
  nowMs: number;
  gracePeriodMs: number;
  /** When the monitor last looked; a longer gap than the grace period means it was itself stalled. */
  lastLookMs?: number;
  /** Since when the heartbeat pipeline has worked without a break. */
  healthySinceMs: number;
}

export interface MonitorDecision {
  notReady: string[];
  /** Nodes whose pods are now declared lost. */
  evict: string[];
  /** Why the monitor held back, when it did. */
  holdingBack?: "monitor-stalled" | "heartbeats-recovering" | "all-nodes-silent";
}

/** Above this share of silent nodes, evictions slow down (Kubernetes' unhealthy-zone threshold). */
export const MASS_SILENCE_SHARE = 0.55;

export function monitorNodes(input: MonitorInput): MonitorDecision {
  const { nodes, nowMs, gracePeriodMs } = input;
  if (input.lastLookMs !== undefined && nowMs - input.lastLookMs > gracePeriodMs) {
    return { notReady: [], evict: [], holdingBack: "monitor-stalled" };
  }
  if (nowMs - input.healthySinceMs < gracePeriodMs)
    return { notReady: [], evict: [], holdingBack: "heartbeats-recovering" };
  const silent = (n: MonitoredNode) => n.lastHeartbeatAt === null || nowMs - n.lastHeartbeatAt > gracePeriodMs;
  const notReady = nodes.filter((n) => n.ready && silent(n)).map((n) => n.name);
  const down = nodes.filter((n) => !n.ready || silent(n));
  const candidates = down.filter((n) => n.pods > 0).map((n) => n.name);
  if (nodes.length > 0 && down.length === nodes.length) return { notReady, evict: [], holdingBack: "all-nodes-silent" };
  if (nodes.length >= 3 && down.length / nodes.length > MASS_SILENCE_SHARE)
    return { notReady, evict: candidates.slice(0, 1) };
  return { notReady, evict: candidates };
}
