/** ReplicaSet (apps/v1): a number of identical pods, usually owned by a Deployment. */
import { z } from "zod";
import { int32 } from "./fields.js";
import { addIssues } from "./issues.js";
import { LabelSelector, objectMeta } from "./meta.js";
import { dnsSubdomain } from "./names.js";
import { PodTemplateSpec } from "./pod.js";
import { defaultTemplate } from "./pod-defaults.js";
import { restartAlwaysIssues, selectorIssues } from "./workload.js";

export const ReplicaSetSpec = z
  .strictObject({
    replicas: int32(0).optional(),
    selector: LabelSelector,
    template: PodTemplateSpec,
    minReadySeconds: int32(0).optional(),
  })
  .superRefine((spec, ctx) =>
    addIssues(ctx, [
      ...selectorIssues(spec.selector, spec.template),
      ...restartAlwaysIssues(spec.template, "ReplicaSet"),
    ]),
  );
export type ReplicaSetSpec = z.infer<typeof ReplicaSetSpec>;

export const ReplicaSetManifest = z
  .strictObject({
    apiVersion: z.literal("apps/v1"),
    kind: z.literal("ReplicaSet"),
    metadata: objectMeta(dnsSubdomain()),
    spec: ReplicaSetSpec,
    status: z.unknown().optional(),
  })
  .transform(({ status: _status, ...manifest }) => manifest);
export type ReplicaSetManifest = z.infer<typeof ReplicaSetManifest>;

export function defaultReplicaSet(replicaSet: ReplicaSetManifest): ReplicaSetManifest {
  const spec = replicaSet.spec;
  return { ...replicaSet, spec: { ...spec, replicas: spec.replicas ?? 1, template: defaultTemplate(spec.template) } };
}
