/**
 * Secret (v1): base64 `data`, plus `stringData` for convenience, which the API
 * server merges into `data` (stringData winning on a shared key) and never
 * stores. The well-known types require the keys their consumers read.
 */
import { z } from "zod";
import { base64Bytes, base64Value, dataMap, textBytes, textValue, tooLargeIssues } from "./data.js";
import { addIssues, type Issue } from "./issues.js";
import { objectMeta } from "./meta.js";
import { dnsSubdomain } from "./names.js";

export const DEFAULT_SECRET_TYPE = "Opaque";

/** Keys a Secret of a well-known type must hold (in data or stringData), as Kubernetes requires. */
const REQUIRED_KEYS: Record<string, readonly string[]> = {
  "kubernetes.io/dockercfg": [".dockercfg"],
  "kubernetes.io/dockerconfigjson": [".dockerconfigjson"],
  "kubernetes.io/ssh-auth": ["ssh-privatekey"],
  "kubernetes.io/tls": ["tls.crt", "tls.key"],
};

export const SecretManifest = z
  .strictObject({
    apiVersion: z.literal("v1"),
    kind: z.literal("Secret"),
    metadata: objectMeta(dnsSubdomain()),
    type: z.string().min(1, "must not be empty").optional(),
    data: dataMap(base64Value('must be base64-encoded; put plain text under "stringData"')).optional(),
    stringData: dataMap(textValue()).optional(),
    immutable: z.boolean().optional(),
  })
  .superRefine((secret, ctx) => addIssues(ctx, [...requiredKeyIssues(secret), ...sizeIssues(secret)]));
export type SecretManifest = z.infer<typeof SecretManifest>;

interface CheckedSecret {
  type?: string;
  data?: Record<string, string>;
  stringData?: Record<string, string>;
}

function requiredKeyIssues(secret: CheckedSecret): Issue[] {
  const type = secret.type ?? DEFAULT_SECRET_TYPE;
  const present = new Set([...Object.keys(secret.data ?? {}), ...Object.keys(secret.stringData ?? {})]);
  return (REQUIRED_KEYS[type] ?? [])
    .filter((key) => !present.has(key))
    .map((key) => ({ path: ["data"], message: `must hold key ${JSON.stringify(key)} for type ${type}` }));
}

/** Counted as stored: after the merge, so a key in both data and stringData counts once. */
function sizeIssues(secret: CheckedSecret): Issue[] {
  const stringKeys = new Set(Object.keys(secret.stringData ?? {}));
  const data = Object.fromEntries(Object.entries(secret.data ?? {}).filter(([key]) => !stringKeys.has(key)));
  return tooLargeIssues(base64Bytes(data) + textBytes(secret.stringData), "data");
}

export function defaultSecret(secret: SecretManifest): SecretManifest {
  const { stringData, ...rest } = secret;
  // fromEntries, not assignment: a key such as "__proto__" stays a key.
  const merged = Object.fromEntries([
    ...Object.entries(secret.data ?? {}),
    ...Object.entries(stringData ?? {}).map(([key, value]) => [key, Buffer.from(value, "utf8").toString("base64")]),
  ]);
  return {
    ...rest,
    type: secret.type ?? DEFAULT_SECRET_TYPE,
    ...((secret.data !== undefined || stringData !== undefined) && { data: merged }),
  };
}
