import type { PodRecord, StoredObject } from "../db/types.js";
import type { Snapshot } from "./snapshot.js";

/** The workload kinds a scenario names and whose Ready replicas the report follows. */
export const WORKLOAD_KINDS = ["Deployment", "StatefulSet", "ReplicaSet"] as const;

export interface WorkloadState {
  /** `Kind/name`, with `namespace/` in front outside `default`. */
  key: string;
  kind: string;
  namespace: string;
  name: string;
  desired: number;
  ready: number;
  /** Images of the Ready pods' containers. */
  images: string[];
}

export function workloadKey(object: { kind: string; namespace: string; name: string }): string {
  const base = `${object.kind}/${object.name}`;
  return object.namespace === "default" ? base : `${object.namespace}/${base}`;
}

/**
 * Which workload a scenario means: `web` (any kind, if only one is so named),
 * `Deployment/web`, or `namespace/Deployment/web`.
 */
export function matchesWorkload(reference: string, w: { kind: string; namespace: string; name: string }): boolean {
  const parts = reference.split("/");
  if (parts.length === 1) return w.name === parts[0];
  if (parts.length === 2) return w.kind === parts[0] && w.name === parts[1] && w.namespace === "default";
  return w.namespace === parts[0] && w.kind === parts[1] && w.name === parts[2];
}

/** Deployments, StatefulSets and ReplicaSets no Deployment owns, with their desired and Ready replicas now. */
export function workloadStates(s: Snapshot): WorkloadState[] {
  const podsByOwner = new Map<string, PodRecord[]>();
  for (const pod of s.pods) {
    if (pod.ownerUid === null || pod.deletionRequestedAt !== null) continue;
    const owned = podsByOwner.get(pod.ownerUid);
    if (owned) owned.push(pod);
    else podsByOwner.set(pod.ownerUid, [pod]);
  }
  const readyOf = (uids: string[]) => uids.flatMap((uid) => podsByOwner.get(uid) ?? []).filter((p) => p.ready);
  const state = (object: StoredObject, ready: PodRecord[]): WorkloadState => ({
    key: workloadKey(object),
    kind: object.kind,
    namespace: object.namespace,
    name: object.name,
    desired: (object.spec.replicas as number | undefined) ?? 1,
    ready: ready.length,
    images: [...new Set(ready.flatMap(imagesOf))].sort(),
  });
  const states = [
    ...s.deployments.map((d) =>
      state(d, readyOf(s.replicaSets.filter((rs) => rs.ownerUid === d.uid).map((rs) => rs.uid))),
    ),
    ...s.statefulSets.map((sts) => state(sts, readyOf([sts.uid]))),
    ...s.replicaSets.filter((rs) => rs.ownerKind === null).map((rs) => state(rs, readyOf([rs.uid]))),
  ];
  return states.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
}

/** Images by pod spec: a pod's spec object is kept across its status writes, so each is read once. */
const imagesBySpec = new WeakMap<object, string[]>();

function imagesOf(pod: PodRecord): string[] {
  const known = imagesBySpec.get(pod.spec);
  if (known) return known;
  const containers = (pod.spec.containers as { image?: string }[] | undefined) ?? [];
  const images = containers.map((c) => c.image ?? "").filter(Boolean);
  imagesBySpec.set(pod.spec, images);
  return images;
}
