/**
 * A snapshot of the live cluster as a simulator scenario (`GET /v1/admin/snapshot`,
 * `kubernease snapshot`): the nodes as pools of their shape, and every tenant's workloads as the
 * manifests that made them, so the operator replays "what if a node or a zone of *this* cluster
 * dies?" with `kubernease simulate`. The simulator runs one tenant, so each tenant's namespaces
 * become `<tenant>-<namespace>`; Secret values are left out (their keys stay, for the references
 * to them). The timeline is a starting point to edit: a random node crash after a minute.
 */
import { stringify } from "yaml";
import type { NodeRecord, PodRecord, Store, StoredObject } from "../db/types.js";
import { TOP_LEVEL_KINDS } from "./resources.js";

/** What a scenario needs to rebuild a tenant's workloads: controllers, their Services, config and claims. */
const KINDS = [
  "ConfigMap",
  "Secret",
  "PersistentVolumeClaim",
  "Service",
  "Deployment",
  "StatefulSet",
  "DaemonSet",
  "ReplicaSet",
  "PodDisruptionBudget",
];

const ZONE = "topology.kubernetes.io/zone";

export interface SnapshotInput {
  nodes: NodeRecord[];
  tenants: { id: string; name: string }[];
  objects: StoredObject[];
  /** Bare pods (no owner): they are workloads of their own. */
  pods: PodRecord[];
}

/** Reads what `snapshotScenario` needs. */
export async function readSnapshot(store: Pick<Store, "listNodes" | "listTenants" | "listObjects" | "listPods">) {
  const [nodes, tenants] = await Promise.all([store.listNodes(), store.listTenants()]);
  const objects = (await Promise.all(KINDS.map((kind) => store.listObjects({ kind })))).flat();
  const pods = await store.listPods({ ownerless: true });
  return { nodes, tenants, objects, pods };
}

/** The scenario document (to be written as YAML). Pure. */
export function snapshotScenario(input: SnapshotInput): Record<string, unknown> {
  const names = new Map(input.tenants.map((t) => [t.id, t.name]));
  const namespaceOf = (tenantId: string, namespace: string) =>
    `${names.get(tenantId) ?? tenantId}-${namespace}`.toLowerCase().slice(0, 63).replace(/-+$/, "");
  const documents: Record<string, unknown>[] = [];
  for (const object of sortByKindOrder(input.objects)) {
    // What a controller owns (a Deployment's ReplicaSets) comes back with its controller.
    if (!names.has(object.tenantId) || object.ownerUid !== null) continue;
    const metadata = {
      name: object.name,
      namespace: namespaceOf(object.tenantId, object.namespace),
      ...(Object.keys(object.labels).length ? { labels: object.labels } : {}),
      ...(Object.keys(object.annotations).length ? { annotations: object.annotations } : {}),
    };
    const spec = object.kind === "Secret" ? withoutValues(object.spec) : object.spec;
    documents.push(
      TOP_LEVEL_KINDS.has(object.kind)
        ? { apiVersion: object.apiVersion, kind: object.kind, metadata, ...spec }
        : { apiVersion: object.apiVersion, kind: object.kind, metadata, spec },
    );
  }
  for (const pod of input.pods) {
    if (!names.has(pod.tenantId) || pod.deletionRequestedAt !== null) continue;
    const { nodeName: _bound, ...spec } = pod.spec as Record<string, unknown>;
    documents.push({
      apiVersion: "v1",
      kind: "Pod",
      metadata: { name: pod.name, namespace: namespaceOf(pod.tenantId, pod.namespace), labels: pod.labels },
      spec,
    });
  }
  const pools = poolsOf(input.nodes);
  return {
    name: "live-cluster",
    cluster: { pools },
    manifests: documents.length > 0 ? [{ inline: documents.map((d) => stringify(d)).join("---\n") }] : [],
    timeline: [{ at: "1m", crashNode: "random" }],
    duration: "5m",
  };
}

/** The nodes that take pods (Ready, not cordoned) as pools: one per shape and zone, as the scenario spells them. */
function poolsOf(nodes: NodeRecord[]): Record<string, unknown>[] {
  const shapes = new Map<string, { cpu: number; memory: number; maxPods: number; zone?: string; count: number }>();
  for (const node of nodes) {
    if (!node.ready || node.unschedulable) continue;
    const zone = node.labels[ZONE];
    const key = JSON.stringify([node.cpuMillis, node.memoryBytes, node.maxPods, zone ?? null]);
    const shape = shapes.get(key) ?? { cpu: node.cpuMillis, memory: node.memoryBytes, maxPods: node.maxPods, count: 0 };
    if (zone) shape.zone = zone;
    shape.count++;
    shapes.set(key, shape);
  }
  return [...shapes.entries()]
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([, shape], i) => ({
      name: `pool-${i + 1}`,
      count: shape.count,
      cpu: `${shape.cpu}m`,
      memory: `${Math.floor(shape.memory / 2 ** 20)}Mi`,
      maxPods: shape.maxPods,
      ...(shape.zone ? { zones: [shape.zone] } : {}),
    }));
}

/** A Secret's keys with empty values: what references need, none of what it keeps. */
function withoutValues(spec: Record<string, unknown>): Record<string, unknown> {
  const blank = (data: unknown) =>
    data && typeof data === "object" ? Object.fromEntries(Object.keys(data).map((k) => [k, ""])) : data;
  return {
    ...spec,
    ...(spec.data ? { data: blank(spec.data) } : {}),
    ...(spec.stringData ? { stringData: blank(spec.stringData) } : {}),
  };
}

/** Config before what uses it, Services before their workloads: the order an apply of the file would take anyway. */
function sortByKindOrder(objects: StoredObject[]): StoredObject[] {
  const rank = (o: StoredObject) => KINDS.indexOf(o.kind);
  return [...objects].sort(
    (a, b) =>
      rank(a) - rank(b) ||
      (a.tenantId < b.tenantId ? -1 : a.tenantId > b.tenantId ? 1 : 0) ||
      (a.namespace < b.namespace ? -1 : a.namespace > b.namespace ? 1 : 0) ||
      (a.name < b.name ? -1 : a.name > b.name ? 1 : 0),
  );
}
