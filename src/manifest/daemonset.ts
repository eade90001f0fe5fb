/**
 * DaemonSet (apps/v1): one pod on each eligible node. The platform runs these
 * for the operator (node agents in the `system` tenant); which tenants may
 * apply one is admission policy, decided elsewhere.
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

export const DEFAULT_DAEMONSET_MAX_UNAVAILABLE = 1;
export const DEFAULT_DAEMONSET_MAX_SURGE = 0;

const UpdateStrategy = z
  .strictObject({
    type: z.enum(["RollingUpdate", "OnDelete"]).optional(),
    rollingUpdate: z
      .strictObject({ maxUnavailable: intOrPercent().optional(), maxSurge: intOrPercent().optional() })
      .optional(),
  })
  .superRefine((strategy, ctx) => {
    if (strategy.type === "OnDelete" && strategy.rollingUpdate !== undefined) {
      ctx.addIssue({ code: "custom", path: ["rollingUpdate"], message: "may not be set when type is OnDelete" });
    }
    const { maxUnavailable = DEFAULT_DAEMONSET_MAX_UNAVAILABLE, maxSurge = DEFAULT_DAEMONSET_MAX_SURGE } =
      strategy.rollingUpdate ?? {};
    // With neither surge nor unavailability allowed, no node's pod could ever be replaced.
    if (isZero(maxUnavailable) && isZero(maxSurge)) {
      const message = "may not be 0 when maxSurge is 0";
      ctx.addIssue({ code: "custom", path: ["rollingUpdate", "maxUnavailable"], message });
    }
  });

export const DaemonSetSpec = z
  .strictObject({
    selector: LabelSelector,
    template: PodTemplateSpec,
    updateStrategy: UpdateStrategy.optional(),
    minReadySeconds: int32(0).optional(),
    revisionHistoryLimit: int32(0).optional(),
  })
  .superRefine((spec, ctx) =>
    addIssues(ctx, [
      ...selectorIssues(spec.selector, spec.template),
      ...restartAlwaysIssues(spec.template, "DaemonSet"),
    ]),
  );
export type DaemonSetSpec = z.infer<typeof DaemonSetSpec>;

export const DaemonSetManifest = z
  .strictObject({
    apiVersion: z.literal("apps/v1"),
    kind: z.literal("DaemonSet"),
    metadata: objectMeta(dnsSubdomain()),
    spec: DaemonSetSpec,
    status: z.unknown().optional(),
  })
  .transform(({ status: _status, ...manifest }) => manifest);
export type DaemonSetManifest = z.infer<typeof DaemonSetManifest>;

export function defaultDaemonSet(daemonSet: DaemonSetManifest): DaemonSetManifest {
  const spec = daemonSet.spec;
  return {
    ...daemonSet,
    spec: {
      ...spec,
      updateStrategy: defaultRollingStrategy(spec.updateStrategy, {
        maxSurge: DEFAULT_DAEMONSET_MAX_SURGE,
        maxUnavailable: DEFAULT_DAEMONSET_MAX_UNAVAILABLE,
      }),
      revisionHistoryLimit: spec.revisionHistoryLimit ?? DEFAULT_REVISION_HISTORY_LIMIT,
      template: defaultTemplate(spec.template),
    },
  };
}
