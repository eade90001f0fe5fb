import { templateHash } from "../core/hash.js";
import { podRequests } from "../manifest/index.js";
import { deploymentStatus, statusChanged } from "./deploymentStatus.js";
import { isFinished } from "./podRank.js";
import { recreateStep } from "./recreate.js";
import { rollingStep, type ScalePlan } from "./rolling.js";
import type { Action, DeploymentView, PodDraft, PodView } from "./types.js";

export const TEMPLATE_HASH_LABEL = "pod-template-hash";

/**
 * Reconciles one Deployment against its pods. Pure: `(desired, observed, now) → actions`.
 * Pods are sorted into buckets — finished (replace), stopping (wait), current
 * template, old template — then the strategy decides what to create and delete.
 */
export function reconcileDeployment(dep: DeploymentView, pods: PodView[], nowMs: number): Action[] {
  const hash = templateHash(dep.spec.template);
  const stopping = pods.filter((p) => p.deleting);
  const finished = pods.filter((p) => !p.deleting && isFinished(p));
  const live = pods.filter((p) => !p.deleting && !isFinished(p));
  const current = live.filter((p) => p.templateHash === hash);
  const old = live.filter((p) => p.templateHash !== hash);
  const replicas = dep.spec.replicas ?? 1;

  const actions: Action[] = finished.map((p) => ({ type: "deletePod", podId: p.id, reason: `pod ${p.phase}` }));
  if (!dep.spec.paused) {
    const plan: ScalePlan =
      dep.spec.strategy?.type === "Recreate"
        ? recreateStep(replicas, current, old, stopping.length)
        : rollingStep(replicas, dep.spec.strategy?.rollingUpdate, current, old);
    actions.push(...planActions(dep, hash, plan));
  }

  const status = deploymentStatus(dep, current, live, nowMs);
  if (statusChanged(dep.status, status)) actions.push({ type: "updateStatus", status });
  return actions;
}

function planActions(dep: DeploymentView, hash: string, plan: ScalePlan): Action[] {
  const actions: Action[] = [];
  for (let i = 0; i < plan.create; i++) actions.push({ type: "createPod", pod: podDraft(dep, hash) });
  for (const { pod, reason } of plan.delete) actions.push({ type: "deletePod", podId: pod.id, reason });
  if (plan.create > 0) {
    actions.push({
      type: "recordEvent",
      eventType: "Normal",
      reason: "ScalingUp",
      message: `Created ${plan.create} pod(s) of template ${hash}`,
    });
  }
  if (plan.delete.length > 0) {
    const why = [...new Set(plan.delete.map((d) => d.reason))].join(", ");
    actions.push({
      type: "recordEvent",
      eventType: "Normal",
      reason: "ScalingDown",
      message: `Deleting ${plan.delete.length} pod(s): ${why}`,
    });
  }
  return actions;
}

function podDraft(dep: DeploymentView, hash: string): PodDraft {
  const spec = dep.spec.template.spec;
  const requests = podRequests(spec as Parameters<typeof podRequests>[0]);
  return {
    namespace: dep.namespace,
    generateName: `${dep.name}-${hash}-`,
    labels: { ...(dep.spec.template.metadata?.labels ?? {}), [TEMPLATE_HASH_LABEL]: hash },
    annotations: { ...(dep.spec.template.metadata?.annotations ?? {}) },
    templateHash: hash,
    spec,
    cpuMillis: requests.cpuMillis,
    memoryBytes: requests.memoryBytes,
    owner: { kind: "Deployment", name: dep.name, uid: dep.uid },
  };
}
