import { memoryBytes } from "../core/quantity.js";
import type { Json } from "./types.js";

/**
 * Claims and the volumes behind them. A claim gets its own volume at once
 * (dynamic provisioning, reclaim policy Delete); the volume is placed where its
 * first pod lands (WaitForFirstConsumer). A `local` volume stays on that node for
 * good; a `network` volume may follow its pod to another node once no other pod
 * holds it. The volume, and the node it lives on, are the platform's: tenants see
 * the claim, Bound, and its volume's name.
 */
export interface ClaimView {
  name: string;
  namespace: string;
  uid: string;
  spec: { storageClassName?: string; accessModes?: string[]; resources?: { requests?: { storage?: string | number } } };
  status: Json;
}

export interface VolumeView {
  name: string;
  spec: { nodeName?: string | null; storageClassName: string; claimUid: string };
}

export type StorageClass = "local" | "network";

export function volumeNameFor(claim: { uid: string }): string {
  return `pvc-${claim.uid}`;
}

export function storageClassOf(claim: ClaimView): StorageClass {
  return claim.spec.storageClassName === "network" ? "network" : "local";
}

export type VolumeAction =
  | { type: "provisionVolume"; name: string; spec: Json }
  | { type: "updateStatus"; status: Json };

/** Provisions a claim's volume when it has none, and reports the claim Bound to it. Pure. */
export function reconcileClaim(claim: ClaimView, volume: VolumeView | undefined): VolumeAction[] {
  const actions: VolumeAction[] = [];
  const name = volumeNameFor(claim);
  const storage = claim.spec.resources?.requests?.storage ?? "0";
  if (!volume) {
    actions.push({
      type: "provisionVolume",
      name,
      spec: {
        capacity: { storage },
        capacityBytes: memoryBytes(storage),
        accessModes: claim.spec.accessModes ?? ["ReadWriteOnce"],
        storageClassName: storageClassOf(claim),
        persistentVolumeReclaimPolicy: "Delete",
        claimRef: { namespace: claim.namespace, name: claim.name, uid: claim.uid },
        claimUid: claim.uid,
        nodeName: null,
      },
    });
  }
  const status = {
    phase: "Bound",
    volumeName: name,
    accessModes: claim.spec.accessModes ?? ["ReadWriteOnce"],
    capacity: { storage },
  };
  if (JSON.stringify(claim.status) !== JSON.stringify(status)) actions.push({ type: "updateStatus", status });
  return actions;
}

/** Another pod that still holds the claim (running, starting or stopping). */
export interface Holder {
  nodeName: string | null;
  deleting: boolean;
}

/**
 * Where a pod using this volume may run: `undefined` for anywhere; a node name
 * when it must go there; `blocked` while a network volume is still held by a pod
 * being stopped elsewhere (it moves once that pod is fenced off).
 */
export function placementFor(volume: VolumeView, holders: Holder[]): { node?: string; blocked?: string } {
  const pinned = volume.spec.nodeName ?? undefined;
  if (volume.spec.storageClassName === "local") return pinned ? { node: pinned } : {};
  const live = holders.find((h) => !h.deleting && h.nodeName);
  if (live?.nodeName) return { node: live.nodeName };
  if (holders.some((h) => h.deleting && h.nodeName))
    return { blocked: "its network volume is still held by a stopping pod" };
  return {};
}
