import { AsyncLocalStorage } from "node:async_hooks";
import { canonicalJson } from "../core/hash.js";
import { eventDedupeKey } from "./eventKey.js";
import {
  type ApiKeyRecord,
  type BindResult,
  type ConditionalWrite,
  ConflictError,
  type EventRecord,
  type Json,
  type NamespaceRecord,
  type NewEvent,
  type NewNode,
  type NewObject,
  type NewPod,
  type NewTenant,
  type NodeChange,
  type NodeRecord,
  NotFoundError,
  type ObjectChange,
  type ObjectQuery,
  type ObjectRef,
  type OutboxRecord,
  type PodQuery,
  type PodRecord,
  type PodStatusChange,
  type PodUsage,
  type Store,
  type StoredObject,
  type StoreOps,
  type TenantQuota,
  type TenantRecord,
} from "./types.js";

/** Compares key by key; strings in code-unit order, as the SQL store sorts with `collate "C"`. */
function compareBy<T>(...keys: ((item: T) => string | number)[]) {
  return (a: T, b: T): number => {
    for (const key of keys) {
      const x = key(a);
      const y = key(b);
      if (x !== y) return x < y ? -1 : 1;
    }
    return 0;
  };
}

const clone = <T>(value: T): T => structuredClone(value);

/** The orders the SQL store's `ORDER BY` clauses give. */
const byNamespaceName = compareBy<{ namespace: string; name: string; tenantId: string }>(
  (r) => r.namespace,
  (r) => r.name,
  (r) => r.tenantId,
);
const byCreation = compareBy<ApiKeyRecord>(
  (k) => k.createdAt,
  (k) => k.id,
);
const byLastSeen = compareBy<EventRecord>(
  (e) => e.lastSeenAt,
  (e) => e.firstSeenAt,
  (e) => e.id,
);
const byName = compareBy<{ name: string }>((r) => r.name);

/** Map keys that cannot collide: NUL never appears in a name. */
const keyOf = (...parts: string[]) => parts.join("\u0000");
const objectKey = (ref: ObjectRef) => keyOf(ref.tenantId, ref.kind, ref.namespace, ref.name);
const podNameKey = (tenantId: string, namespace: string, name: string) => keyOf(tenantId, namespace, name);

function staleOrMissing(exists: boolean, what: string): never {
  if (exists) throw new ConflictError("stale", `${what} was modified since it was read; re-read and retry`);
  throw new NotFoundError(`${what} not found`);
}

/** A FIFO lock: each holder gets the lock after every earlier caller released it. */
class Mutex {
  private tail: Promise<void> = Promise.resolve();

  lock(): Promise<() => void> {
    let release!: () => void;
    const released = new Promise<void>((resolve) => {
      release = resolve;
    });
    const acquired = this.tail.then(() => release);
    this.tail = this.tail.then(() => released);
    return acquired;
  }
}

/** The transaction an async call chain runs in; `open` turns false when it ends. */
interface TxFrame {
  open: boolean;
}

/** Records never leave or enter without a deep copy, so callers cannot mutate state. */
class Tables {
  readonly tenants = new Map<string, TenantRecord>();
  readonly tenantIdsByName = new Map<string, string>();
  readonly apiKeys = new Map<string, ApiKeyRecord>();
  readonly apiKeyIdsByHash = new Map<string, string>();
  readonly namespaces = new Map<string, NamespaceRecord>();
  readonly objects = new Map<string, StoredObject>();
  readonly objectIds = new Map<string, string>();
  readonly pods = new Map<string, PodRecord>();
  readonly podIdsByName = new Map<string, string>();
  readonly nodes = new Map<string, NodeRecord>();
  readonly events = new Map<string, EventRecord>();
  readonly outbox = new Map<number, OutboxRecord>();
}

/**
 * The in-memory store, for the simulator and unit tests. Every operation is
 * synchronous on the maps, so each one is atomic by itself; a mutex serialises
 * them with transactions, so nothing outside a transaction sees it half done.
 * A transaction keeps an undo log and replays it backwards if `fn` throws. The
 * sequences (resource versions, outbox ids) are not rolled back, as in Postgres.
 */
export class MemoryStore implements Store {
  readonly backend = "memory";
  private readonly t = new Tables();
  private readonly mutex = new Mutex();
  private readonly frame = new AsyncLocalStorage<TxFrame>();
  private undoLog: (() => void)[] | undefined;
  private lastResourceVersion = 0;
  private lastOutboxId = 0;

  async transaction<T>(fn: (tx: StoreOps) => Promise<T>): Promise<T> {
    // Nested: already holding the lock, so run inline with a savepoint.
    if (this.frame.getStore()?.open) return this.withSavepoint(fn);
    const release = await this.mutex.lock();
    const frame: TxFrame = { open: true };
    this.undoLog = [];
    try {
      return await this.frame.run(frame, () => this.withSavepoint(fn));
    } finally {
      frame.open = false;
      this.undoLog = undefined;
      release();
    }
  }

  async close(): Promise<void> {}

  private async withSavepoint<T>(fn: (tx: StoreOps) => Promise<T>): Promise<T> {
    const log = this.undoLog ?? [];
    const mark = log.length;
    try {
      return await fn(this);
    } catch (error) {
      while (log.length > mark) log.pop()?.();
      throw error;
    }
  }

  /** Runs one operation: at once inside a transaction (it holds the lock), else after any running one. */
  private async exclusive<T>(operation: () => T): Promise<T> {
    if (this.frame.getStore()?.open) return operation();
    const release = await this.mutex.lock();
    try {
      return operation();
    } finally {
      release();
    }
  }

  private put<K, V>(map: Map<K, V>, key: K, value: V): void {
    this.remember(map, key);
    map.set(key, value);
  }

  private remove<K, V>(map: Map<K, V>, key: K): void {
    this.remember(map, key);
    map.delete(key);
  }

  private remember<K, V>(map: Map<K, V>, key: K): void {
    if (!this.undoLog) return;
    const had = map.has(key);
    const previous = map.get(key) as V;
    this.undoLog.push(() => (had ? map.set(key, previous) : map.delete(key)));
  }

  private nextResourceVersion(): string {
    this.lastResourceVersion += 1;
    return String(this.lastResourceVersion);
  }

  createTenant(tenant: NewTenant): Promise<TenantRecord> {
    return this.exclusive(() => {
      const { id, name, createdAt } = tenant;
      if (this.t.tenants.has(id) || this.t.tenantIdsByName.has(name)) {
        throw new ConflictError("exists", `tenant ${name} already exists`);
      }
      const record = { id, name, quota: clone(tenant.quota ?? null), createdAt };
      this.put(this.t.tenants, id, record);
      this.put(this.t.tenantIdsByName, name, id);
      return clone(record);
    });
  }

  getTenant(id: string): Promise<TenantRecord | undefined> {
    return this.exclusive(() => clone(this.t.tenants.get(id)));
  }

  getTenantByName(name: string): Promise<TenantRecord | undefined> {
    return this.exclusive(() => {
      const id = this.t.tenantIdsByName.get(name);
      return id === undefined ? undefined : clone(this.t.tenants.get(id));
    });
  }

  listTenants(): Promise<TenantRecord[]> {
    return this.exclusive(() => clone([...this.t.tenants.values()].sort(byName)));
  }

  setTenantQuota(tenantId: string, quota: TenantQuota | null): Promise<TenantRecord | undefined> {
    return this.exclusive(() => {
      const current = this.t.tenants.get(tenantId);
      if (!current) return undefined;
      const next = { ...current, quota: clone(quota) };
      this.put(this.t.tenants, tenantId, next);
      return clone(next);
    });
  }

  /** Transactions here already run one at a time (the store's mutex), so holding one is holding every tenant's lock. */
  lockTenant(tenantId: string): Promise<TenantRecord | undefined> {
    return this.getTenant(tenantId);
  }

  tenantPodUsage(tenantId: string): Promise<PodUsage> {
    return this.exclusive(() => {
      const usage: PodUsage = { pods: 0, cpuMillis: 0, memoryBytes: 0 };
      for (const pod of this.t.pods.values()) {
        if (pod.tenantId !== tenantId || pod.deletionRequestedAt !== null) continue;
        if (pod.phase === "Succeeded" || pod.phase === "Failed") continue;
        usage.pods += 1;
        usage.cpuMillis += pod.cpuMillis;
        usage.memoryBytes += pod.memoryBytes;
      }
      return usage;
    });
  }

  createApiKey(key: ApiKeyRecord): Promise<ApiKeyRecord> {
    return this.exclusive(() => {
      const { id, tenantId, role, keyHash, prefix, createdAt, revokedAt } = key;
      if (this.t.apiKeys.has(id) || this.t.apiKeyIdsByHash.has(keyHash)) {
        throw new ConflictError("exists", `an API key with prefix ${prefix} already exists`);
      }
      const record = { id, tenantId, role, keyHash, prefix, createdAt, revokedAt };
      this.put(this.t.apiKeys, id, record);
      this.put(this.t.apiKeyIdsByHash, keyHash, id);
      return clone(record);
    });
  }

  findApiKeyByHash(keyHash: string): Promise<ApiKeyRecord | undefined> {
    return this.exclusive(() => {
      const id = this.t.apiKeyIdsByHash.get(keyHash);
      const key = id === undefined ? undefined : this.t.apiKeys.get(id);
      return key && key.revokedAt === null ? clone(key) : undefined;
    });
  }

  listApiKeys(tenantId: string): Promise<ApiKeyRecord[]> {
    return this.exclusive(() => {
      const keys = [...this.t.apiKeys.values()].filter((k) => k.tenantId === tenantId);
      return clone(keys.sort(byCreation));
    });
  }

  ensureNamespace(tenantId: string, name: string, nowMs: number): Promise<boolean> {
    return this.exclusive(() => {
      const key = keyOf(tenantId, name);
      if (this.t.namespaces.has(key)) return false;
      this.put(this.t.namespaces, key, { tenantId, name, createdAt: nowMs });
      return true;
    });
  }

  listNamespaces(tenantId: string): Promise<NamespaceRecord[]> {
    return this.exclusive(() => {
      const owned = [...this.t.namespaces.values()].filter((n) => n.tenantId === tenantId);
      return clone(owned.sort(byName));
    });
  }

  getObject(ref: ObjectRef): Promise<StoredObject | undefined> {
    return this.exclusive(() => clone(this.t.objects.get(objectKey(ref))));
  }

  listObjects(query: ObjectQuery): Promise<StoredObject[]> {
    return this.exclusive(() => {
      const found = [...this.t.objects.values()].filter(
        (o) =>
          o.kind === query.kind &&
          (query.tenantId === undefined || o.tenantId === query.tenantId) &&
          (query.namespace === undefined || o.namespace === query.namespace) &&
          (query.ownerUid === undefined || o.ownerUid === query.ownerUid),
      );
      return clone(found.sort(byNamespaceName));
    });
  }

  createObject(object: NewObject): Promise<StoredObject> {
    return this.exclusive(() => {
      const key = objectKey(object);
      if (this.t.objects.has(key) || this.t.objectIds.has(object.id)) {
        throw new ConflictError("exists", `${object.kind} ${object.namespace}/${object.name} already exists`);
      }
      const { id, tenantId, kind, namespace, name, apiVersion, uid, labels, annotations, spec, createdAt } = object;
      const record: StoredObject = clone({
        ...{ id, tenantId, kind, namespace, name, apiVersion, uid, labels, annotations, spec, createdAt },
        ...{ generation: 1, resourceVersion: this.nextResourceVersion(), status: object.status ?? {} },
        ...{
          ownerKind: object.ownerKind ?? null,
          ownerName: object.ownerName ?? null,
          ownerUid: object.ownerUid ?? null,
        },
        updatedAt: createdAt,
      });
      this.put(this.t.objects, key, record);
      this.put(this.t.objectIds, id, key);
      return clone(record);
    });
  }

  updateObject(ref: ObjectRef, change: ObjectChange, write: ConditionalWrite): Promise<StoredObject> {
    return this.writeObject(ref, write, (current) => {
      const specChanged = canonicalJson(current.spec) !== canonicalJson(change.spec);
      const { apiVersion, labels, annotations, spec } = clone(change);
      const generation = specChanged ? current.generation + 1 : current.generation;
      return { ...current, apiVersion, labels, annotations, spec, generation };
    });
  }

  updateObjectStatus(ref: ObjectRef, status: Json, write: ConditionalWrite): Promise<StoredObject> {
    return this.writeObject(ref, write, (current) => ({ ...current, status: clone(status) }));
  }

  private writeObject(
    ref: ObjectRef,
    write: ConditionalWrite,
    change: (current: StoredObject) => StoredObject,
  ): Promise<StoredObject> {
    return this.exclusive(() => {
      const key = objectKey(ref);
      const current = this.t.objects.get(key);
      if (!current || !versionMatches(current.resourceVersion, write)) {
        staleOrMissing(current !== undefined, `${ref.kind} ${ref.namespace}/${ref.name}`);
      }
      const next = { ...change(current), resourceVersion: this.nextResourceVersion(), updatedAt: write.nowMs };
      this.put(this.t.objects, key, next);
      return clone(next);
    });
  }

  deleteObject(ref: ObjectRef, write: ConditionalWrite): Promise<StoredObject | undefined> {
    return this.exclusive(() => {
      const key = objectKey(ref);
      const current = this.t.objects.get(key);
      if (!current) return undefined;
      if (!versionMatches(current.resourceVersion, write)) {
        staleOrMissing(true, `${ref.kind} ${ref.namespace}/${ref.name}`);
      }
      this.remove(this.t.objects, key);
      this.remove(this.t.objectIds, current.id);
      return clone(current);
    });
  }

  createPod(pod: NewPod): Promise<PodRecord> {
    return this.exclusive(() => {
      const nameKey = podNameKey(pod.tenantId, pod.namespace, pod.name);
      if (this.t.pods.has(pod.id) || this.t.podIdsByName.has(nameKey)) {
        throw new ConflictError("exists", `pod ${pod.namespace}/${pod.name} already exists`);
      }
      const { id, tenantId, namespace, name, uid, ownerKind, ownerName, ownerUid } = pod;
      const { labels, annotations, templateHash, spec, cpuMillis, memoryBytes, createdAt } = pod;
      const record: PodRecord = clone({
        ...{ id, tenantId, namespace, name, uid, ownerKind, ownerName, ownerUid },
        ...{ labels, annotations, templateHash, spec, cpuMillis, memoryBytes, createdAt, updatedAt: createdAt },
        ...{ nodeName: null, phase: "Pending" as const, ready: false, status: pod.status ?? {} },
        ...{ deletionRequestedAt: null, resourceVersion: this.nextResourceVersion() },
      });
      this.put(this.t.pods, id, record);
      this.put(this.t.podIdsByName, nameKey, id);
      return clone(record);
    });
  }

  getPod(id: string): Promise<PodRecord | undefined> {
    return this.exclusive(() => clone(this.t.pods.get(id)));
  }

  getPodByName(tenantId: string, namespace: string, name: string): Promise<PodRecord | undefined> {
    return this.exclusive(() => {
      const id = this.t.podIdsByName.get(podNameKey(tenantId, namespace, name));
      return id === undefined ? undefined : clone(this.t.pods.get(id));
    });
  }

  listPods(query: PodQuery): Promise<PodRecord[]> {
    return this.exclusive(() => {
      const found = [...this.t.pods.values()].filter((pod) => podMatches(pod, query));
      return clone(found.sort(byNamespaceName));
    });
  }

  updatePodStatus(id: string, change: PodStatusChange, write: ConditionalWrite): Promise<PodRecord> {
    return this.exclusive(() => {
      const current = this.t.pods.get(id);
      if (!current || !versionMatches(current.resourceVersion, write)) {
        staleOrMissing(current !== undefined, `pod ${id}`);
      }
      const { phase, ready, status } = clone(change);
      return this.writePod({ ...current, phase, ready, status, updatedAt: write.nowMs });
    });
  }

  markPodDeleting(id: string, nowMs: number): Promise<PodRecord | undefined> {
    return this.exclusive(() => {
      const current = this.t.pods.get(id);
      if (!current || current.deletionRequestedAt !== null) return clone(current);
      return this.writePod({ ...current, deletionRequestedAt: nowMs, updatedAt: nowMs });
    });
  }

  /** Stores a changed pod under a new resource version. */
  private writePod(pod: PodRecord): PodRecord {
    const next = { ...pod, resourceVersion: this.nextResourceVersion() };
    this.put(this.t.pods, pod.id, next);
    return clone(next);
  }

  bindPod(podId: string, nodeName: string, nowMs: number): Promise<BindResult> {
    return this.exclusive((): BindResult => {
      const pod = this.t.pods.get(podId);
      if (!pod) return "pod-gone";
      if (pod.nodeName !== null) return "already-bound";
      const node = this.t.nodes.get(nodeName);
      if (!node) return "node-gone";
      if (!fits(node, pod)) return "insufficient";
      this.put(this.t.nodes, nodeName, withAllocation(node, pod, 1));
      this.writePod({ ...pod, nodeName, updatedAt: nowMs });
      return "bound";
    });
  }

  deletePod(id: string): Promise<PodRecord | undefined> {
    return this.exclusive(() => {
      const pod = this.t.pods.get(id);
      if (!pod) return undefined;
      this.remove(this.t.pods, id);
      this.remove(this.t.podIdsByName, podNameKey(pod.tenantId, pod.namespace, pod.name));
      const node = pod.nodeName === null ? undefined : this.t.nodes.get(pod.nodeName);
      if (node) this.put(this.t.nodes, node.name, withAllocation(node, pod, -1));
      return clone(pod);
    });
  }

  upsertNode(node: NewNode, nowMs: number): Promise<NodeRecord> {
    return this.exclusive(() => {
      const { name, provider, address, labels, cpuMillis, memoryBytes, maxPods, ready } = clone(node);
      const refreshed = { provider, address, labels, cpuMillis, memoryBytes, maxPods, ready, updatedAt: nowMs };
      const current = this.t.nodes.get(name);
      // As in SQL: allocation, cordon and heartbeat of a known node are kept.
      const next: NodeRecord = current
        ? { ...current, ...refreshed }
        : {
            ...{ name, ...refreshed, unschedulable: node.unschedulable, lastHeartbeatAt: node.lastHeartbeatAt },
            ...{ allocatedCpuMillis: 0, allocatedMemoryBytes: 0, allocatedPods: 0, createdAt: nowMs },
          };
      this.put(this.t.nodes, name, next);
      return clone(next);
    });
  }

  getNode(name: string): Promise<NodeRecord | undefined> {
    return this.exclusive(() => clone(this.t.nodes.get(name)));
  }

  listNodes(): Promise<NodeRecord[]> {
    return this.exclusive(() => clone([...this.t.nodes.values()].sort(byName)));
  }

  updateNode(name: string, change: NodeChange, nowMs: number): Promise<NodeRecord | undefined> {
    return this.exclusive(() => {
      const current = this.t.nodes.get(name);
      if (!current) return undefined;
      const defined = Object.entries(clone(change)).filter(([, value]) => value !== undefined);
      const next: NodeRecord = { ...current, ...Object.fromEntries(defined), updatedAt: nowMs };
      this.put(this.t.nodes, name, next);
      return clone(next);
    });
  }

  deleteNode(name: string): Promise<boolean> {
    return this.exclusive(() => {
      if (!this.t.nodes.has(name) || [...this.t.pods.values()].some((p) => p.nodeName === name)) return false;
      this.remove(this.t.nodes, name);
      return true;
    });
  }

  recordEvent(event: NewEvent): Promise<EventRecord> {
    return this.exclusive(() => {
      const key = eventDedupeKey(event);
      const seen = this.t.events.get(key);
      const { id, tenantId, namespace, involvedKind, involvedName, involvedUid, type, reason, message, atMs } = event;
      const next: EventRecord = seen
        ? { ...seen, count: seen.count + 1, lastSeenAt: Math.max(seen.lastSeenAt, atMs) }
        : {
            ...{ id, tenantId, namespace, involvedKind, involvedName, involvedUid, type, reason, message },
            ...{ count: 1, firstSeenAt: atMs, lastSeenAt: atMs },
          };
      this.put(this.t.events, key, next);
      return clone(next);
    });
  }

  listEvents(query: { tenantId: string; namespace?: string; involvedName?: string }): Promise<EventRecord[]> {
    return this.exclusive(() => {
      const found = [...this.t.events.values()].filter(
        (e) =>
          e.tenantId === query.tenantId &&
          (query.namespace === undefined || e.namespace === query.namespace) &&
          (query.involvedName === undefined || e.involvedName === query.involvedName),
      );
      return clone(found.sort(byLastSeen));
    });
  }

  addOutbox(queue: string, key: string, nowMs: number): Promise<void> {
    return this.exclusive(() => {
      this.lastOutboxId += 1;
      this.put(this.t.outbox, this.lastOutboxId, { id: this.lastOutboxId, queue, key, createdAt: nowMs });
    });
  }

  peekOutbox(limit: number): Promise<OutboxRecord[]> {
    return this.exclusive(() => {
      // Sorted, not insertion order: a rolled-back ack re-inserts rows at the end of the map.
      const oldestFirst = [...this.t.outbox.values()].sort(compareBy((r) => r.id));
      return clone(oldestFirst.slice(0, Math.max(0, limit)));
    });
  }

  ackOutbox(ids: number[]): Promise<void> {
    return this.exclusive(() => {
      for (const id of ids) if (this.t.outbox.has(id)) this.remove(this.t.outbox, id);
    });
  }
}

function versionMatches(resourceVersion: string, write: ConditionalWrite): boolean {
  return write.expectedResourceVersion === undefined || write.expectedResourceVersion === resourceVersion;
}

function podMatches(pod: PodRecord, query: PodQuery): boolean {
  return (
    (query.tenantId === undefined || pod.tenantId === query.tenantId) &&
    (query.namespace === undefined || pod.namespace === query.namespace) &&
    (query.ownerKind === undefined || pod.ownerKind === query.ownerKind) &&
    (query.ownerName === undefined || pod.ownerName === query.ownerName) &&
    (query.nodeName === undefined || pod.nodeName === query.nodeName) &&
    (!query.unbound || pod.nodeName === null) &&
    (!query.ownerless || pod.ownerKind === null)
  );
}

function fits(node: NodeRecord, pod: PodRecord): boolean {
  return (
    node.allocatedCpuMillis + pod.cpuMillis <= node.cpuMillis &&
    node.allocatedMemoryBytes + pod.memoryBytes <= node.memoryBytes &&
    node.allocatedPods + 1 <= node.maxPods
  );
}

/** The node with the pod's requests added (`sign` 1) or given back (`sign` -1). */
function withAllocation(node: NodeRecord, pod: PodRecord, sign: 1 | -1): NodeRecord {
  return {
    ...node,
    allocatedCpuMillis: node.allocatedCpuMillis + sign * pod.cpuMillis,
    allocatedMemoryBytes: node.allocatedMemoryBytes + sign * pod.memoryBytes,
    allocatedPods: node.allocatedPods + sign,
  };
}
