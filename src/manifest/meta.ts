/**
 * ObjectMeta and LabelSelector, shared by every kind.
 *
 * Clients often send back what they read (`kubectl get -o yaml`), so the
 * server-owned fields (uid, generation, creationTimestamp, managedFields, …) are
 * accepted and then dropped: the platform owns them and never trusts a tenant's
 * copy. `resourceVersion` is kept, because an update may carry it as a
 * precondition.
 */
import { z } from "zod";
import { int64, stringList } from "./fields.js";
import { Annotations, dnsLabel, dnsSubdomain, Labels, labelKey, labelValue } from "./names.js";

const OwnerReference = z.strictObject({
  apiVersion: z.string(),
  kind: z.string(),
  name: z.string(),
  uid: z.string(),
  controller: z.boolean().optional(),
  blockOwnerDeletion: z.boolean().optional(),
});

/** Accepted so that round-tripped objects validate; removed from the output. */
const serverOwnedShape = {
  uid: z.string().optional(),
  generation: int64(0).optional(),
  creationTimestamp: z.string().optional(),
  deletionTimestamp: z.string().optional(),
  deletionGracePeriodSeconds: int64(0).optional(),
  selfLink: z.string().optional(),
  managedFields: z.array(z.unknown()).optional(),
};

const metaShape = {
  namespace: dnsLabel().optional(),
  generateName: z.string().max(253, "must be no more than 253 characters").optional(),
  labels: Labels.optional(),
  annotations: Annotations.optional(),
  resourceVersion: z.string().optional(),
  ownerReferences: z.array(OwnerReference).optional(),
  finalizers: stringList().optional(),
  ...serverOwnedShape,
};

function dropServerOwned<T extends Record<string, unknown>>(meta: T): Omit<T, keyof typeof serverOwnedShape> {
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(meta)) {
    if (!Object.hasOwn(serverOwnedShape, key)) out[key] = value;
  }
  return out as Omit<T, keyof typeof serverOwnedShape>;
}

/**
 * Metadata of a top-level object. `nameSchema` differs per kind: Deployments
 * take DNS-1123 subdomains, Services DNS-1035 labels (their name becomes a DNS label).
 */
export function objectMeta<N extends z.ZodType<string>>(nameSchema: N) {
  return z.strictObject({ name: nameSchema, ...metaShape }).transform(dropServerOwned);
}

/** The generic form (a DNS-1123 subdomain name); kinds narrow the name rule. */
export const ObjectMeta = objectMeta(dnsSubdomain());
export type ObjectMeta = z.infer<typeof ObjectMeta>;

/** A pod template's metadata: no name of its own, and `creationTimestamp: null` is common in exported objects. */
export const TemplateMeta = z.strictObject({ name: z.string().optional(), ...metaShape }).transform(dropServerOwned);
export type TemplateMeta = z.infer<typeof TemplateMeta>;

const SelectorRequirement = z
  .strictObject({
    key: labelKey(),
    operator: z.enum(["In", "NotIn", "Exists", "DoesNotExist"]),
    values: z.array(labelValue()).optional(),
  })
  .superRefine((req, ctx) => {
    const hasValues = (req.values ?? []).length > 0;
    // `continue: false` stops checks further up (does the selector match?) from judging a broken selector.
    if ((req.operator === "In" || req.operator === "NotIn") && !hasValues) {
      const message = `must be non-empty for operator ${req.operator}`;
      ctx.addIssue({ code: "custom", path: ["values"], message, continue: false });
    }
    if ((req.operator === "Exists" || req.operator === "DoesNotExist") && hasValues) {
      const message = `must be empty for operator ${req.operator}`;
      ctx.addIssue({ code: "custom", path: ["values"], message, continue: false });
    }
  });

export const LabelSelector = z.strictObject({
  matchLabels: Labels.optional(),
  matchExpressions: z.array(SelectorRequirement).optional(),
});
export type LabelSelector = z.infer<typeof LabelSelector>;

export function isEmptySelector(selector: LabelSelector): boolean {
  return Object.keys(selector.matchLabels ?? {}).length === 0 && (selector.matchExpressions ?? []).length === 0;
}
