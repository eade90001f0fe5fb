/** The kinds the platform accepts, and the manifest union handed to the rest of the platform. */
import type { DeploymentManifest } from "./deployment.js";
import type { ServiceManifest } from "./service.js";

export type SupportedKind = "Deployment" | "Service";

export const SUPPORTED_KINDS: readonly { apiVersion: string; kind: SupportedKind }[] = Object.freeze([
  Object.freeze({ apiVersion: "apps/v1", kind: "Deployment" as const }),
  Object.freeze({ apiVersion: "v1", kind: "Service" as const }),
]);

/** Discriminated on `kind`; after validateManifest, Kubernetes' defaults are applied. */
export type Manifest = DeploymentManifest | ServiceManifest;
