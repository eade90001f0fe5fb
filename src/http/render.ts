import type { NodeRecord, PodRecord, StoredObject } from "../db/types.js";

import { TOP_LEVEL_KINDS } from "./resources.js";

const iso = (ms: number) => new Date(ms).toISOString();
const APPS_KINDS = new Set(["Deployment", "ReplicaSet", "StatefulSet", "DaemonSet"]);

function ownerReferences(owner: { ownerKind: string | null; ownerName: string | null; ownerUid: string | null }) {
  if (!owner.ownerKind || !owner.ownerName || !owner.ownerUid) return undefined;
  const apiVersion = APPS_KINDS.has(owner.ownerKind) ? "apps/v1" : "v1";
  return [
    {
      apiVersion,
      kind: owner.ownerKind,
      name: owner.ownerName,
      uid: owner.ownerUid,
      controller: true,
      blockOwnerDeletion: true,
    },
  ];
}

/** A stored object in Kubernetes shape. */
export function renderObject(object: StoredObject): Record<string, unknown> {
  const owners = ownerReferences(object);
  const metadata = {
    name: object.name,
    namespace: object.namespace,
    uid: object.uid,
    resourceVersion: object.resourceVersion,
    generation: object.generation,
    creationTimestamp: iso(object.createdAt),
    ...(Object.keys(object.labels).length ? { labels: object.labels } : {}),
    ...(Object.keys(object.annotations).length ? { annotations: object.annotations } : {}),
    ...(owners ? { ownerReferences: owners } : {}),
  };
  if (TOP_LEVEL_KINDS.has(object.kind))
    return { apiVersion: object.apiVersion, kind: object.kind, metadata, ...object.spec };
  return { apiVersion: object.apiVersion, kind: object.kind, metadata, spec: object.spec, status: object.status };
}

/** A pod in Kubernetes shape, for tenants: where it runs is the platform's business, so no node appears. */
export function renderPod(pod: PodRecord): Record<string, unknown> {
  const owners = ownerReferences(pod);
  const { nodeName: _nodeName, ...spec } = pod.spec as Record<string, unknown>;
  // Where the pod runs, and the restart bookkeeping of the control plane, are the platform's business.
  const {
    hostIP: _hostIP,
    hostIPs: _hostIPs,
    nominatedNodeName: _nominated,
    restartBackOff: _restartBackOff,
    imagePullBackOff: _imagePullBackOff,
    ...status
  } = pod.status;
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
      ...(owners ? { ownerReferences: owners } : {}),
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

/** What a list shows of an object: a Secret's data only ever comes back one Secret at a time. */
export function renderListItem(object: StoredObject): Record<string, unknown> {
  const rendered = renderObject(object);
  if (object.kind !== "Secret") return rendered;
  const { data: _data, stringData: _stringData, ...rest } = rendered;
  return rest;
}

export function renderList(
  kind: string,
  apiVersion: string,
  items: Record<string, unknown>[],
  resourceVersion: string,
): Record<string, unknown> {
  return { apiVersion, kind: `${kind}List`, metadata: { resourceVersion }, items };
}
