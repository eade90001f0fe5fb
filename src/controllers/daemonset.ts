import { templateHash } from "../core/hash.js";
import { isAvailable } from "./availability.js";
import { statusChanged } from "./deploymentStatus.js";
import { resolveIntOrPercent } from "./intOrPercent.js";
import { isFinished } from "./podRank.js";
import { podDraft } from "./pods.js";
import type { Action, DaemonNode, DaemonSetView, Json, PodView } from "./types.js";

/** A node runs the daemon when it matches the template's node selector; readiness is the scheduler's business. */
export function eligible(ds: DaemonSetView, node: DaemonNode): boolean {
  const selector = (ds.spec.template.spec.nodeSelector as Record<string, string> | undefined) ?? {};
  return Object.entries(selector).every(([k, v]) => node.labels[k] === v);
}

/**
 * One pod per eligible node, following nodes as they join and leave. Pure.
 * Pods are pinned to their node by `nodeName`; a new template replaces pods
 * node by node, at most `maxUnavailable` unavailable at once.
 */
export function reconcileDaemonSet(ds: DaemonSetView, nodes: DaemonNode[], pods: PodView[], nowMs: number): Action[] {
  const hash = templateHash(ds.spec.template);
  const minReady = ds.spec.minReadySeconds ?? 0;
  const wanted = new Set(nodes.filter((n) => eligible(ds, n)).map((n) => n.name));
  const live = pods.filter((p) => !p.deleting && !isFinished(p));
  const byNode = new Map<string, PodView[]>();
  for (const pod of live) byNode.set(pod.nodeName ?? "", [...(byNode.get(pod.nodeName ?? "") ?? []), pod]);
  const actions: Action[] = pods
    .filter((p) => !p.deleting && isFinished(p))
    .map((p) => ({ type: "deletePod" as const, podId: p.id, reason: `pod ${p.phase}` }));

  for (const [node, onNode] of byNode) {
    const [keep, ...extra] = [...onNode].sort((a, b) => Number(b.ready) - Number(a.ready) || a.createdAt - b.createdAt);
    const gone = !wanted.has(node);
    for (const pod of gone ? onNode : extra)
      actions.push({
        type: "deletePod",
        podId: pod.id,
        reason: gone ? "node no longer runs this daemon" : "duplicate",
      });
    if (!gone && keep) byNode.set(node, [keep]);
    else byNode.delete(node);
  }
  const stopping = new Set(pods.filter((p) => p.deleting).map((p) => p.nodeName));
  for (const node of wanted) {
    if (byNode.has(node) || stopping.has(node)) continue;
    actions.push({ type: "createPod", pod: pinned(ds, node, hash) });
  }
  actions.push(...rollingUpdate(ds, [...byNode.values()].flat(), wanted.size, hash, minReady, nowMs));

  const scheduled = [...byNode.values()].flat();
  const status: Json = {
    observedGeneration: ds.generation,
    desiredNumberScheduled: wanted.size,
    currentNumberScheduled: scheduled.length,
    numberMisscheduled: live.filter((p) => !wanted.has(p.nodeName ?? "")).length,
    numberReady: scheduled.filter((p) => p.ready).length,
    updatedNumberScheduled: scheduled.filter((p) => p.templateHash === hash).length,
    numberAvailable: scheduled.filter((p) => isAvailable(p, minReady, nowMs)).length,
    numberUnavailable: Math.max(0, wanted.size - scheduled.filter((p) => isAvailable(p, minReady, nowMs)).length),
  };
  if (statusChanged(ds.status, status)) actions.push({ type: "updateStatus", status });
  return actions;
}

function rollingUpdate(
  ds: DaemonSetView,
  pods: PodView[],
  desired: number,
  hash: string,
  minReady: number,
  nowMs: number,
): Action[] {
  if (ds.spec.updateStrategy?.type === "OnDelete") return [];
  const maxUnavailable = Math.max(
    1,
    resolveIntOrPercent(ds.spec.updateStrategy?.rollingUpdate?.maxUnavailable ?? 1, desired, true),
  );
  let room = maxUnavailable - (desired - pods.filter((p) => isAvailable(p, minReady, nowMs)).length);
  const actions: Action[] = [];
  // Unavailable old pods first: replacing them costs nothing.
  const old = pods.filter((p) => p.templateHash !== hash).sort((a, b) => Number(a.ready) - Number(b.ready));
  for (const pod of old) {
    const free = !isAvailable(pod, minReady, nowMs);
    if (!free && room <= 0) break;
    actions.push({ type: "deletePod", podId: pod.id, reason: "rolling update to a new template" });
    if (!free) room--;
  }
  return actions;
}

function pinned(ds: DaemonSetView, node: string, hash: string) {
  const template = {
    metadata: {
      ...ds.spec.template.metadata,
      labels: { ...(ds.spec.template.metadata?.labels ?? {}), "controller-revision-hash": hash },
    },
    spec: { ...ds.spec.template.spec, nodeName: node },
  };
  return podDraft({ kind: "DaemonSet", name: ds.name, uid: ds.uid }, ds.namespace, template, `${ds.name}-`, hash);
}
