/**
 * The key → value maps of ConfigMaps and Secrets: key syntax (a key becomes a
 * file name when mounted, and an environment variable with envFrom), base64
 * values, and the 1 MiB a stored object may hold, as Kubernetes checks them.
 */
import { z } from "zod";
import { keyedMap } from "./fields.js";
import type { Issue } from "./issues.js";

export const MAX_DATA_BYTES = 1024 * 1024;

const DATA_KEY = /^[-._a-zA-Z0-9]+$/;

export function dataKeyProblem(key: string): string | undefined {
  if (key.length > 253) return "key must be no more than 253 characters";
  if (!DATA_KEY.test(key)) return `key ${JSON.stringify(key)} must consist of letters, digits, "-", "_" and "."`;
  if (key === "." || key === "..") return `key ${JSON.stringify(key)} is not a valid file name`;
  return undefined;
}

// Go's standard encoding, which Kubernetes decodes []byte fields with, skips line breaks; so do we.
const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

export function isBase64(value: string): boolean {
  return BASE64.test(value.replace(/[\r\n]/g, ""));
}

export function decodedBytes(value: string): number {
  return Buffer.from(value.replace(/[\r\n]/g, ""), "base64").length;
}

export const base64Value = (message: string) => z.string({ error: message }).refine(isBase64, message);

/** Plain-text values: a number or boolean in YAML is the usual mistake, and quoting is the fix. */
export const textValue = () =>
  z.string({ error: 'must be a string (quote numbers and booleans, e.g. "8080" or "true")' });

/** A string map whose every key is a valid data key; each bad key is reported at its own path. */
export const dataMap = (value: z.ZodType<string>) =>
  keyedMap(value).superRefine((map, ctx) => {
    for (const key of Object.keys(map)) {
      const problem = dataKeyProblem(key);
      if (problem) ctx.addIssue({ code: "custom", path: [key], message: problem });
    }
  });

export function tooLargeIssues(totalBytes: number, field: string): Issue[] {
  if (totalBytes <= MAX_DATA_BYTES) return [];
  const message = `values total ${totalBytes} bytes; the limit is ${MAX_DATA_BYTES} bytes (1 MiB)`;
  return [{ path: [field], message }];
}

export function textBytes(map: Record<string, string> | undefined): number {
  return Object.values(map ?? {}).reduce((sum, value) => sum + Buffer.byteLength(value, "utf8"), 0);
}

export function base64Bytes(map: Record<string, string> | undefined): number {
  return Object.values(map ?? {}).reduce((sum, value) => sum + decodedBytes(value), 0);
}
