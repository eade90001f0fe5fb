/**
 * StatefulSet (apps/v1): pods with stable ordinals, each with its own claims
 * made from the volumeClaimTemplates. Besides the rules all workloads share,
 * claim template names are unique, and a container may mount a claim template
 * by name as well as a pod volume.
 */
import { z } from "zod";
import { int32, intOrPercent } from "./fields.js";
import { addIssues, type Issue, under } from "./issues.js";
import { LabelSelector, objectMeta } from "./meta.js";
import { DNS1035_MESSAGE, dnsSubdomain, isDns1035Label } from "./names.js";
import { mountIssues, type PodTemplateSpec, StatefulPodTemplateSpec } from "./pod.js";
import { defaultTemplate } from "./pod-defaults.js";
import { ClaimTemplate, defaultClaimSpec } from "./pvc.js";
import { DEFAULT_REVISION_HISTORY_LIMIT, isZero, restartAlwaysIssues, selectorIssues } from "./workload.js";

const UpdateStrategy = z
  .strictObject({
    type: z.enum(["RollingUpdate", "OnDelete"]).optional(),
    rollingUpdate: z
      .strictObject({ partition: int32(0).optional(), maxUnavailable: intOrPercent().optional() })
      .optional(),
  })
  .superRefine((strategy, ctx) => {
    if (strategy.type === "OnDelete" && strategy.rollingUpdate !== undefined) {
      ctx.addIssue({ code: "custom", path: ["rollingUpdate"], message: "may not be set when type is OnDelete" });
    }
    const maxUnavailable = strategy.rollingUpdate?.maxUnavailable;
    if (maxUnavailable !== undefined && isZero(maxUnavailable)) {
      ctx.addIssue({ code: "custom", path: ["rollingUpdate", "maxUnavailable"], message: "must be greater than 0" });
    }
  });

const RetentionPolicy = z.enum(["Retain", "Delete"]);

// Empty means "no governing Service" in current Kubernetes; otherwise it names a Service.
const serviceName = () =>
  z
    .string()
    .refine((name) => name === "" || isDns1035Label(name), `must be empty or a Service name: ${DNS1035_MESSAGE}`);

export const StatefulSetSpec = z
  .strictObject({
    replicas: int32(0).optional(),
    selector: LabelSelector,
    template: StatefulPodTemplateSpec,
    serviceName: serviceName().optional(),
    volumeClaimTemplates: z.array(ClaimTemplate).optional(),
    podManagementPolicy: z.enum(["OrderedReady", "Parallel"]).optional(),
    updateStrategy: UpdateStrategy.optional(),
    revisionHistoryLimit: int32(0).optional(),
    minReadySeconds: int32(0).optional(),
    persistentVolumeClaimRetentionPolicy: z
      .strictObject({ whenDeleted: RetentionPolicy.optional(), whenScaled: RetentionPolicy.optional() })
      .optional(),
    ordinals: z.strictObject({ start: int32(0).optional() }).optional(),
  })
  .superRefine(statefulSetChecks);
export type StatefulSetSpec = z.infer<typeof StatefulSetSpec>;

interface CheckedSpec {
  selector: LabelSelector;
  template: PodTemplateSpec;
  volumeClaimTemplates?: ClaimTemplate[];
}

function statefulSetChecks(spec: CheckedSpec, ctx: z.core.$RefinementCtx) {
  const claimNames = (spec.volumeClaimTemplates ?? []).map((claim) => claim.metadata.name);
  addIssues(ctx, [
    ...selectorIssues(spec.selector, spec.template),
    ...restartAlwaysIssues(spec.template, "StatefulSet"),
    ...duplicateClaimNames(claimNames),
    ...under(["template", "spec"], mountIssues(spec.template.spec, claimNames)),
  ]);
}

function duplicateClaimNames(names: readonly string[]): Issue[] {
  const issues: Issue[] = [];
  for (const [index, name] of names.entries()) {
    if (names.indexOf(name) === index) continue;
    const message = `duplicate volumeClaimTemplate name "${name}"`;
    issues.push({ path: ["volumeClaimTemplates", index, "metadata", "name"], message });
  }
  return issues;
}

export const StatefulSetManifest = z
  .strictObject({
    apiVersion: z.literal("apps/v1"),
    kind: z.literal("StatefulSet"),
    metadata: objectMeta(dnsSubdomain()),
    spec: StatefulSetSpec,
    status: z.unknown().optional(),
  })
  .transform(({ status: _status, ...manifest }) => manifest);
export type StatefulSetManifest = z.infer<typeof StatefulSetManifest>;

export function defaultStatefulSet(statefulSet: StatefulSetManifest): StatefulSetManifest {
  const spec = statefulSet.spec;
  const retention = spec.persistentVolumeClaimRetentionPolicy;
  return {
    ...statefulSet,
    spec: {
      ...spec,
      replicas: spec.replicas ?? 1,
      podManagementPolicy: spec.podManagementPolicy ?? "OrderedReady",
      updateStrategy: defaultUpdateStrategy(spec.updateStrategy),
      revisionHistoryLimit: spec.revisionHistoryLimit ?? DEFAULT_REVISION_HISTORY_LIMIT,
      persistentVolumeClaimRetentionPolicy: {
        whenDeleted: retention?.whenDeleted ?? "Retain",
        whenScaled: retention?.whenScaled ?? "Retain",
      },
      template: defaultTemplate(spec.template),
      ...(spec.volumeClaimTemplates && {
        volumeClaimTemplates: spec.volumeClaimTemplates.map((claim) => ({
          ...claim,
          spec: defaultClaimSpec(claim.spec),
        })),
      }),
    },
  };
}

type Strategy = NonNullable<StatefulSetSpec["updateStrategy"]>;

function defaultUpdateStrategy(strategy: Strategy | undefined): Strategy {
  const type = strategy?.type ?? "RollingUpdate";
  if (type === "OnDelete") return { ...strategy, type };
  return {
    ...strategy,
    type,
    rollingUpdate: { ...strategy?.rollingUpdate, partition: strategy?.rollingUpdate?.partition ?? 0 },
  };
}
