/**
 * Deployment (apps/v1). Besides the field rules, the checks Kubernetes makes
 * on a Deployment as a whole: a non-empty selector that selects its own
 * template, pods that restart, and a rollout that can make progress.
 */
import { z } from "zod";
import { int32, intOrPercent } from "./fields.js";
import { addIssues } from "./issues.js";
import { LabelSelector, objectMeta } from "./meta.js";
import { dnsSubdomain } from "./names.js";
import { PodTemplateSpec } from "./pod.js";
import { defaultTemplate } from "./pod-defaults.js";
import {
  DEFAULT_REVISION_HISTORY_LIMIT,
  defaultRollingStrategy,
  isZero,
  restartAlwaysIssues,
  selectorIssues,
} from "./workload.js";

export const DEFAULT_PROGRESS_DEADLINE_SECONDS = 600;
export const DEFAULT_MAX_SURGE = "25%";
export const DEFAULT_MAX_UNAVAILABLE = "25%";

const DeploymentStrategy = z
  .strictObject({
    type: z.enum(["RollingUpdate", "Recreate"]).optional(),
    rollingUpdate: z
      .strictObject({ maxSurge: intOrPercent().optional(), maxUnavailable: intOrPercent().optional() })
      .optional(),
  })
  .superRefine((strategy, ctx) => {
    if (strategy.type === "Recreate" && strategy.rollingUpdate !== undefined) {
      ctx.addIssue({ code: "custom", path: ["rollingUpdate"], message: "may not be set when type is Recreate" });
    }
    const { maxSurge = DEFAULT_MAX_SURGE, maxUnavailable = DEFAULT_MAX_UNAVAILABLE } = strategy.rollingUpdate ?? {};
    // With neither surge nor unavailability allowed, no pod could ever be replaced.
    if (isZero(maxSurge) && isZero(maxUnavailable)) {
      ctx.addIssue({
        code: "custom",
        path: ["rollingUpdate", "maxUnavailable"],
        message: "may not be 0 when maxSurge is 0",
      });
    }
  });

export const DeploymentSpec = z
  .strictObject({
    replicas: int32(0).optional(),
    selector: LabelSelector,
    template: PodTemplateSpec,
    strategy: DeploymentStrategy.optional(),
    minReadySeconds: int32(0).optional(),
    revisionHistoryLimit: int32(0).optional(),
    progressDeadlineSeconds: int32(1).optional(),
    paused: z.boolean().optional(),
  })
  .superRefine(deploymentChecks);
export type DeploymentSpec = z.infer<typeof DeploymentSpec>;

interface CheckedSpec {
  selector: LabelSelector;
  template: PodTemplateSpec;
  minReadySeconds?: number;
  progressDeadlineSeconds?: number;
}

function deploymentChecks(spec: CheckedSpec, ctx: z.core.$RefinementCtx) {
  addIssues(ctx, [
    ...selectorIssues(spec.selector, spec.template),
    ...restartAlwaysIssues(spec.template, "Deployment"),
  ]);
  const deadline = spec.progressDeadlineSeconds ?? DEFAULT_PROGRESS_DEADLINE_SECONDS;
  if (deadline <= (spec.minReadySeconds ?? 0)) {
    ctx.addIssue({
      code: "custom",
      path: ["progressDeadlineSeconds"],
      message: "must be greater than minReadySeconds",
    });
  }
}

export const DeploymentManifest = z
  .strictObject({
    apiVersion: z.literal("apps/v1"),
    kind: z.literal("Deployment"),
    metadata: objectMeta(dnsSubdomain()),
    spec: DeploymentSpec,
    // Status belongs to the platform; a round-tripped object may carry it, and it is dropped.
    status: z.unknown().optional(),
  })
  .transform(({ status: _status, ...manifest }) => manifest);
export type DeploymentManifest = z.infer<typeof DeploymentManifest>;

export function defaultDeployment(deployment: DeploymentManifest): DeploymentManifest {
  const spec = deployment.spec;
  return {
    ...deployment,
    spec: {
      ...spec,
      replicas: spec.replicas ?? 1,
      strategy: defaultRollingStrategy(spec.strategy, {
        maxSurge: DEFAULT_MAX_SURGE,
        maxUnavailable: DEFAULT_MAX_UNAVAILABLE,
      }),
      revisionHistoryLimit: spec.revisionHistoryLimit ?? DEFAULT_REVISION_HISTORY_LIMIT,
      progressDeadlineSeconds: spec.progressDeadlineSeconds ?? DEFAULT_PROGRESS_DEADLINE_SECONDS,
      template: defaultTemplate(spec.template),
    },
  };
}
