/**
 * Placement constraints a tenant may express: node and pod (anti-)affinity,
 * tolerations and topology spread. Modelled structurally because the scheduler
 * evaluates them and "why pending" explains them.
 */
import { z } from "zod";
import { NODE_NAME_LABEL } from "../core/labels.js";
import { int32, int64, stringList } from "./fields.js";
import { LabelSelector } from "./meta.js";

/**
 * Tenants never see nodes (DESIGN.md, Tenancy), so a pod can no more select one by its name label
 * than set `nodeName`: where it would land (or whether it could) would tell the tenant which nodes
 * exist. As a topology key (spread, anti-affinity) the label names no node.
 */
export const NAMES_A_NODE = `names a node, and tenants never see nodes; to spread pods over nodes, use topologyKey ${NODE_NAME_LABEL}`;

const NodeSelectorRequirement = z
  .strictObject({
    key: z.string().min(1),
    operator: z.enum(["In", "NotIn", "Exists", "DoesNotExist", "Gt", "Lt"]),
    values: stringList().optional(),
  })
  .superRefine((requirement, ctx) => {
    if (requirement.key === NODE_NAME_LABEL) ctx.addIssue({ code: "custom", path: ["key"], message: NAMES_A_NODE });
  });

const NodeSelectorTerm = z
  .strictObject({
    matchExpressions: z.array(NodeSelectorRequirement).optional(),
    matchFields: z.array(NodeSelectorRequirement).optional(),
  })
  .superRefine((term, ctx) => {
    // Kubernetes knows one field here, `metadata.name`: the node's name.
    if (term.matchFields !== undefined) ctx.addIssue({ code: "custom", path: ["matchFields"], message: NAMES_A_NODE });
  });

const weight = () => int32(1, 100);

const NodeAffinity = z.strictObject({
  requiredDuringSchedulingIgnoredDuringExecution: z
    .strictObject({ nodeSelectorTerms: z.array(NodeSelectorTerm).min(1) })
    .optional(),
  preferredDuringSchedulingIgnoredDuringExecution: z
    .array(z.strictObject({ weight: weight(), preference: NodeSelectorTerm }))
    .optional(),
});

const PodAffinityTerm = z.strictObject({
  labelSelector: LabelSelector.optional(),
  namespaceSelector: LabelSelector.optional(),
  namespaces: stringList().optional(),
  topologyKey: z.string().min(1, "required"),
  matchLabelKeys: stringList().optional(),
  mismatchLabelKeys: stringList().optional(),
});
export type PodAffinityTerm = z.infer<typeof PodAffinityTerm>;

const PodAffinity = z.strictObject({
  requiredDuringSchedulingIgnoredDuringExecution: z.array(PodAffinityTerm).optional(),
  preferredDuringSchedulingIgnoredDuringExecution: z
    .array(z.strictObject({ weight: weight(), podAffinityTerm: PodAffinityTerm }))
    .optional(),
});

export const Affinity = z.strictObject({
  nodeAffinity: NodeAffinity.optional(),
  podAffinity: PodAffinity.optional(),
  podAntiAffinity: PodAffinity.optional(),
});
export type Affinity = z.infer<typeof Affinity>;

export const Toleration = z
  .strictObject({
    key: z.string().optional(),
    operator: z.enum(["Exists", "Equal"]).optional(),
    value: z.string().optional(),
    effect: z.enum(["NoSchedule", "PreferNoSchedule", "NoExecute"]).optional(),
    tolerationSeconds: int64().optional(),
  })
  .superRefine((toleration, ctx) => {
    if (toleration.operator === "Exists" && toleration.value) {
      ctx.addIssue({ code: "custom", path: ["value"], message: "must be empty when operator is Exists" });
    }
    if (!toleration.key && toleration.operator !== "Exists") {
      ctx.addIssue({ code: "custom", path: ["operator"], message: "must be Exists when key is empty" });
    }
  });
export type Toleration = z.infer<typeof Toleration>;

export const TopologySpreadConstraint = z.strictObject({
  maxSkew: int32(1),
  topologyKey: z.string().min(1, "required"),
  whenUnsatisfiable: z.enum(["DoNotSchedule", "ScheduleAnyway"]),
  labelSelector: LabelSelector.optional(),
  minDomains: int32(1).optional(),
  nodeAffinityPolicy: z.enum(["Honor", "Ignore"]).optional(),
  nodeTaintsPolicy: z.enum(["Honor", "Ignore"]).optional(),
  matchLabelKeys: stringList().optional(),
});
export type TopologySpreadConstraint = z.infer<typeof TopologySpreadConstraint>;
