/**
 * An App into what it stands for: a Deployment, a Service in front of it and,
 * with a domain, an Ingress. The expansion is built as documents and put
 * through validateManifest like any hand-written manifest, so it gets the same
 * checks and defaults, and callers (and dry runs) see exactly what is stored.
 */
import { type AppManifest, defaultApp } from "./app.js";
import type { FieldError } from "./errors.js";
import type { ExpandedManifest } from "./kinds.js";
import { type ValidateOptions, validateManifest } from "./validate.js";

export const APP_MANAGED_BY = "kubernease-app";
const MANAGED_BY_LABEL = "app.kubernetes.io/managed-by";
const SERVICE_PORT = 80;
const PORT_NAME = "http";

export type ExpandResult = { ok: true; manifests: ExpandedManifest[] } | { ok: false; errors: FieldError[] };

/**
 * The manifests an App expands into, validated and defaulted. A validated App
 * always expands cleanly, so a failure here is a bug in the expansion: thrown.
 */
export function expandApp(app: AppManifest): ExpandedManifest[] {
  const result = expandAppChecked(app);
  if (!result.ok)
    throw new Error(`App "${app.metadata.name}" expanded into invalid manifests: ${JSON.stringify(result.errors)}`);
  return result.manifests;
}

/** As expandApp, with the errors returned instead of thrown, tagged with the App's document index. */
export function expandAppChecked(
  app: AppManifest,
  documentIndex?: number,
  options: ValidateOptions = {},
): ExpandResult {
  const full = defaultApp(app);
  const documents = [deploymentDoc(full), serviceDoc(full), ...(full.spec.domain ? [ingressDoc(full)] : [])];
  const manifests: ExpandedManifest[] = [];
  const errors: FieldError[] = [];
  for (const document of documents) {
    const result = validateManifest(document, documentIndex, options);
    if (!result.ok) errors.push(...result.errors.map((error) => expansionError(document.kind, error)));
    else if (result.manifest.kind !== "App") manifests.push(result.manifest);
  }
  return errors.length > 0 ? { ok: false, errors } : { ok: true, manifests };
}

function expansionError(kind: string, error: FieldError): FieldError {
  return { ...error, path: "spec", message: `expands into an invalid ${kind}: ${error.path}: ${error.message}` };
}

function labelsOf(app: AppManifest): Record<string, string> {
  return { ...app.metadata.labels, app: app.metadata.name, [MANAGED_BY_LABEL]: APP_MANAGED_BY };
}

function metadataOf(app: AppManifest) {
  const { name, namespace } = app.metadata;
  return { name, ...(namespace && { namespace }), labels: labelsOf(app) };
}

function deploymentDoc(app: AppManifest) {
  const { name } = app.metadata;
  const { spec } = app;
  const probe = spec.health ? { httpGet: { path: spec.health, port: spec.port } } : undefined;
  const container = {
    name,
    image: spec.image,
    ports: [{ name: PORT_NAME, containerPort: spec.port }],
    ...(spec.env && { env: Object.entries(spec.env).map(([envName, value]) => ({ name: envName, value })) }),
    resources: { requests: { cpu: spec.cpu, memory: spec.memory }, limits: { memory: spec.memory } },
    ...(probe && { readinessProbe: probe, livenessProbe: probe }),
  };
  return {
    apiVersion: "apps/v1",
    kind: "Deployment",
    metadata: metadataOf(app),
    spec: {
      replicas: spec.replicas,
      selector: { matchLabels: { app: name } },
      template: { metadata: { labels: labelsOf(app) }, spec: { containers: [container] } },
    },
  };
}

function serviceDoc(app: AppManifest) {
  return {
    apiVersion: "v1",
    kind: "Service",
    metadata: metadataOf(app),
    spec: {
      selector: { app: app.metadata.name },
      ports: [{ name: PORT_NAME, port: SERVICE_PORT, targetPort: app.spec.port }],
    },
  };
}

function ingressDoc(app: AppManifest) {
  const backend = { service: { name: app.metadata.name, port: { number: SERVICE_PORT } } };
  return {
    apiVersion: "networking.k8s.io/v1",
    kind: "Ingress",
    metadata: metadataOf(app),
    spec: { rules: [{ host: app.spec.domain, http: { paths: [{ path: "/", pathType: "Prefix", backend }] } }] },
  };
}
