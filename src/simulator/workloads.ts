import type { StoredObject } from "../db/types.js";
import { podIndexOf } from "./podIndex.js";
import { replicaSetsOf, type Snapshot } from "./snapshot.js";

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
  const index = podIndexOf(s);
  const state = (object: StoredObject, owners: string[]): WorkloadState => {
    let ready = 0;
    const images = new Set<string>();
    for (const uid of owners) {
      ready += index.readyByOwner.get(uid) ?? 0;
      for (const image of index.readyImagesByOwner.get(uid)?.keys() ?? []) images.add(image);
    }
    return {
      key: workloadKey(object),
      kind: object.kind,
      namespace: object.namespace,
      name: object.name,
      desired: (object.spec.replicas as number | undefined) ?? 1,
      ready,
      images: [...images].sort(),
    };
  };
  const states = [
    ...s.deployments.map((d) =>
      state(
        d,
        replicaSetsOf(s, d.uid).map((rs) => rs.uid),
      ),
    ),
    ...s.statefulSets.map((sts) => state(sts, [sts.uid])),
    ...s.replicaSets.filter((rs) => rs.ownerKind === null).map((rs) => state(rs, [rs.uid])),
  ];
  return states.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
}
