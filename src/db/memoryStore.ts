import { AsyncLocalStorage } from "node:async_hooks";
import { canonicalJson } from "../core/hash.js";
import { eventDedupeKey } from "./eventKey.js";
import {
  type ApiKeyRecord,
  type BindOutcome,
  type BindResult,
  type ConditionalWrite,
  ConflictError,
  type EventRecord,
  type Json,
  type LeaseRecord,
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
  type PodBinding,
  type PodQuery,
  type PodRecord,
  type PodStatusChange,
  type PodStatusWrite,
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

/**
 * Deep-freezes a record the store keeps, children first, so a frozen object's
 * descendants are frozen too and an already frozen part (shared with the
 * record it replaces) is not walked again. Stored records are handed out as
 * they are: a caller that tried to change one would throw instead of changing
 * state, so reads copy nothing.
 */
function frozen<T>(value: T): T {
  if (value === null || typeof value !== "object" || Object.isFrozen(value)) return value;
  for (const key of Object.keys(value)) frozen((value as Record<string, unknown>)[key]);
  return Object.freeze(value);
}

/** A copy of what a caller passed in, frozen: the caller keeps its object, the store its own. */
const stored = <T>(value: T): T => frozen(clone(value));

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

/** A pod's place in the list order (namespace, name, tenant): NUL sorts below every character of a name. */
const podOrderKey = (pod: PodRecord) => keyOf(pod.namespace, pod.name, pod.tenantId);

/** The index entries a pod is found under: its tenant, namespace, owner and node (or none). */
function podIndexKeys(pod: PodRecord): string[] {
  const keys = [keyOf("t", pod.tenantId), keyOf("n", pod.tenantId, pod.namespace)];
  if (pod.ownerKind !== null && pod.ownerName !== null) {
    keys.push(keyOf("o", pod.tenantId, pod.namespace, pod.ownerKind, pod.ownerName));
  }
  keys.push(pod.nodeName === null ? "unbound" : keyOf("node", pod.nodeName));
  return keys;
}

/** The index entries a query can start from; the smallest is walked. */
function queryIndexKeys(query: PodQuery): string[] {
  const keys: string[] = [];
  const { tenantId, namespace, ownerKind, ownerName } = query;
  if (tenantId !== undefined) {
    keys.push(keyOf("t", tenantId));
    if (namespace !== undefined) {
      keys.push(keyOf("n", tenantId, namespace));
      if (ownerKind !== undefined && ownerName !== undefined) {
        keys.push(keyOf("o", tenantId, namespace, ownerKind, ownerName));
      }
    }
  }
  if (query.nodeName !== undefined) keys.push(keyOf("node", query.nodeName));
  if (query.unbound) keys.push("unbound");
  return keys;
}

/**
 * The pods, indexed by tenant, namespace, owner and node, and kept in list
 * order, so a query walks only the pods it can match and never sorts the table.
 */
class PodTable {
  private readonly byId = new Map<string, PodRecord>();
  private readonly index = new Map<string, Set<string>>();
  /** Every pod's order key, id and current record, sorted by key. */
  private readonly order: { key: string; id: string; pod: PodRecord }[] = [];

  get(id: string): PodRecord | undefined {
    return this.byId.get(id);
  }

  has(id: string): boolean {
    return this.byId.has(id);
  }

  /** Stores, replaces or (with `undefined`) removes a pod, keeping every index in step. */
  set(id: string, record: PodRecord | undefined): void {
    const previous = this.byId.get(id);
    if (previous) {
      for (const key of podIndexKeys(previous)) {
        const ids = this.index.get(key);
        ids?.delete(id);
        if (ids?.size === 0) this.index.delete(key);
      }
    }
    if (!record) {
      this.byId.delete(id);
      if (previous) this.order.splice(this.position(podOrderKey(previous)), 1);
      return;
    }
    this.byId.set(id, record);
    for (const key of podIndexKeys(record)) {
      const ids = this.index.get(key);
      if (ids) ids.add(id);
      else this.index.set(key, new Set([id]));
    }
    const key = podOrderKey(record);
    const at = this.position(key);
    if (previous) (this.order[at] as { pod: PodRecord }).pod = record;
    else this.order.splice(at, 0, { key, id, pod: record });
  }

  /** Whether any pod is bound to the node. */
  onNode(nodeName: string): boolean {
    return this.index.has(keyOf("node", nodeName));
  }

  /** The pods matching the query, in list order (namespace, name, tenant). */
  matching(query: PodQuery): PodRecord[] {
    let candidates: Set<string> | undefined;
    for (const key of queryIndexKeys(query)) {
      const ids = this.index.get(key);
      if (!ids) return [];
      if (!candidates || ids.size < candidates.size) candidates = ids;
    }
    const found: PodRecord[] = [];
    // A large share of the table: walk it in order. A small one: sort just those.
    if (!candidates || candidates.size * 8 > this.byId.size) {
      if (candidates?.size === this.byId.size) candidates = undefined;
      for (const { id, pod } of this.order) {
        if ((!candidates || candidates.has(id)) && podMatches(pod, query)) found.push(pod);
      }
      return found;
    }
    for (const id of candidates) {
      const pod = this.byId.get(id) as PodRecord;
      if (podMatches(pod, query)) found.push(pod);
    }
    return found.sort(byNamespaceName);
  }

  /** Where `key` is, or would go, in the order (binary search). */
  private position(key: string): number {
    let low = 0;
    let high = this.order.length;
    while (low < high) {
      const middle = (low + high) >>> 1;
      if ((this.order[middle] as { key: string }).key < key) low = middle + 1;
      else high = middle;
    }
    return low;
  }
}

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

/**
 * Records enter as deep copies and are kept deep-frozen, so callers can neither
 * mutate state through what they passed in nor through what they read.
 */
class Tables {
  readonly tenants = new Map<string, TenantRecord>();
  readonly tenantIdsByName = new Map<string, string>();
  readonly apiKeys = new Map<string, ApiKeyRecord>();
  readonly apiKeyIdsByHash = new Map<string, string>();
  readonly namespaces = new Map<string, NamespaceRecord>();
  readonly objects = new Map<string, StoredObject>();
  readonly objectIds = new Map<string, string>();
  readonly pods = new PodTable();
  readonly podIdsByName = new Map<string, string>();
  readonly nodes = new Map<string, NodeRecord>();
  /** Node names in name order, rebuilt after a node joins or leaves. */
  nodeOrder: string[] | undefined;
  readonly events = new Map<string, EventRecord>();
  readonly outbox = new Map<number, OutboxRecord>();
  readonly leases = new Map<string, LeaseRecord>();
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

  /** Stores (or, with `undefined`, removes) a pod and keeps its indexes; a rollback restores both. */
  private putPod(id: string, record: PodRecord | undefined): void {
    const previous = this.t.pods.get(id);
    this.undoLog?.push(() => this.t.pods.set(id, previous));
    this.t.pods.set(id, record);
  }

  /** The name order is rebuilt on the next list; a rollback rebuilds it too. */
  private forgetNodeOrder(): void {
    this.t.nodeOrder = undefined;
    this.undoLog?.push(() => {
      this.t.nodeOrder = undefined;
    });
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
      const record = frozen({ id, name, quota: clone(tenant.quota ?? null), createdAt });
      this.put(this.t.tenants, id, record);
      this.put(this.t.tenantIdsByName, name, id);
      return record;
    });
  }

  getTenant(id: string): Promise<TenantRecord | undefined> {
    return this.exclusive(() => this.t.tenants.get(id));
  }

  getTenantByName(name: string): Promise<TenantRecord | undefined> {
    return this.exclusive(() => {
      const id = this.t.tenantIdsByName.get(name);
      return id === undefined ? undefined : this.t.tenants.get(id);
    });
  }

  listTenants(): Promise<TenantRecord[]> {
    return this.exclusive(() => [...this.t.tenants.values()].sort(byName));
  }

  setTenantQuota(tenantId: string, quota: TenantQuota | null): Promise<TenantRecord | undefined> {
    return this.exclusive(() => {
      const current = this.t.tenants.get(tenantId);
      if (!current) return undefined;
      const next = frozen({ ...current, quota: clone(quota) });
      this.put(this.t.tenants, tenantId, next);
      return next;
    });
  }

  /** Transactions here already run one at a time (the store's mutex), so holding one is holding every tenant's lock. */
  lockTenant(tenantId: string): Promise<TenantRecord | undefined> {
    return this.getTenant(tenantId);
  }

  tenantPodUsage(tenantId: string): Promise<PodUsage> {
    return this.exclusive(() => {
      const usage: PodUsage = { pods: 0, cpuMillis: 0, memoryBytes: 0 };
      for (const pod of this.t.pods.matching({ tenantId })) {
        if (pod.deletionRequestedAt !== null) continue;
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
      const record = frozen({ id, tenantId, role, keyHash, prefix, createdAt, revokedAt });
      this.put(this.t.apiKeys, id, record);
      this.put(this.t.apiKeyIdsByHash, keyHash, id);
      return record;
    });
  }

  findApiKeyByHash(keyHash: string): Promise<ApiKeyRecord | undefined> {
    return this.exclusive(() => {
      const id = this.t.apiKeyIdsByHash.get(keyHash);
      const key = id === undefined ? undefined : this.t.apiKeys.get(id);
      return key && key.revokedAt === null ? key : undefined;
    });
  }

  listApiKeys(tenantId: string): Promise<ApiKeyRecord[]> {
    return this.exclusive(() => {
      const keys = [...this.t.apiKeys.values()].filter((k) => k.tenantId === tenantId);
      return keys.sort(byCreation);
    });
  }

  ensureNamespace(tenantId: string, name: string, nowMs: number): Promise<boolean> {
    return this.exclusive(() => {
      const key = keyOf(tenantId, name);
      if (this.t.namespaces.has(key)) return false;
      this.put(this.t.namespaces, key, frozen({ tenantId, name, createdAt: nowMs }));
      return true;
    });
  }

  listNamespaces(tenantId: string): Promise<NamespaceRecord[]> {
    return this.exclusive(() => {
      const owned = [...this.t.namespaces.values()].filter((n) => n.tenantId === tenantId);
      return owned.sort(byName);
    });
  }

  getObject(ref: ObjectRef): Promise<StoredObject | undefined> {
    return this.exclusive(() => this.t.objects.get(objectKey(ref)));
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
      return found.sort(byNamespaceName);
    });
  }

  createObject(object: NewObject): Promise<StoredObject> {
    return this.exclusive(() => {
      const key = objectKey(object);
      if (this.t.objects.has(key) || this.t.objectIds.has(object.id)) {
        throw new ConflictError("exists", `${object.kind} ${object.namespace}/${object.name} already exists`);
      }
      const { id, tenantId, kind, namespace, name, apiVersion, uid, labels, annotations, spec, createdAt } = object;
      const record: StoredObject = stored({
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
      return record;
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
      const next = frozen({ ...change(current), resourceVersion: this.nextResourceVersion(), updatedAt: write.nowMs });
      this.put(this.t.objects, key, next);
      return next;
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
      return current;
    });
  }

  createPod(pod: NewPod): Promise<PodRecord> {
    return this.exclusive(() => {
      const record = this.insertPod(pod);
      if (!record) throw new ConflictError("exists", `pod ${pod.namespace}/${pod.name} already exists`);
      return record;
    });
  }

  createPods(pods: readonly NewPod[]): Promise<PodRecord[]> {
    return this.exclusive(() => pods.flatMap((pod) => this.insertPod(pod) ?? []));
  }

  /** Inserts the pod unless its id or name is taken; undefined when it is. */
  private insertPod(pod: NewPod): PodRecord | undefined {
    const nameKey = podNameKey(pod.tenantId, pod.namespace, pod.name);
    if (this.t.pods.has(pod.id) || this.t.podIdsByName.has(nameKey)) return undefined;
    const { id, tenantId, namespace, name, uid, ownerKind, ownerName, ownerUid } = pod;
    const { labels, annotations, templateHash, spec, cpuMillis, memoryBytes, createdAt } = pod;
    const record: PodRecord = stored({
      ...{ id, tenantId, namespace, name, uid, ownerKind, ownerName, ownerUid },
      ...{ labels, annotations, templateHash, spec, cpuMillis, memoryBytes, createdAt, updatedAt: createdAt },
      ...{ nodeName: null, phase: "Pending" as const, ready: false, status: pod.status ?? {} },
      ...{ deletionRequestedAt: null, resourceVersion: this.nextResourceVersion() },
    });
    this.putPod(id, record);
    this.put(this.t.podIdsByName, nameKey, id);
    return record;
  }

  getPod(id: string): Promise<PodRecord | undefined> {
    return this.exclusive(() => this.t.pods.get(id));
  }

  getPods(ids: readonly string[]): Promise<PodRecord[]> {
    return this.exclusive(() => [...new Set(ids)].flatMap((id) => this.t.pods.get(id) ?? []));
  }

  getPodByName(tenantId: string, namespace: string, name: string): Promise<PodRecord | undefined> {
    return this.exclusive(() => {
      const id = this.t.podIdsByName.get(podNameKey(tenantId, namespace, name));
      return id === undefined ? undefined : this.t.pods.get(id);
    });
  }

  listPods(query: PodQuery): Promise<PodRecord[]> {
    return this.exclusive(() => this.t.pods.matching(query));
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
      if (!current || current.deletionRequestedAt !== null) return current;
      return this.writePod({ ...current, deletionRequestedAt: nowMs, updatedAt: nowMs });
    });
  }

  /** Stores a changed pod under a new resource version. */
  private writePod(pod: PodRecord): PodRecord {
    const next = frozen({ ...pod, resourceVersion: this.nextResourceVersion() });
    this.putPod(pod.id, next);
    return next;
  }

  bindPod(podId: string, nodeName: string, nowMs: number): Promise<BindResult> {
    return this.exclusive((): BindResult => {
      const pod = this.t.pods.get(podId);
      if (!pod) return "pod-gone";
      if (pod.nodeName !== null) return "already-bound";
      const node = this.t.nodes.get(nodeName);
      if (!node) return "node-gone";
      if (!fits(node, pod)) return "insufficient";
      this.put(this.t.nodes, nodeName, frozen(withAllocation(node, pod, 1)));
      this.writePod({ ...pod, nodeName, updatedAt: nowMs });
      return "bound";
    });
  }

  bindPods(binds: readonly PodBinding[], nowMs: number): Promise<BindOutcome[]> {
    return this.exclusive(() =>
      binds.map(({ podId, nodeName }): BindOutcome => {
        const pod = this.t.pods.get(podId);
        if (!pod) return { result: "pod-gone" };
        if (pod.nodeName !== null) return { result: "already-bound" };
        const node = this.t.nodes.get(nodeName);
        if (!node) return { result: "node-gone" };
        if (!fits(node, pod)) return { result: "insufficient" };
        this.put(this.t.nodes, nodeName, frozen(withAllocation(node, pod, 1)));
        return { result: "bound", pod: this.writePod({ ...pod, nodeName, updatedAt: nowMs }) };
      }),
    );
  }

  updatePodStatuses(writes: readonly PodStatusWrite[], nowMs: number): Promise<PodRecord[]> {
    return this.exclusive(() =>
      writes.flatMap(({ id, change, expectedResourceVersion }) => {
        const current = this.t.pods.get(id);
        if (!current || current.resourceVersion !== expectedResourceVersion) return [];
        const { phase, ready, status } = clone(change);
        return [this.writePod({ ...current, phase, ready, status, updatedAt: nowMs })];
      }),
    );
  }

  deletePod(id: string): Promise<PodRecord | undefined> {
    return this.exclusive(() => {
      const pod = this.t.pods.get(id);
      if (!pod) return undefined;
      this.putPod(id, undefined);
      this.remove(this.t.podIdsByName, podNameKey(pod.tenantId, pod.namespace, pod.name));
      const node = pod.nodeName === null ? undefined : this.t.nodes.get(pod.nodeName);
      if (node) this.put(this.t.nodes, node.name, frozen(withAllocation(node, pod, -1)));
      return pod;
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
      if (!current) this.forgetNodeOrder();
      this.put(this.t.nodes, name, frozen(next));
      return next;
    });
  }

  getNode(name: string): Promise<NodeRecord | undefined> {
    return this.exclusive(() => this.t.nodes.get(name));
  }

  listNodes(): Promise<NodeRecord[]> {
    return this.exclusive(() => {
      this.t.nodeOrder ??= [...this.t.nodes.keys()].sort();
      return this.t.nodeOrder.map((name) => this.t.nodes.get(name) as NodeRecord);
    });
  }

  updateNode(name: string, change: NodeChange, nowMs: number): Promise<NodeRecord | undefined> {
    return this.exclusive(() => {
      const current = this.t.nodes.get(name);
      if (!current) return undefined;
      const defined = Object.entries(clone(change)).filter(([, value]) => value !== undefined);
      const next: NodeRecord = frozen({ ...current, ...Object.fromEntries(defined), updatedAt: nowMs });
      this.put(this.t.nodes, name, next);
      return next;
    });
  }

  stampHeartbeats(names: readonly string[], nowMs: number): Promise<void> {
    return this.exclusive(() => {
      for (const name of names) {
        const current = this.t.nodes.get(name);
        if (current) this.put(this.t.nodes, name, frozen({ ...current, lastHeartbeatAt: nowMs, updatedAt: nowMs }));
      }
    });
  }

  deleteNode(name: string): Promise<boolean> {
    return this.exclusive(() => {
      if (!this.t.nodes.has(name) || this.t.pods.onNode(name)) return false;
      this.forgetNodeOrder();
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
      this.put(this.t.events, key, frozen(next));
      return next;
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
      return found.sort(byLastSeen);
    });
  }

  addOutbox(queue: string, key: string, nowMs: number): Promise<void> {
    return this.exclusive(() => {
      this.lastOutboxId += 1;
      this.put(this.t.outbox, this.lastOutboxId, frozen({ id: this.lastOutboxId, queue, key, createdAt: nowMs }));
    });
  }

  peekOutbox(limit: number): Promise<OutboxRecord[]> {
    return this.exclusive(() => {
      // Sorted, not insertion order: a rolled-back ack re-inserts rows at the end of the map.
      const oldestFirst = [...this.t.outbox.values()].sort(compareBy((r) => r.id));
      return oldestFirst.slice(0, Math.max(0, limit));
    });
  }

  ackOutbox(ids: number[]): Promise<void> {
    return this.exclusive(() => {
      for (const id of ids) if (this.t.outbox.has(id)) this.remove(this.t.outbox, id);
    });
  }

  acquireLease(name: string, holder: string, ttlMs: number, nowMs: number): Promise<LeaseRecord | null> {
    return this.exclusive(() => {
      const held = this.t.leases.get(name);
      if (held && held.holder !== holder && held.expiresAt > nowMs) return null;
      const term = !held ? 1 : held.holder === holder ? held.term : held.term + 1;
      const lease = frozen({ name, holder, expiresAt: nowMs + ttlMs, term });
      this.put(this.t.leases, name, lease);
      return lease;
    });
  }

  releaseLease(name: string, holder: string): Promise<void> {
    return this.exclusive(() => {
      if (this.t.leases.get(name)?.holder === holder) this.remove(this.t.leases, name);
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
