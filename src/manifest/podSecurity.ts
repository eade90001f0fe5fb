/**
 * Runtime isolation of tenants' pods, checked when a manifest is admitted: a
 * tenant's container never runs privileged, never shares the node's network,
 * process or IPC namespaces, never mounts the node's filesystem, never binds a
 * port on the node itself, never sees an unmasked /proc and never gains
 * capabilities beyond NET_BIND_SERVICE (what Kubernetes' "restricted" profile
 * allows). Refusing at apply beats a pod that could never start, or worse, one
 * that starts with the node in reach.
 *
 * `allowPrivilegeEscalation: true` is accepted: the runtime sets
 * no-new-privileges on every tenant container regardless, so the field cannot
 * grant anything and refusing it would only break manifests that spell out a default.
 *
 * Whether a request is held to this rule (a tenant's) or not (the operator's
 * node agents, which need hostPath and hostNetwork) is decided by the caller.
 */
import { type FieldError, formatPath } from "./errors.js";
import type { Issue } from "./issues.js";
import type { Manifest } from "./kinds.js";

/** `tenant` holds pods to the rule; `operator` (the admin key's system tenant) is exempt. */
export type PodSecurityLevel = "tenant" | "operator";

/** The one capability a tenant may add: binding ports below 1024 inside its own network namespace. */
export const ALLOWED_ADDED_CAPABILITIES: readonly string[] = ["NET_BIND_SERVICE"];

interface CheckedContainer {
  ports?: { containerPort: number; hostPort?: number }[];
  securityContext?: {
    privileged?: boolean;
    procMount?: string;
    capabilities?: { add?: string[] };
  };
}

interface CheckedPod {
  containers: CheckedContainer[];
  initContainers?: CheckedContainer[];
  ephemeralContainers?: CheckedContainer[];
  volumes?: { name: string; hostPath?: unknown }[];
  hostNetwork?: boolean;
  hostPID?: boolean;
  hostIPC?: boolean;
}

const CONTAINER_LISTS = ["containers", "initContainers", "ephemeralContainers"] as const;

const HOST_NAMESPACES = {
  hostNetwork: "a tenant's pod has a network namespace of its own, never the node's",
  hostPID: "a tenant's pod never sees the node's processes",
  hostIPC: "a tenant's pod never shares the node's IPC namespace",
} as const;

/** Where a kind holds its pod spec, or undefined for kinds that hold none. */
export function podSpecPath(kind: string): string[] | undefined {
  switch (kind) {
    case "Pod":
      return ["spec"];
    case "Deployment":
    case "StatefulSet":
    case "DaemonSet":
    case "ReplicaSet":
    case "ReplicationController":
      return ["spec", "template", "spec"];
    default:
      return undefined;
  }
}

/** Every isolation rule a pod spec breaks, at its path from the pod spec. */
export function podSecurityIssues(pod: CheckedPod): Issue[] {
  const issues: Issue[] = [];
  for (const [field, reason] of Object.entries(HOST_NAMESPACES)) {
    if (pod[field as keyof typeof HOST_NAMESPACES] === true) {
      issues.push({ path: [field], message: `must not be true: ${reason}` });
    }
  }
  for (const [index, volume] of (pod.volumes ?? []).entries()) {
    if (volume.hostPath === undefined) continue;
    issues.push({
      path: ["volumes", index, "hostPath"],
      message:
        "hostPath volumes are not allowed: a tenant's pod never mounts the node's filesystem; use emptyDir or a PersistentVolumeClaim",
    });
  }
  for (const list of CONTAINER_LISTS) {
    for (const [index, container] of (pod[list] ?? []).entries()) {
      issues.push(...containerIssues(container).map((issue) => ({ ...issue, path: [list, index, ...issue.path] })));
    }
  }
  return issues;
}

function containerIssues(container: CheckedContainer): Issue[] {
  const issues: Issue[] = [];
  const security = container.securityContext ?? {};
  if (security.privileged === true) {
    issues.push({
      path: ["securityContext", "privileged"],
      message: "must not be true: a tenant's container never runs privileged",
    });
  }
  if (security.procMount === "Unmasked") {
    issues.push({
      path: ["securityContext", "procMount"],
      message: 'must not be "Unmasked": /proc stays masked in a tenant\'s container',
    });
  }
  for (const [index, capability] of (security.capabilities?.add ?? []).entries()) {
    if (ALLOWED_ADDED_CAPABILITIES.includes(capability.toUpperCase().replace(/^CAP_/, ""))) continue;
    issues.push({
      path: ["securityContext", "capabilities", "add", index],
      message: `adding capability ${JSON.stringify(capability)} is not allowed; a tenant's container may add only ${ALLOWED_ADDED_CAPABILITIES.join(", ")}`,
    });
  }
  for (const [index, port] of (container.ports ?? []).entries()) {
    if (port.hostPort === undefined || port.hostPort === 0) continue;
    issues.push({
      path: ["ports", index, "hostPort"],
      message:
        "hostPort is not allowed: the platform publishes container ports itself; expose the port through a Service",
    });
  }
  return issues;
}

/** The isolation rules a manifest's pod spec breaks, as field errors with full paths (`spec.template.spec…`). */
export function podSecurityErrors(manifest: Manifest): FieldError[] {
  const prefix = podSpecPath(manifest.kind);
  if (!prefix) return [];
  let pod: unknown = manifest;
  for (const key of prefix) pod = (pod as Record<string, unknown> | undefined)?.[key];
  if (pod === undefined) return [];
  return podSecurityIssues(pod as CheckedPod).map((issue) => ({
    path: formatPath([...prefix, ...issue.path]),
    message: issue.message,
    reason: "forbidden",
  }));
}
