/**
 * Namespace (v1). Cluster-scoped in Kubernetes, but here a tenant owns its
 * namespaces (DESIGN.md, Tenancy), so it is the one cluster-scoped kind a
 * tenant may apply. The platform's own namespaces are reserved.
 */
import { z } from "zod";
import { stringList } from "./fields.js";
import { objectMeta } from "./meta.js";
import { dnsLabel } from "./names.js";

export const RESERVED_NAMESPACES: readonly string[] = Object.freeze(["kube-system", "kube-public", "kube-node-lease"]);

/** The label Kubernetes puts on every namespace, so that selectors can pick namespaces by name. */
export const NAMESPACE_NAME_LABEL = "kubernetes.io/metadata.name";

const namespaceName = () =>
  dnsLabel().refine((name) => !RESERVED_NAMESPACES.includes(name), "is reserved for the platform");

export const NamespaceManifest = z
  .strictObject({
    apiVersion: z.literal("v1"),
    kind: z.literal("Namespace"),
    metadata: objectMeta(namespaceName()),
    spec: z.strictObject({ finalizers: stringList().optional() }).optional(),
    status: z.unknown().optional(),
  })
  .superRefine((namespace, ctx) => {
    if (namespace.metadata.namespace === undefined) return;
    const message = "may not be set: a Namespace is not inside a namespace";
    ctx.addIssue({ code: "custom", path: ["metadata", "namespace"], message });
  })
  .transform(({ status: _status, ...manifest }) => manifest);
export type NamespaceManifest = z.infer<typeof NamespaceManifest>;

/** As `SetDefaults_Namespace`: the name label is always present and always right. */
export function defaultNamespace(namespace: NamespaceManifest): NamespaceManifest {
  const { metadata } = namespace;
  return {
    ...namespace,
    metadata: { ...metadata, labels: { ...metadata.labels, [NAMESPACE_NAME_LABEL]: metadata.name } },
  };
}
