/**
 * PodDisruptionBudget (policy/v1): how many of the selected pods voluntary
 * disruptions (a node drain, a rebalancing) may take down at once. The budget
 * is stated one way, as a floor or as a ceiling, never both.
 */
import { z } from "zod";
import { intOrPercent } from "./fields.js";
import { addIssues, type Issue } from "./issues.js";
import { LabelSelector, objectMeta } from "./meta.js";
import { dnsSubdomain } from "./names.js";

export const PodDisruptionBudgetSpec = z
  .strictObject({
    minAvailable: intOrPercent().optional(),
    maxUnavailable: intOrPercent().optional(),
    selector: LabelSelector.optional(),
    unhealthyPodEvictionPolicy: z.enum(["IfHealthyBudget", "AlwaysAllow"]).optional(),
  })
  .superRefine((spec, ctx) => addIssues(ctx, budgetIssues(spec)));
export type PodDisruptionBudgetSpec = z.infer<typeof PodDisruptionBudgetSpec>;

function budgetIssues(spec: { minAvailable?: unknown; maxUnavailable?: unknown }): Issue[] {
  const hasMin = spec.minAvailable !== undefined;
  const hasMax = spec.maxUnavailable !== undefined;
  if (hasMin && hasMax) return [{ path: ["maxUnavailable"], message: "may not be set together with minAvailable" }];
  if (!hasMin && !hasMax) return [{ path: [], message: "must set one of minAvailable or maxUnavailable" }];
  return [];
}

export const PodDisruptionBudgetManifest = z
  .strictObject({
    apiVersion: z.literal("policy/v1"),
    kind: z.literal("PodDisruptionBudget"),
    metadata: objectMeta(dnsSubdomain()),
    spec: PodDisruptionBudgetSpec,
    status: z.unknown().optional(),
  })
  .transform(({ status: _status, ...manifest }) => manifest);
export type PodDisruptionBudgetManifest = z.infer<typeof PodDisruptionBudgetManifest>;
