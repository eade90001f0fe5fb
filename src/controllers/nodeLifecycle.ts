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

/** Not heard from within the grace period. */
function isSilent(node: Pick<MonitoredNode, "lastHeartbeatAt">, nowMs: number, gracePeriodMs: number): boolean {
  return node.lastHeartbeatAt === null || nowMs - node.lastHeartbeatAt > gracePeriodMs;
}

/**
 * NotReady, or silent: a node whose live pods `monitorNodes` may declare lost. The pods of other
 * nodes do not count in its decision, so a caller with no such node need not count them.
 */
export function isDown(
  node: Pick<MonitoredNode, "ready" | "lastHeartbeatAt">,
  nowMs: number,
  gracePeriodMs: number,
): boolean {
  return !node.ready || isSilent(node, nowMs, gracePeriodMs);
}

export function monitorNodes(input: MonitorInput): MonitorDecision {
  const { nodes, nowMs, gracePeriodMs } = input;
  if (input.lastLookMs !== undefined && nowMs - input.lastLookMs > gracePeriodMs) {
    return { notReady: [], evict: [], holdingBack: "monitor-stalled" };
  }
  if (nowMs - input.healthySinceMs < gracePeriodMs)
    return { notReady: [], evict: [], holdingBack: "heartbeats-recovering" };
  const silent = (n: MonitoredNode) => isSilent(n, nowMs, gracePeriodMs);
  const notReady = nodes.filter((n) => n.ready && silent(n)).map((n) => n.name);
  const down = nodes.filter((n) => isDown(n, nowMs, gracePeriodMs));
  const candidates = down.filter((n) => n.pods > 0).map((n) => n.name);
  if (nodes.length > 0 && down.length === nodes.length) return { notReady, evict: [], holdingBack: "all-nodes-silent" };
  if (nodes.length >= 3 && down.length / nodes.length > MASS_SILENCE_SHARE)
    return { notReady, evict: candidates.slice(0, 1) };
  return { notReady, evict: candidates };
}

/** The fields of a pod its fate on a silent node depends on. */
export interface PodOnSilentNode {
  ownerKind: string | null;
  spec: Record<string, unknown>;
  phase: string;
  status: Record<string, unknown>;
}

/** The reason a fenced pod carries while it waits for its node's fate to be known. */
export const NODE_LOST = "NodeLost";

/**
 * What becomes of a live pod on a node that stopped answering. Most are declared
 * lost and replaced elsewhere at once. A pod with an identity or a volume of its
 * own (a StatefulSet replica, a pod with a claim) is fenced instead: marked
 * Unknown and not ready, so no traffic reaches it, but kept, because a
 * partitioned node may still run it, and two copies of one ordinal or two writers
 * of one volume are worse than a wait. As in Kubernetes, it is replaced once its
 * node is confirmed gone (the provider no longer lists it, or reports the pod
 * gone), and it simply resumes if its node comes back.
 */
export function fateOnSilentNode(pod: PodOnSilentNode): "lost" | "fenced" {
  if (pod.ownerKind === "StatefulSet") return "fenced";
  const volumes = (pod.spec.volumes as { persistentVolumeClaim?: unknown }[] | undefined) ?? [];
  return volumes.some((v) => v.persistentVolumeClaim !== undefined) ? "fenced" : "lost";
}

/** A pod already fenced: nothing more to do for it until its node's fate is known. */
export function isFenced(pod: Pick<PodOnSilentNode, "phase" | "status">): boolean {
  return pod.phase === "Unknown" && pod.status.reason === NODE_LOST;
}
