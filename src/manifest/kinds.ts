/**
 * The kinds the platform accepts (with the names a client may call them by),
 * the cluster-scoped kinds it refuses to tenants, and the manifest union handed
 * to the rest of the platform.
 */
import type { AppManifest } from "./app.js";
import type { ConfigMapManifest } from "./configmap.js";
import type { DaemonSetManifest } from "./daemonset.js";
import type { DeploymentManifest } from "./deployment.js";
import type { IngressManifest } from "./ingress.js";
import type { NamespaceManifest } from "./namespace.js";
import type { PodDisruptionBudgetManifest } from "./pdb.js";
import type { PodManifest } from "./pod-manifest.js";
import type { PersistentVolumeClaimManifest } from "./pvc.js";
import type { ReplicaSetManifest } from "./replicaset.js";
import type { ReplicationControllerManifest } from "./replicationcontroller.js";
import type { SecretManifest } from "./secret.js";
import type { ServiceManifest } from "./service.js";
import type { ServiceAccountManifest } from "./serviceaccount.js";
import type { StatefulSetManifest } from "./statefulset.js";

/** Discriminated on `kind`; after validateManifest, Kubernetes' defaults are applied. */
export type Manifest =
  | DeploymentManifest
  | StatefulSetManifest
  | DaemonSetManifest
  | ReplicaSetManifest
  | ReplicationControllerManifest
  | PodManifest
  | ServiceManifest
  | IngressManifest
  | PersistentVolumeClaimManifest
  | PodDisruptionBudgetManifest
  | ConfigMapManifest
  | SecretManifest
  | ServiceAccountManifest
  | NamespaceManifest
  | AppManifest;

export type SupportedKind = Manifest["kind"];

/** What parseManifests returns: Apps are expanded, so only Kubernetes kinds remain. */
export type ExpandedManifest = Exclude<Manifest, AppManifest>;

export interface KindInfo {
  kind: string;
  apiVersion: string;
  /** The lower-case plural of REST paths and `kubectl get deployments`. */
  plural: string;
  shortNames: string[];
  /** False for Namespace, the one cluster-scoped kind a tenant may apply. */
  namespaced: boolean;
}

function entry(kind: SupportedKind, apiVersion: string, plural: string, shortNames: string[], namespaced = true) {
  return Object.freeze({ kind, apiVersion, plural, shortNames: Object.freeze(shortNames) as string[], namespaced });
}

const ENTRIES = [
  entry("Deployment", "apps/v1", "deployments", ["deploy"]),
  entry("StatefulSet", "apps/v1", "statefulsets", ["sts"]),
  entry("DaemonSet", "apps/v1", "daemonsets", ["ds"]),
  entry("ReplicaSet", "apps/v1", "replicasets", ["rs"]),
  entry("ReplicationController", "v1", "replicationcontrollers", ["rc"]),
  entry("Pod", "v1", "pods", ["po"]),
  entry("Service", "v1", "services", ["svc"]),
  entry("Ingress", "networking.k8s.io/v1", "ingresses", ["ing"]),
  entry("PersistentVolumeClaim", "v1", "persistentvolumeclaims", ["pvc"]),
  entry("PodDisruptionBudget", "policy/v1", "poddisruptionbudgets", ["pdb"]),
  entry("ConfigMap", "v1", "configmaps", ["cm"]),
  entry("Secret", "v1", "secrets", []),
  entry("ServiceAccount", "v1", "serviceaccounts", ["sa"]),
  entry("Namespace", "v1", "namespaces", ["ns"], false),
  entry("App", "kubernease.dev/v1", "apps", []),
] as const;

/** Every kind validateManifest accepts, in the order error messages list them. */
export const KINDS: readonly KindInfo[] = Object.freeze(ENTRIES);

export const SUPPORTED_KINDS: readonly { apiVersion: string; kind: SupportedKind }[] = Object.freeze(
  ENTRIES.map(({ kind, apiVersion }) => Object.freeze({ kind, apiVersion })),
);

export function kindInfo(kind: string): KindInfo | undefined {
  return KINDS.find((info) => info.kind === kind);
}

/** A kind a client may have meant: the same name in another case, or its plural or a short name. */
export function nearKind(name: string): KindInfo | undefined {
  const lower = name.toLowerCase();
  return KINDS.find(
    (info) => info.kind.toLowerCase() === lower || info.plural === lower || info.shortNames.includes(lower),
  );
}

/**
 * Cluster-scoped kinds: they configure the platform itself (nodes, storage,
 * access control, admission, API extensions), so they belong to the operator.
 * Namespace is cluster-scoped too, but tenants own theirs and may apply it.
 */
export const OPERATOR_KINDS: readonly string[] = Object.freeze([
  "PersistentVolume",
  "StorageClass",
  "ClusterRole",
  "ClusterRoleBinding",
  "CustomResourceDefinition",
  "APIService",
  "PriorityClass",
  "Node",
  "ValidatingWebhookConfiguration",
  "MutatingWebhookConfiguration",
  "ValidatingAdmissionPolicy",
  "ValidatingAdmissionPolicyBinding",
  "IngressClass",
  "RuntimeClass",
  "CSIDriver",
  "CSINode",
  "VolumeAttachment",
  "VolumeSnapshotClass",
  "FlowSchema",
  "PriorityLevelConfiguration",
  "CertificateSigningRequest",
]);
