/**
 * src/manifest: tenant manifests from text to typed, defaulted objects.
 * Imports nothing of ours but src/core.
 */

export { APP_DEFAULTS, AppManifest, AppSpec } from "./app.js";
export { ConfigMapManifest } from "./configmap.js";
export { Container } from "./container.js";
export { DaemonSetManifest, DaemonSetSpec } from "./daemonset.js";
export { MAX_DATA_BYTES } from "./data.js";
export { applyDefaults, defaultPullPolicy } from "./defaults.js";
export { DeploymentManifest, DeploymentSpec } from "./deployment.js";
export type { FieldError } from "./errors.js";
export { APP_MANAGED_BY, type ExpandResult, expandApp, expandAppChecked } from "./expand-app.js";
export { IngressBackend, IngressManifest, IngressSpec } from "./ingress.js";
export {
  type ExpandedManifest,
  KINDS,
  type KindInfo,
  kindInfo,
  type Manifest,
  OPERATOR_KINDS,
  SUPPORTED_KINDS,
  type SupportedKind,
} from "./kinds.js";
export { DEFAULT_LIMITS, type ParseLimits } from "./limits.js";
export { type ParseManifestsResult, parseManifests } from "./manifests.js";
export { LabelSelector, ObjectMeta, TemplateMeta } from "./meta.js";
export { NAMESPACE_NAME_LABEL, NamespaceManifest, RESERVED_NAMESPACES } from "./namespace.js";
export { type ManifestFormat, type ParseResult, parseDocuments } from "./parse.js";
export { PodDisruptionBudgetManifest, PodDisruptionBudgetSpec } from "./pdb.js";
export { PodSpec, PodTemplateSpec } from "./pod.js";
export { PodManifest } from "./pod-manifest.js";
export { ALLOWED_ADDED_CAPABILITIES, type PodSecurityLevel, podSecurityErrors } from "./podSecurity.js";
export {
  ClaimTemplate,
  DEFAULT_STORAGE_CLASS,
  PersistentVolumeClaimManifest,
  PersistentVolumeClaimSpec,
  STORAGE_CLASSES,
} from "./pvc.js";
export { ReplicaSetManifest, ReplicaSetSpec } from "./replicaset.js";
export { ReplicationControllerManifest, ReplicationControllerSpec } from "./replicationcontroller.js";
export { type PodRequests, podRequests } from "./requests.js";
export { DEFAULT_SECRET_TYPE, SecretManifest } from "./secret.js";
export { ServiceManifest, ServicePort, ServiceSpec } from "./service.js";
export { ServiceAccountManifest } from "./serviceaccount.js";
export { StatefulSetManifest, StatefulSetSpec } from "./statefulset.js";
export { type ValidateOptions, type ValidateResult, validateManifest } from "./validate.js";
