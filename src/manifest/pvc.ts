/**
 * PersistentVolumeClaim (v1), and the claim templates of a StatefulSet, which
 * share its spec. Tenants cannot create PersistentVolumes or StorageClasses, so
 * a claim names one of the platform's storage classes (DESIGN.md: `local`, a
 * volume on one node; `network`, movable after the old pod is fenced off).
 */
import { z } from "zod";
import { parseQuantity } from "../core/quantity.js";
import { quantity } from "./fields.js";
import { addIssues, type Issue } from "./issues.js";
import { LabelSelector, objectMeta } from "./meta.js";
import { Annotations, dnsLabel, dnsSubdomain, Labels } from "./names.js";

export const STORAGE_CLASSES = ["local", "network"] as const;
export const DEFAULT_STORAGE_CLASS = "local";

const ACCESS_MODES = ["ReadWriteOnce", "ReadOnlyMany", "ReadWriteMany", "ReadWriteOncePod"] as const;

const storageClassName = () =>
  z.string().superRefine((name, ctx) => {
    if ((STORAGE_CLASSES as readonly string[]).includes(name)) return;
    const classes = STORAGE_CLASSES.map((c) => JSON.stringify(c)).join(" and ");
    ctx.addIssue({
      code: "custom",
      message: `storage class ${JSON.stringify(name)} does not exist; the platform's storage classes are ${classes}`,
    });
  });

const TypedObjectReference = z.strictObject({
  apiGroup: z.string().optional(),
  kind: z.string().min(1, "required"),
  name: z.string().min(1, "required"),
});

export const PersistentVolumeClaimSpec = z
  .strictObject({
    accessModes: z.array(z.enum(ACCESS_MODES)).min(1, "must name at least one access mode"),
    resources: z.strictObject({
      requests: z.strictObject({ storage: quantity() }),
      limits: z.strictObject({ storage: quantity().optional() }).optional(),
    }),
    storageClassName: storageClassName().optional(),
    volumeMode: z.enum(["Filesystem", "Block"]).optional(),
    selector: LabelSelector.optional(),
    volumeName: dnsSubdomain().optional(),
    dataSource: TypedObjectReference.optional(),
    dataSourceRef: TypedObjectReference.extend({ namespace: z.string().optional() }).optional(),
    volumeAttributesClassName: z.string().optional(),
  })
  .superRefine((spec, ctx) => addIssues(ctx, [...accessModeIssues(spec.accessModes), ...storageIssues(spec)]));
export type PersistentVolumeClaimSpec = z.infer<typeof PersistentVolumeClaimSpec>;

/** A volume only one pod may use cannot also be shared, so Kubernetes takes ReadWriteOncePod alone. */
function accessModeIssues(modes: readonly string[]): Issue[] {
  if (!modes.includes("ReadWriteOncePod") || modes.length === 1) return [];
  return [{ path: ["accessModes"], message: "ReadWriteOncePod may not be combined with other access modes" }];
}

function storageIssues(spec: PersistentVolumeClaimSpec): Issue[] {
  const request = parseQuantity(spec.resources.requests.storage) ?? 0;
  if (request <= 0) return [{ path: ["resources", "requests", "storage"], message: "must be greater than 0" }];
  const limit = spec.resources.limits?.storage;
  if (limit === undefined || request <= (parseQuantity(limit) ?? 0)) return [];
  return [
    {
      path: ["resources", "requests", "storage"],
      message: `must be less than or equal to the storage limit (${limit})`,
    },
  ];
}

export const PersistentVolumeClaimManifest = z
  .strictObject({
    apiVersion: z.literal("v1"),
    kind: z.literal("PersistentVolumeClaim"),
    metadata: objectMeta(dnsSubdomain()),
    spec: PersistentVolumeClaimSpec,
    // Status (phase, capacity) belongs to the platform; dropped on input.
    status: z.unknown().optional(),
  })
  .transform(({ status: _status, ...manifest }) => manifest);
export type PersistentVolumeClaimManifest = z.infer<typeof PersistentVolumeClaimManifest>;

/**
 * A StatefulSet's claim template: the claim each replica gets. Its name is also
 * the volume name the pod mounts, hence a DNS label. `kubectl get -o yaml`
 * prints apiVersion, kind and status on each template; they are accepted so
 * that round-tripped StatefulSets validate, and the status is dropped.
 */
export const ClaimTemplate = z
  .strictObject({
    apiVersion: z.literal("v1").optional(),
    kind: z.literal("PersistentVolumeClaim").optional(),
    metadata: z.strictObject({ name: dnsLabel(), labels: Labels.optional(), annotations: Annotations.optional() }),
    spec: PersistentVolumeClaimSpec,
    status: z.unknown().optional(),
  })
  .transform(({ status: _status, ...template }) => template);
export type ClaimTemplate = z.infer<typeof ClaimTemplate>;

export function defaultClaimSpec(spec: PersistentVolumeClaimSpec): PersistentVolumeClaimSpec {
  return {
    ...spec,
    storageClassName: spec.storageClassName ?? DEFAULT_STORAGE_CLASS,
    volumeMode: spec.volumeMode ?? "Filesystem",
  };
}

export function defaultPersistentVolumeClaim(claim: PersistentVolumeClaimManifest): PersistentVolumeClaimManifest {
  return { ...claim, spec: defaultClaimSpec(claim.spec) };
}
