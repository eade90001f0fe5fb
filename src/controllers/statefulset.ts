import { templateHash } from "../core/hash.js";
import { isAvailable } from "./availability.js";
import { statusChanged } from "./deploymentStatus.js";
import { isFinished } from "./podRank.js";
import { podDraft } from "./pods.js";
import type { Action, ClaimDraft, Json, PodView, StatefulSetView } from "./types.js";

export const POD_NAME_LABEL = "statefulset.kubernetes.io/pod-name";
export const POD_INDEX_LABEL = "apps.kubernetes.io/pod-index";
export const REVISION_HASH_LABEL = "controller-revision-hash";

/** `web-2` → 2, for pods of StatefulSet `web`. */
export function ordinalOf(setName: string, podName: string): number | undefined {
  const suffix = podName.slice(setName.length + 1);
  return podName.startsWith(`${setName}-`) && /^\d+$/.test(suffix) ? Number(suffix) : undefined;
}

export function claimName(template: string, setName: string, ordinal: number): string {
  return `${template}-${setName}-${ordinal}`;
}

const isHealthy = (p: PodView) => !p.deleting && p.phase === "Running" && p.ready;

/**
 * Reconciles a StatefulSet. Pure. Pods have stable names `<name>-<ordinal>`, so
 * one ordinal can never have two pods (the name is taken until the old pod is
 * gone). OrderedReady creates ordinals in order and removes them in reverse, one
 * at a time, each waiting for the one before to be Running and Ready; Parallel
 * does all at once. A rolling update replaces ordinals from the highest down to
 * `partition`, one at a time. Each ordinal has its own claims, made before its pod
 * and kept across pod restarts.
 */
export function reconcileStatefulSet(
  sts: StatefulSetView,
  pods: PodView[],
  claims: Set<string>,
  nowMs: number,
): Action[] {
  const start = sts.spec.ordinals?.start ?? 0;
  const replicas = sts.spec.replicas ?? 1;
  const ordered = sts.spec.podManagementPolicy !== "Parallel";
  const hash = templateHash(sts.spec.template);
  const byOrdinal = new Map<number, PodView>();
  for (const pod of pods) {
    const ordinal = ordinalOf(sts.name, pod.name);
    if (ordinal !== undefined) byOrdinal.set(ordinal, pod);
  }
  const wanted = (o: number) => o >= start && o < start + replicas;
  const actions: Action[] = [];

  for (const pod of pods) {
    if (!pod.deleting && isFinished(pod))
      actions.push({ type: "deletePod", podId: pod.id, reason: `pod ${pod.phase}` });
  }
  const blocked = createMissing(sts, byOrdinal, claims, hash, ordered, start, replicas, actions);
  const condemned = [...byOrdinal.entries()].filter(([o]) => !wanted(o)).sort(([a], [b]) => b - a);
  if (!(ordered && blocked)) removeCondemned(condemned, ordered, actions);
  if (!blocked && condemned.length === 0) rollingUpdate(sts, byOrdinal, hash, start, replicas, actions);
  releaseClaims(sts, byOrdinal, claims, start, replicas, actions);

  const status = statefulSetStatus(
    sts,
    [...byOrdinal.entries()].filter(([o]) => wanted(o)).map(([, p]) => p),
    hash,
    nowMs,
  );
  if (statusChanged(sts.status, status)) actions.push({ type: "updateStatus", status });
  return actions;
}

/** Creates missing ordinals (and their claims); returns true when an ordinal is not yet healthy. */
function createMissing(
  sts: StatefulSetView,
  byOrdinal: Map<number, PodView>,
  claims: Set<string>,
  hash: string,
  ordered: boolean,
  start: number,
  replicas: number,
  actions: Action[],
): boolean {
  let blocked = false;
  for (let ordinal = start; ordinal < start + replicas; ordinal++) {
    const pod = byOrdinal.get(ordinal);
    if (!pod) {
      for (const claim of claimsFor(sts, ordinal))
        if (!claims.has(claim.name)) actions.push({ type: "createClaim", claim });
      actions.push({ type: "createPod", pod: ordinalPod(sts, ordinal, hash) });
      actions.push({
        type: "recordEvent",
        eventType: "Normal",
        reason: "SuccessfulCreate",
        message: `create Pod ${sts.name}-${ordinal} in StatefulSet ${sts.name} successful`,
      });
      blocked = true;
    } else if (!isHealthy(pod)) blocked = true;
    if (blocked && ordered) return true;
  }
  return blocked;
}

function removeCondemned(condemned: [number, PodView][], ordered: boolean, actions: Action[]): void {
  for (const [, pod] of condemned) {
    if (pod.deleting) {
      if (ordered) return;
      continue;
    }
    actions.push({ type: "deletePod", podId: pod.id, reason: "scaled down" });
    if (ordered) return;
  }
}

/** Replaces the highest ordinal still on an old template, down to `partition`, one at a time. */
function rollingUpdate(
  sts: StatefulSetView,
  byOrdinal: Map<number, PodView>,
  hash: string,
  start: number,
  replicas: number,
  actions: Action[],
): void {
  if (sts.spec.updateStrategy?.type === "OnDelete") return;
  const partition = Math.max(start, sts.spec.updateStrategy?.rollingUpdate?.partition ?? 0);
  for (let ordinal = start + replicas - 1; ordinal >= partition; ordinal--) {
    const pod = byOrdinal.get(ordinal);
    if (!pod || pod.deleting) return;
    if (pod.templateHash !== hash) {
      actions.push({ type: "deletePod", podId: pod.id, reason: "rolling update to a new template" });
      return;
    }
  }
}

/** With `whenScaled: Delete`, the claims of ordinals scaled away go once their pods are gone. */
function releaseClaims(
  sts: StatefulSetView,
  byOrdinal: Map<number, PodView>,
  claims: Set<string>,
  start: number,
  replicas: number,
  actions: Action[],
): void {
  if (sts.spec.persistentVolumeClaimRetentionPolicy?.whenScaled !== "Delete") return;
  for (const template of sts.spec.volumeClaimTemplates ?? []) {
    for (const name of claims) {
      const ordinal = ordinalOf(`${template.metadata.name}-${sts.name}`, name);
      if (ordinal === undefined || (ordinal >= start && ordinal < start + replicas) || byOrdinal.has(ordinal)) continue;
      actions.push({ type: "deleteClaim", name });
    }
  }
}

export function claimsFor(sts: StatefulSetView, ordinal: number): ClaimDraft[] {
  const deleteWithSet = sts.spec.persistentVolumeClaimRetentionPolicy?.whenDeleted === "Delete";
  return (sts.spec.volumeClaimTemplates ?? []).map((t) => ({
    name: claimName(t.metadata.name, sts.name, ordinal),
    labels: { ...(sts.spec.selector.matchLabels ?? {}), ...(t.metadata.labels ?? {}) },
    annotations: { ...(t.metadata.annotations ?? {}) },
    spec: t.spec,
    ...(deleteWithSet ? { owner: { kind: "StatefulSet", name: sts.name, uid: sts.uid } } : {}),
  }));
}

function ordinalPod(sts: StatefulSetView, ordinal: number, hash: string) {
  const name = `${sts.name}-${ordinal}`;
  const claimVolumes = (sts.spec.volumeClaimTemplates ?? []).map((t) => ({
    name: t.metadata.name,
    persistentVolumeClaim: { claimName: claimName(t.metadata.name, sts.name, ordinal) },
  }));
  const spec: Json = {
    ...sts.spec.template.spec,
    hostname: name,
    ...(sts.spec.serviceName ? { subdomain: sts.spec.serviceName } : {}),
    volumes: [...((sts.spec.template.spec.volumes as Json[] | undefined) ?? []), ...claimVolumes],
  };
  const labels = {
    ...(sts.spec.template.metadata?.labels ?? {}),
    [POD_NAME_LABEL]: name,
    [POD_INDEX_LABEL]: String(ordinal),
    [REVISION_HASH_LABEL]: `${sts.name}-${hash}`,
  };
  const template = { metadata: { ...sts.spec.template.metadata, labels }, spec };
  return {
    ...podDraft({ kind: "StatefulSet", name: sts.name, uid: sts.uid }, sts.namespace, template, `${sts.name}-`, hash),
    name,
  };
}

function statefulSetStatus(sts: StatefulSetView, pods: PodView[], hash: string, nowMs: number): Json {
  const live = pods.filter((p) => !p.deleting);
  const updated = live.filter((p) => p.templateHash === hash).length;
  const previous = sts.status as { currentRevision?: string };
  const updateRevision = `${sts.name}-${hash}`;
  const allUpdated = updated === (sts.spec.replicas ?? 1) && live.length === updated;
  const currentRevision = allUpdated || !previous.currentRevision ? updateRevision : previous.currentRevision;
  return {
    observedGeneration: sts.generation,
    replicas: live.length,
    readyReplicas: live.filter((p) => p.ready).length,
    availableReplicas: live.filter((p) => isAvailable(p, sts.spec.minReadySeconds ?? 0, nowMs)).length,
    currentReplicas: live.filter((p) => `${sts.name}-${p.templateHash}` === currentRevision).length,
    updatedReplicas: updated,
    currentRevision,
    updateRevision,
  };
}
