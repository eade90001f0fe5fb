import { placementFor, reconcileClaim, type VolumeView, volumeNameFor } from "../controllers/volume.js";
import { SYSTEM_TENANT } from "../core/tenancy.js";
import type { ObjectRef, PodRecord, StoredObject } from "../db/types.js";
import { createPlatformObject, recordEvent } from "./apply.js";
import { claimsOf } from "./batchable.js";
import type { JobContext } from "./context.js";
import { objectKey } from "./keys.js";
import { claimView } from "./views.js";

/** Volumes are the platform's: they live in the reserved `system` tenant, cluster-wide (empty namespace). */
const VOLUME_KIND = "PersistentVolume";

async function systemTenantId(ctx: Pick<JobContext, "store">): Promise<string> {
  const tenant = await ctx.store.getTenantByName(SYSTEM_TENANT);
  if (!tenant) throw new Error("the system tenant is missing; the platform was not bootstrapped");
  return tenant.id;
}

const volumeRef = (systemId: string, name: string): ObjectRef => ({
  tenantId: systemId,
  kind: VOLUME_KIND,
  namespace: "",
  name,
});

function volumeView(object: StoredObject): VolumeView {
  return { name: object.name, spec: object.spec as VolumeView["spec"] };
}

/** The `reconcile` job of a PersistentVolumeClaim: provision its volume, report it Bound; a deleted claim's volume goes. */
export async function reconcileClaimRef(ctx: JobContext, ref: ObjectRef): Promise<void> {
  const systemId = await systemTenantId(ctx);
  const claim = await ctx.store.getObject(ref);
  if (!claim) return releaseVolumes(ctx, systemId, ref);
  const existing = await ctx.store.getObject(volumeRef(systemId, volumeNameFor(claim)));
  for (const action of reconcileClaim(claimView(claim), existing && volumeView(existing))) {
    if (action.type === "provisionVolume") {
      const spec = { ...action.spec, claimRef: { ...(action.spec.claimRef as object), tenantId: ref.tenantId } };
      await createPlatformObject(ctx, volumeRef(systemId, action.name), {
        apiVersion: "v1",
        labels: {},
        annotations: {},
        spec,
      });
    } else {
      await ctx.store.updateObjectStatus(claim, action.status, { nowMs: ctx.clock.now() });
      if (claim.status.phase !== "Bound") {
        const involved = { ...ref, uid: claim.uid };
        await recordEvent(
          ctx,
          involved,
          "Normal",
          "ProvisioningSucceeded",
          `Bound to volume ${action.status.volumeName}`,
        );
      }
      // Pods that waited for this claim may be placed now.
      for (const pod of await ctx.store.listPods({ tenantId: ref.tenantId, namespace: ref.namespace, unbound: true })) {
        if (claimsOf(pod).includes(ref.name)) await ctx.queue.enqueue("schedule", pod.id);
      }
    }
  }
}

/** While a deleted claim's volume is still mounted by a pod on its node, the claim is looked at again this often. */
export const VOLUME_IN_USE_RETRY_MS = 2_000;

/**
 * A deleted claim's volumes go (reclaim policy Delete): the data on the node first, through the
 * provider, then the PersistentVolume object. While a pod still mounts the data the object stays and
 * the claim is looked at again later, so a crash or a retry between the two steps loses nothing.
 */
async function releaseVolumes(ctx: JobContext, systemId: string, ref: ObjectRef): Promise<void> {
  const volumes = await ctx.store.listObjects({ kind: VOLUME_KIND, tenantId: systemId });
  let inUse = false;
  for (const volume of volumes) {
    const claimRef = volume.spec.claimRef as { tenantId?: string; namespace?: string; name?: string } | undefined;
    if (claimRef?.tenantId !== ref.tenantId || claimRef.namespace !== ref.namespace || claimRef.name !== ref.name) {
      continue;
    }
    if (!(await removeData(ctx, ref, volumeView(volume)))) {
      inUse = true;
      continue;
    }
    await ctx.store.deleteObject(volume, { nowMs: ctx.clock.now() });
  }
  if (inUse) await ctx.queue.enqueue("reconcile", objectKey(ref), VOLUME_IN_USE_RETRY_MS);
}

/** Removes the volume's data from its node; false while a pod there still mounts it. */
async function removeData(ctx: JobContext, ref: ObjectRef, volume: VolumeView): Promise<boolean> {
  const nodeName = volume.spec.nodeName;
  // Never placed: no pod ever ran with it, so no node holds data.
  if (!nodeName || !ctx.provider.removeVolume) return true;
  // The provider names a claim's data by the claim's name: a claim of that name made since owns it now.
  if (await ctx.store.getObject(ref)) return true;
  return ctx.provider.removeVolume(nodeName, { tenantId: ref.tenantId, namespace: ref.namespace, claimName: ref.name });
}

/** A pod's claim by name, and the volume behind it when it has one. */
async function claimAndVolume(ctx: Pick<JobContext, "store">, systemId: string, pod: PodRecord, name: string) {
  const claim = await ctx.store.getObject({
    tenantId: pod.tenantId,
    kind: "PersistentVolumeClaim",
    namespace: pod.namespace,
    name,
  });
  const volume = claim && (await ctx.store.getObject(volumeRef(systemId, volumeNameFor(claim))));
  return { claim, volume };
}

export interface Placement {
  requiredNodes: { node: string; why: "pinned" | "volume" }[];
  /** Why the pod cannot be placed yet, whatever the nodes (a missing or unbound claim, a volume still held). */
  waiting?: string;
}

/** What a pod's own node pin and its volumes require of its placement. */
export async function placementOf(ctx: Pick<JobContext, "store">, pod: PodRecord): Promise<Placement> {
  const requiredNodes: Placement["requiredNodes"] = [];
  if (typeof pod.spec.nodeName === "string") requiredNodes.push({ node: pod.spec.nodeName, why: "pinned" });
  const claims = claimsOf(pod);
  if (claims.length === 0) return { requiredNodes };
  const systemId = await systemTenantId(ctx);
  const neighbours = await ctx.store.listPods({ tenantId: pod.tenantId, namespace: pod.namespace });
  for (const name of claims) {
    const { claim, volume } = await claimAndVolume(ctx, systemId, pod, name);
    if (!claim) return { requiredNodes, waiting: `persistentvolumeclaim "${name}" not found` };
    if (!volume || claim.status.phase !== "Bound")
      return { requiredNodes, waiting: `persistentvolumeclaim "${name}" is not bound yet` };
    const holders = neighbours
      .filter((p) => p.id !== pod.id && claimsOf(p).includes(name))
      .map((p) => ({ nodeName: p.nodeName, deleting: p.deletionRequestedAt !== null }));
    const placement = placementFor(volumeView(volume), holders);
    if (placement.blocked) return { requiredNodes, waiting: `persistentvolumeclaim "${name}": ${placement.blocked}` };
    if (placement.node) requiredNodes.push({ node: placement.node, why: "volume" });
  }
  return { requiredNodes };
}

/** After a bind: the pod's volumes now live on its node (a network volume moves there). */
export async function pinVolumes(ctx: JobContext, pod: PodRecord, nodeName: string): Promise<void> {
  const claims = claimsOf(pod);
  if (claims.length === 0) return;
  const systemId = await systemTenantId(ctx);
  for (const name of claims) {
    const { volume } = await claimAndVolume(ctx, systemId, pod, name);
    if (!volume || volume.spec.nodeName === nodeName) continue;
    const change = {
      apiVersion: volume.apiVersion,
      labels: volume.labels,
      annotations: volume.annotations,
      spec: { ...volume.spec, nodeName },
    };
    await ctx.store.updateObject(volume, change, {
      expectedResourceVersion: volume.resourceVersion,
      nowMs: ctx.clock.now(),
    });
    await ctx.queue.enqueue(
      "reconcile",
      objectKey({ tenantId: pod.tenantId, kind: "PersistentVolumeClaim", namespace: pod.namespace, name }),
    );
  }
}

/** How many `local` volumes each node holds: data that lives there, with or without a pod on it now. */
export async function localVolumesByNode(ctx: Pick<JobContext, "store">): Promise<Map<string, number>> {
  const systemId = await systemTenantId(ctx);
  const counts = new Map<string, number>();
  for (const volume of await ctx.store.listObjects({ kind: VOLUME_KIND, tenantId: systemId })) {
    const { nodeName, storageClassName } = volumeView(volume).spec;
    if (storageClassName === "local" && nodeName) counts.set(nodeName, (counts.get(nodeName) ?? 0) + 1);
  }
  return counts;
}
