/**
 * One document to one typed manifest: kind and apiVersion first (so a tenant
 * who sends a CronJob or a StorageClass hears that once, not a list of field
 * errors), then the strict schema of the kind, then Kubernetes' defaults.
 */

import { applyDefaults } from "./defaults.js";
import { type FieldError, humanErrorMap, issuesToFieldErrors, withDocument } from "./errors.js";
import { type Manifest, nearKind, OPERATOR_KINDS, SUPPORTED_KINDS, type SupportedKind } from "./kinds.js";
import { dropNulls, isPlainObject } from "./object.js";
import { type PodSecurityLevel, podSecurityErrors } from "./podSecurity.js";
import { KIND_SCHEMAS } from "./schemas.js";

export type ValidateResult = { ok: true; manifest: Manifest } | { ok: false; errors: FieldError[] };

export interface ValidateOptions {
  /**
   * Whose pods these are: `tenant` (the default, so a caller that forgets is safe) refuses pods that
   * reach the node (podSecurity.ts); `operator` admits them, for node agents.
   */
  podSecurity?: PodSecurityLevel;
}

/** Validates one document (strict: unknown fields are errors), applies Kubernetes defaults, returns a typed manifest. */
export function validateManifest(doc: unknown, documentIndex?: number, options: ValidateOptions = {}): ValidateResult {
  const result = validateFields(doc);
  if (!result.ok) return { ok: false, errors: withDocument(result.errors, documentIndex) };
  const refused = options.podSecurity === "operator" ? [] : podSecurityErrors(result.manifest);
  if (refused.length > 0) return { ok: false, errors: withDocument(refused, documentIndex) };
  return { ok: true, manifest: applyDefaults(result.manifest) };
}

function validateFields(doc: unknown): ValidateResult {
  if (!isPlainObject(doc)) return { ok: false, errors: [{ path: "", message: "document must be an object" }] };
  const kindErrors = checkKind(doc);
  if (kindErrors.length > 0) return { ok: false, errors: kindErrors };
  const schema = KIND_SCHEMAS[doc.kind as SupportedKind];
  const parsed = schema.safeParse(dropNulls(doc), { error: humanErrorMap });
  if (!parsed.success) return { ok: false, errors: issuesToFieldErrors(parsed.error.issues) };
  return { ok: true, manifest: parsed.data };
}

function describeSupported(): string {
  return SUPPORTED_KINDS.map(({ kind, apiVersion }) => `${kind} (${apiVersion})`).join(", ");
}

function unsupportedKind(kind: string): FieldError {
  if (OPERATOR_KINDS.includes(kind)) {
    const message = `kind ${JSON.stringify(kind)} is cluster-scoped and belongs to the platform operator; tenants cannot apply it`;
    return { path: "kind", message };
  }
  const near = nearKind(kind);
  const hint = near ? ` (did you mean "${near.kind}"?)` : "";
  const message = `kind ${JSON.stringify(kind)} is not supported; supported kinds: ${describeSupported()}${hint}`;
  return { path: "kind", message };
}

function requiredString(path: string, value: unknown): FieldError[] {
  if (value === undefined || value === null || value === "") return [{ path, message: "required" }];
  if (typeof value !== "string") return [{ path, message: "must be a string" }];
  return [];
}

function checkKind(doc: Record<string, unknown>): FieldError[] {
  const { kind, apiVersion } = doc;
  const kindErrors = requiredString("kind", kind);
  if (kindErrors.length > 0) return [...kindErrors, ...requiredString("apiVersion", apiVersion)];
  const supported = SUPPORTED_KINDS.find((entry) => entry.kind === kind);
  if (!supported) return [unsupportedKind(String(kind))];
  const versionErrors = requiredString("apiVersion", apiVersion);
  if (versionErrors.length > 0) return versionErrors;
  if (apiVersion !== supported.apiVersion) {
    return [
      {
        path: "apiVersion",
        message: `apiVersion ${JSON.stringify(apiVersion)} is not supported for kind ${supported.kind}; use "${supported.apiVersion}"`,
      },
    ];
  }
  return [];
}
