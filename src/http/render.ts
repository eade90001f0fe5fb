import type { NodeRecord, PodRecord, StoredObject } from "../db/types.js";

const iso = (ms: number) => new Date(ms).toISOString();
const APPS_KINDS = new Set(["Deployment", "ReplicaSet", "StatefulSet", "DaemonSet"]);

/** A stored object in Kubernetes shape. */
export function renderObject(object: StoredObject): Record<string, unknown> {
  const metadata = {
    name: object.name,
    namespace: object.namespace,
    uid: object.uid,
    resourceVersion: object.resourceVersion,
    generation: object.generation,
    creationTimestamp: iso(object.createdAt),
    ...(Object.keys(object.labels).length ? { labels: object.labels } : {}),
    ...(Object.keys(object.annotations).length ? { annotations: object.annotations } : {}),
  };
  if (object.kind === "Endpoints") {
    return { apiVersion: "v1", kind: "Endpoints", metadata, subsets: object.spec.subsets ?? [] };
  }
  return { apiVersion: object.apiVersion, kind: object.kind, metadata, spec: object.spec, status: object.status };
}

/** A pod in Kubernetes shape, for tenants: where it runs is the platform's business, so no node appears. */
export function renderPod(pod: PodRecord): Record<string, unknown> {
  const ownerReferences =
    pod.ownerKind && pod.ownerName && pod.ownerUid
      ? [
          {
            apiVersion: APPS_KINDS.has(pod.ownerKind) ? "apps/v1" : "v1",
            kind: pod.ownerKind,
            name: pod.ownerName,
            uid: pod.ownerUid,
            controller: true,
            blockOwnerDeletion: true,
          },
        ]
      : undefined;
  const { nodeName: _nodeName, ...spec } = pod.spec as Record<string, unknown>;
  const { hostIP: _hostIP, hostIPs: _hostIPs, nominatedNodeName: _nominated, ...status } = pod.status;
  return {
    apiVersion: "v1",
    kind: "Pod",
    metadata: {
      name: pod.name,
      namespace: pod.namespace,
      uid: pod.uid,
      resourceVersion: pod.resourceVersion,
      creationTimestamp: iso(pod.createdAt),
      ...(pod.deletionRequestedAt !== null ? { deletionTimestamp: iso(pod.deletionRequestedAt) } : {}),
      labels: pod.labels,
      ...(Object.keys(pod.annotations).length ? { annotations: pod.annotations } : {}),
      ...(ownerReferences ? { ownerReferences } : {}),
    },
    spec,
    status: { ...status, phase: pod.phase },
  };
}

/** A node in Kubernetes shape, for the operator only. */
export function renderNode(node: NodeRecord): Record<string, unknown> {
  const capacity = {
    cpu: `${node.cpuMillis}m`,
    memory: `${Math.floor(node.memoryBytes / 1024)}Ki`,
    pods: String(node.maxPods),
  };
  return {
    apiVersion: "v1",
    kind: "Node",
    metadata: { name: node.name, labels: node.labels, creationTimestamp: iso(node.createdAt) },
    spec: { ...(node.unschedulable ? { unschedulable: true } : {}) },
    status: {
      capacity,
      allocatable: capacity,
      allocated: {
        cpu: `${node.allocatedCpuMillis}m`,
        memory: `${Math.floor(node.allocatedMemoryBytes / 1024)}Ki`,
        pods: String(node.allocatedPods),
      },
      addresses: [{ type: "InternalIP", address: node.address }],
      conditions: [
        {
          type: "Ready",
          status: node.ready ? "True" : "False",
          ...(node.lastHeartbeatAt !== null ? { lastHeartbeatTime: iso(node.lastHeartbeatAt) } : {}),
        },
      ],
      nodeInfo: { provider: node.provider },
    },
  };
}

export function renderList(
  kind: string,
  apiVersion: string,
  items: Record<string, unknown>[],
  resourceVersion: string,
): Record<string, unknown> {
  return { apiVersion, kind: `${kind}List`, metadata: { resourceVersion }, items };
}
