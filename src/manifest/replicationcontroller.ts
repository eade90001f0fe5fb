/**
 * ReplicationController (v1), the ReplicaSet's predecessor, still common in
 * older examples. Its selector is a plain equality map; when absent, Kubernetes
 * takes the template's labels as the selector (and as the object's labels).
 */
import { z } from "zod";
import { int32 } from "./fields.js";
import { addIssues, type Issue } from "./issues.js";
import { objectMeta } from "./meta.js";
import { dnsSubdomain, Labels } from "./names.js";
import { PodTemplateSpec } from "./pod.js";
import { defaultTemplate } from "./pod-defaults.js";
import { restartAlwaysIssues } from "./workload.js";

export const ReplicationControllerSpec = z
  .strictObject({
    replicas: int32(0).optional(),
    selector: Labels.optional(),
    template: PodTemplateSpec,
    minReadySeconds: int32(0).optional(),
  })
  .superRefine((spec, ctx) =>
    addIssues(ctx, [...selectorIssues(spec), ...restartAlwaysIssues(spec.template, "ReplicationController")]),
  );
export type ReplicationControllerSpec = z.infer<typeof ReplicationControllerSpec>;

function selectorIssues(spec: ReplicationControllerSpec): Issue[] {
  const labels = spec.template.metadata?.labels ?? {};
  const selector = spec.selector ?? labels;
  if (Object.keys(selector).length === 0) {
    const message =
      spec.selector === undefined ? "required when the template has no labels to take it from" : "must not be empty";
    return [{ path: ["selector"], message }];
  }
  if (Object.entries(selector).every(([key, value]) => labels[key] === value)) return [];
  return [{ path: ["template", "metadata", "labels"], message: "selector does not match template labels" }];
}

export const ReplicationControllerManifest = z
  .strictObject({
    apiVersion: z.literal("v1"),
    kind: z.literal("ReplicationController"),
    metadata: objectMeta(dnsSubdomain()),
    spec: ReplicationControllerSpec,
    status: z.unknown().optional(),
  })
  .transform(({ status: _status, ...manifest }) => manifest);
export type ReplicationControllerManifest = z.infer<typeof ReplicationControllerManifest>;

/** As `SetDefaults_ReplicationController`: selector and, when absent, the object's labels come from the template. */
export function defaultReplicationController(controller: ReplicationControllerManifest): ReplicationControllerManifest {
  const spec = controller.spec;
  const templateLabels = spec.template.metadata?.labels ?? {};
  const labels = controller.metadata.labels ?? {};
  return {
    ...controller,
    metadata: {
      ...controller.metadata,
      ...(Object.keys(labels).length === 0 &&
        Object.keys(templateLabels).length > 0 && { labels: { ...templateLabels } }),
    },
    spec: {
      ...spec,
      replicas: spec.replicas ?? 1,
      selector: spec.selector ?? { ...templateLabels },
      template: defaultTemplate(spec.template),
    },
  };
}
