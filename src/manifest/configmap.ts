/**
 * ConfigMap (v1): configuration as text (`data`) or bytes (`binaryData`,
 * base64), mounted as files or read into environment variables.
 */
import { z } from "zod";
import { base64Bytes, base64Value, dataMap, textBytes, textValue, tooLargeIssues } from "./data.js";
import { addIssues, type Issue } from "./issues.js";
import { objectMeta } from "./meta.js";
import { dnsSubdomain } from "./names.js";

export const ConfigMapManifest = z
  .strictObject({
    apiVersion: z.literal("v1"),
    kind: z.literal("ConfigMap"),
    metadata: objectMeta(dnsSubdomain()),
    data: dataMap(textValue()).optional(),
    binaryData: dataMap(base64Value('must be base64-encoded; put text under "data"')).optional(),
    immutable: z.boolean().optional(),
  })
  .superRefine((configMap, ctx) => addIssues(ctx, configMapIssues(configMap)));
export type ConfigMapManifest = z.infer<typeof ConfigMapManifest>;

function configMapIssues(configMap: { data?: Record<string, string>; binaryData?: Record<string, string> }): Issue[] {
  const issues: Issue[] = [];
  for (const key of Object.keys(configMap.binaryData ?? {})) {
    if (configMap.data && Object.hasOwn(configMap.data, key)) {
      issues.push({ path: ["binaryData", key], message: `duplicate of key ${JSON.stringify(key)} in data` });
    }
  }
  const totalBytes = textBytes(configMap.data) + base64Bytes(configMap.binaryData);
  return [...issues, ...tooLargeIssues(totalBytes, "data")];
}
