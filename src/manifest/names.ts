/**
 * Name syntaxes Kubernetes enforces (apimachinery `validation.go`), as zod
 * schemas with the messages tenants see. Keeping them identical to Kubernetes
 * means a manifest that works there works here, and the reverse.
 */
import { z } from "zod";

const DNS1123_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const DNS1123_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const DNS1035_LABEL = /^[a-z]([-a-z0-9]*[a-z0-9])?$/;
const IANA_SVC_NAME = /^[a-z0-9]([a-z0-9-]*[a-z0-9])?$/;
const QUALIFIED_NAME_PART = /^[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$/;

export const LABEL_MESSAGE =
  'must be a valid DNS-1123 label (lowercase letters, digits and "-", starting and ending with a letter or digit)';
export const SUBDOMAIN_MESSAGE =
  'must be a valid DNS-1123 subdomain (lowercase letters, digits, "-" and ".", starting and ending with a letter or digit)';
export const DNS1035_MESSAGE =
  'must be a valid DNS-1035 label (lowercase letters, digits and "-", starting with a letter and ending with a letter or digit)';
const PORT_NAME_MESSAGE =
  'must be a valid port name (at most 15 lowercase letters, digits and "-", with at least one letter, no "--", not starting or ending with "-")';
const LABEL_VALUE_MESSAGE =
  'must be empty or at most 63 characters of letters, digits, "-", "_" and ".", starting and ending with a letter or digit';

export function isDns1123Label(value: string): boolean {
  return value.length <= 63 && DNS1123_LABEL.test(value);
}

export function isDns1035Label(value: string): boolean {
  return value.length <= 63 && DNS1035_LABEL.test(value);
}

export function isDns1123Subdomain(value: string): boolean {
  return value.length <= 253 && DNS1123_SUBDOMAIN.test(value);
}

/** IANA service names are how containers name ports (`http`, `metrics`); named targetPorts refer to them. */
export function isPortName(value: string): boolean {
  return value.length <= 15 && IANA_SVC_NAME.test(value) && !value.includes("--") && /[a-z]/.test(value);
}

/** `prefix/name` or `name`: the key syntax of labels, annotations and label selectors. */
export function qualifiedNameProblem(key: string): string | undefined {
  const slash = key.lastIndexOf("/");
  const prefix = slash === -1 ? undefined : key.slice(0, slash);
  const name = slash === -1 ? key : key.slice(slash + 1);
  if (prefix !== undefined && !isDns1123Subdomain(prefix))
    return `key prefix ${JSON.stringify(prefix)} ${SUBDOMAIN_MESSAGE}`;
  if (name.length === 0 || name.length > 63 || !QUALIFIED_NAME_PART.test(name)) {
    return `key ${JSON.stringify(key)} must have a name part of at most 63 letters, digits, "-", "_" and ".", starting and ending with a letter or digit, with an optional DNS subdomain prefix and "/"`;
  }
  return undefined;
}

export function isLabelValue(value: string): boolean {
  return value === "" || (value.length <= 63 && QUALIFIED_NAME_PART.test(value));
}

// An empty name reads better as "required" than as a syntax error, and then the syntax check is moot.
const nonEmpty = () => z.string().min(1, { error: "required", abort: true });

export const dnsLabel = () =>
  nonEmpty().max(63, "must be no more than 63 characters").regex(DNS1123_LABEL, LABEL_MESSAGE);

export const dnsSubdomain = () =>
  nonEmpty().max(253, "must be no more than 253 characters").regex(DNS1123_SUBDOMAIN, SUBDOMAIN_MESSAGE);

export const dns1035Label = () =>
  nonEmpty().max(63, "must be no more than 63 characters").regex(DNS1035_LABEL, DNS1035_MESSAGE);

export const portName = () => z.string().refine(isPortName, PORT_NAME_MESSAGE);

export const labelKey = () =>
  z.string().superRefine((key, ctx) => {
    const problem = qualifiedNameProblem(key);
    if (problem) ctx.addIssue({ code: "custom", message: problem });
  });

export const labelValue = () => z.string().refine(isLabelValue, LABEL_VALUE_MESSAGE);

/** Labels: qualified-name keys, short values; the error sits on the offending key. */
export const Labels = z.record(z.string(), labelValue()).superRefine((labels, ctx) => {
  for (const key of Object.keys(labels)) {
    const problem = qualifiedNameProblem(key);
    if (problem) ctx.addIssue({ code: "custom", message: problem, path: [key] });
  }
});

const ANNOTATIONS_MAX_BYTES = 256 * 1024;

/** Annotations: qualified-name keys, any string value, 256 KiB in total as in Kubernetes. */
export const Annotations = z.record(z.string(), z.string()).superRefine((annotations, ctx) => {
  let totalBytes = 0;
  for (const [key, value] of Object.entries(annotations)) {
    totalBytes += Buffer.byteLength(key) + Buffer.byteLength(value);
    // Kubernetes checks annotation keys case-insensitively (it lowercases them first).
    const problem = qualifiedNameProblem(key.toLowerCase());
    if (problem) ctx.addIssue({ code: "custom", message: problem, path: [key] });
  }
  if (totalBytes > ANNOTATIONS_MAX_BYTES) {
    ctx.addIssue({ code: "custom", message: `annotations total ${totalBytes} bytes; the limit is 256 KiB` });
  }
});
