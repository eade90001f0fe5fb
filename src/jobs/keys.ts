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

/**
 * The `schedule` key of a tenant's pods waiting for a first placement that a batch may take
 * (`batchable`): one job places them all, and an enqueue while it runs has it look once more.
 */
export function waitingPodsKey(tenantId: string): string {
  return `waiting/${tenantId}`;
}

/** The tenant of a `waitingPodsKey`, or undefined for another key (a pod's id). */
export function tenantOfWaitingPodsKey(key: string): string | undefined {
  return key.startsWith("waiting/") ? key.slice("waiting/".length) : undefined;
}
