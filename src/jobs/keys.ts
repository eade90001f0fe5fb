import type { ObjectRef } from "../db/types.js";

/** Job keys: `Kind/tenantId/namespace/name` for objects (none of the parts can hold a slash), a pod's id for pods. */
export function objectKey(ref: ObjectRef): string {
  return `${ref.kind}/${ref.tenantId}/${ref.namespace}/${ref.name}`;
}

export function parseObjectKey(key: string): ObjectRef | undefined {
  const [kind, tenantId, namespace, name, ...rest] = key.split("/");
  if (!kind || !tenantId || !namespace || !name || rest.length > 0) return undefined;
  return { kind, tenantId, namespace, name };
}
