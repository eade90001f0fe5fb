/**
 * src/manifest: tenant manifests from text to typed, defaulted objects.
 * Imports nothing of ours but src/core.
 */

export { Container } from "./container.js";
export { applyDefaults, defaultPullPolicy } from "./defaults.js";
export { DeploymentManifest, DeploymentSpec } from "./deployment.js";
export type { FieldError } from "./errors.js";
export { type Manifest, SUPPORTED_KINDS, type SupportedKind } from "./kinds.js";
export { DEFAULT_LIMITS, type ParseLimits } from "./limits.js";
export { type ParseManifestsResult, parseManifests } from "./manifests.js";
export { LabelSelector, ObjectMeta, TemplateMeta } from "./meta.js";
export { type ManifestFormat, type ParseResult, parseDocuments } from "./parse.js";
export { PodSpec, PodTemplateSpec } from "./pod.js";
export { type PodRequests, podRequests } from "./requests.js";
export { ServiceManifest, ServicePort, ServiceSpec } from "./service.js";
export { type ValidateResult, validateManifest } from "./validate.js";
