import { AsyncLocalStorage } from "node:async_hooks";
import { canonicalJson } from "../core/hash.js";
import { eventDedupeKey } from "./eventKey.js";
import { deepFreeze } from "./frozen.js";
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
  type PodPlacement,
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

/**
 * A copy of plain data (what records are made of) that shares what cannot change: strings and other
 * primitives, and frozen parts whose descendants are all frozen (a record's spec or its conditions,
 * passed back in a change), so a write copies only what the caller built anew and a pod's versions
 * share everything they have in common. Anything but a plain object or array is copied as
 * `structuredClone` copies it.
 */
function clone<T>(value: T): T {
  if (value === null || typeof value !== "object") return value;
  if (Object.isFrozen(value) && deeplyFrozen(value)) return value;
  if (Array.isArray(value)) return value.map(clone) as T;
  const proto: unknown = Object.getPrototypeOf(value);
  if (proto !== Object.prototype && proto !== null) return structuredClone(value);
  const copy: Record<string, unknown> = {};
  for (const key of Object.keys(value)) copy[key] = clone((value as Record<string, unknown>)[key]);
  return copy as T;
}

/** Whether every object under `value` is frozen, so sharing it shares nothing that can change. */
function deeplyFrozen(value: object): boolean {
  for (const child of Object.values(value)) {
    if (child !== null && typeof child === "object" && !(Object.isFrozen(child) && deeplyFrozen(child))) return false;
  }
  return true;
}

/** A copy of what a caller passed in, frozen: the caller keeps its object, the store its own. */
const stored = <T>(value: T): T => deepFreeze(clone(value));

/** The orders the SQL store's `ORDER BY` clauses give (pods and objects: their order keys below). */
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

/** An index entry and the query fields it answers by itself (a query asking no more needs no filter). */
interface IndexKey {
  key: string;
  fields: number;
}

/** The index every record is under: a query with no usable key lists it. */
const EVERY = "*";

/** The index entries a pod is found under: every pod, its tenant, namespace, owner and node (or none). */
function podIndexKeys(pod: PodRecord): string[] {
  const keys = [EVERY, keyOf("t", pod.tenantId), keyOf("n", pod.tenantId, pod.namespace)];
  if (pod.ownerKind !== null && pod.ownerName !== null) {
    keys.push(keyOf("o", pod.tenantId, pod.namespace, pod.ownerKind, pod.ownerName));
  }
  keys.push(pod.nodeName === null ? "unbound" : keyOf("node", pod.nodeName));
  // A pod's spec never changes: the key is the pod's for life.
  if (holdsPodAffinity(pod)) keys.push(keyOf("pa", pod.tenantId));
  return keys;
}

/**
 * Whether two versions of a pod are under the same index entries, told from the fields the entries
 * are made of (its spec by identity: a write that keeps the spec passes the same frozen object on),
 * so the most common write, a status, makes no keys at all.
 */
function samePodIndexKeys(a: PodRecord, b: PodRecord): boolean {
  return (
    a.tenantId === b.tenantId &&
    a.namespace === b.namespace &&
    a.ownerKind === b.ownerKind &&
    a.ownerName === b.ownerName &&
    a.nodeName === b.nodeName &&
    a.spec === b.spec
  );
}

function holdsPodAffinity(pod: PodRecord): boolean {
  const affinity = pod.spec.affinity as { podAffinity?: unknown; podAntiAffinity?: unknown } | undefined;
  return Boolean(affinity?.podAffinity || affinity?.podAntiAffinity);
}

function probedOrBackingOff(pod: PodRecord): boolean {
  const containers = (pod.spec.containers as Record<string, unknown>[] | undefined) ?? [];
  const probed = containers.some(
    (c) => isObject(c.livenessProbe) || isObject(c.readinessProbe) || isObject(c.startupProbe),
  );
  return probed || "restartBackOff" in pod.status;
}

const isObject = (value: unknown) => typeof value === "object" && value !== null && !Array.isArray(value);

/** The index entries a pod query can start from; the smallest is walked. */
function podQueryKeys(query: PodQuery): IndexKey[] {
  const keys: IndexKey[] = [{ key: EVERY, fields: 0 }];
  const { tenantId, namespace, ownerKind, ownerName } = query;
  if (tenantId !== undefined) {
    keys.push({ key: keyOf("t", tenantId), fields: 1 });
    if (namespace !== undefined) {
      keys.push({ key: keyOf("n", tenantId, namespace), fields: 2 });
      if (ownerKind !== undefined && ownerName !== undefined) {
        keys.push({ key: keyOf("o", tenantId, namespace, ownerKind, ownerName), fields: 4 });
      }
    }
  }
  if (query.nodeName !== undefined) keys.push({ key: keyOf("node", query.nodeName), fields: 1 });
  if (query.unbound) keys.push({ key: "unbound", fields: 1 });
  if (query.holdingPodAffinity && tenantId !== undefined) {
    keys.push({ key: keyOf("pa", tenantId), fields: 2 });
  }
  return keys;
}

/** How many fields of the pod query constrain the answer. */
function podQueryFields(query: PodQuery): number {
  const { tenantId, namespace, ownerKind, ownerName, nodeName } = query;
  const given = [tenantId, namespace, ownerKind, ownerName, nodeName].filter((v) => v !== undefined).length;
  const flags = [query.unbound, query.ownerless, query.holdingPodAffinity, query.probedOrBackingOff];
  return given + flags.filter(Boolean).length;
}

/** An object's place in the list order, as for pods. */
const objectOrderKey = (o: StoredObject) => keyOf(o.namespace, o.name, o.tenantId);

/** The index entries an object is found under: its kind, in its tenant, in its namespace. */
function objectIndexKeys(o: StoredObject): string[] {
  return [keyOf("k", o.kind), keyOf("kt", o.kind, o.tenantId), keyOf("ktn", o.kind, o.tenantId, o.namespace)];
}

/** The index entries an object query can start from. */
function objectQueryKeys(query: ObjectQuery): IndexKey[] {
  const keys: IndexKey[] = [{ key: keyOf("k", query.kind), fields: 1 }];
  if (query.tenantId !== undefined) {
    keys.push({ key: keyOf("kt", query.kind, query.tenantId), fields: 2 });
    if (query.namespace !== undefined) {
      keys.push({ key: keyOf("ktn", query.kind, query.tenantId, query.namespace), fields: 3 });
    }
  }
  return keys;
}

/** How many fields of the object query constrain the answer. */
function objectQueryFields(query: ObjectQuery): number {
  return [query.kind, query.tenantId, query.namespace, query.ownerUid].filter((v) => v !== undefined).length;
}

/** A stored record and its place in the list order; every index entry of the record shares it. */
interface Slot<R> {
  readonly orderKey: string;
  record: R;
}

const bySlotOrder = <R>(a: Slot<R>, b: Slot<R>) => (a.orderKey < b.orderKey ? -1 : a.orderKey > b.orderKey ? 1 : 0);

/**
 * The records under one index key, in list order. The order is made lazily: records that joined
 * since the last listing are sorted by themselves and merged in when the index is next listed, so
 * a write never sorts and a listing sorts only what is new. A changed record keeps its slot (its
 * order key cannot change), so only a record joining or leaving the index touches the order.
 */
class OrderedIndex<R> {
  readonly members = new Set<Slot<R>>();
  private ordered: Slot<R>[] = [];
  private readonly joined = new Set<Slot<R>>();
  private left = 0;

  join(slot: Slot<R>): void {
    this.members.add(slot);
    this.joined.add(slot);
  }

  leave(slot: Slot<R>): void {
    this.members.delete(slot);
    // A slot that joined since the last listing is not in the order yet.
    if (!this.joined.delete(slot)) this.left += 1;
  }

  /** The members in list order. */
  list(): readonly Slot<R>[] {
    if (this.joined.size === 0 && this.left === 0) return this.ordered;
    // A slot that left and joined again is both in the order and among those joined: keep the latter.
    const kept =
      this.left === 0 ? this.ordered : this.ordered.filter((s) => this.members.has(s) && !this.joined.has(s));
    const fresh = [...this.joined].sort(bySlotOrder);
    const merged: Slot<R>[] = [];
    let i = 0;
    let j = 0;
    while (i < kept.length && j < fresh.length) {
      const a = kept[i] as Slot<R>;
      const b = fresh[j] as Slot<R>;
      if (a.orderKey <= b.orderKey) {
        merged.push(a);
        i++;
      } else {
        merged.push(b);
        j++;
      }
    }
    for (; i < kept.length; i++) merged.push(kept[i] as Slot<R>);
    for (; j < fresh.length; j++) merged.push(fresh[j] as Slot<R>);
    this.ordered = merged;
    this.joined.clear();
    this.left = 0;
    return merged;
  }
}

/**
 * Records by id, indexed under the query keys they can be found by, each index kept in list order,
 * so a query walks only the records it can match and never sorts the table.
 */
class OrderedTable<R> {
  private readonly byId = new Map<string, Slot<R>>();
  private readonly indexes = new Map<string, OrderedIndex<R>>();

  constructor(
    private readonly orderKey: (record: R) => string,
    private readonly indexKeys: (record: R) => string[],
    /** Whether two versions of a record are under the same index entries (`false` when unsure). */
    private readonly sameIndexKeys: (a: R, b: R) => boolean = () => false,
  ) {}

  get(id: string): R | undefined {
    return this.byId.get(id)?.record;
  }

  has(id: string): boolean {
    return this.byId.has(id);
  }

  /** Stores, replaces or (with `undefined`) removes a record, keeping every index in step. */
  set(id: string, record: R | undefined): void {
    const slot = this.byId.get(id);
    if (slot && record && this.sameIndexKeys(slot.record, record)) {
      // Same entries, same order key: the record changes in its slot, which every entry shares.
      slot.record = record;
      return;
    }
    const before = slot ? this.indexKeys(slot.record) : [];
    const after = record ? this.indexKeys(record) : [];
    if (slot && !record) this.byId.delete(id);
    const kept = slot && record ? slot : { orderKey: record ? this.orderKey(record) : "", record: record as R };
    if (slot) for (const key of before) if (kept !== slot || !after.includes(key)) this.leave(key, slot);
    if (!record) return;
    kept.record = record;
    if (kept !== slot) this.byId.set(id, kept);
    for (const key of after) if (kept !== slot || !before.includes(key)) this.join(key, kept);
  }

  /** How many records are under the key. */
  count(key: string): number {
    return this.indexes.get(key)?.members.size ?? 0;
  }

  /**
   * The records matching a query, in list order: the smallest of the query's index keys is walked,
   * and `matches` is asked only when that key does not answer every field of the query.
   */
  matching(keys: readonly IndexKey[], fields: number, matches: (record: R) => boolean): R[] {
    let best: { key: IndexKey; index: OrderedIndex<R> } | undefined;
    for (const key of keys) {
      const index = this.indexes.get(key.key);
      if (!index) return [];
      // Of two as small, the one answering more of the query's fields: it may answer all of them, with no filter.
      const size = index.members.size;
      const bestSize = best?.index.members.size ?? Number.POSITIVE_INFINITY;
      if (!best || size < bestSize || (size === bestSize && key.fields > best.key.fields)) best = { key, index };
    }
    if (!best) return [];
    const slots = best.index.list();
    if (best.key.fields === fields) return slots.map((s) => s.record);
    const found: R[] = [];
    for (const { record } of slots) if (matches(record)) found.push(record);
    return found;
  }

  private join(key: string, slot: Slot<R>): void {
    let index = this.indexes.get(key);
    if (!index) {
      index = new OrderedIndex<R>();
      this.indexes.set(key, index);
    }
    index.join(slot);
  }

  private leave(key: string, slot: Slot<R>): void {
    const index = this.indexes.get(key);
    if (!index) return;
    index.leave(slot);
    if (index.members.size === 0) this.indexes.delete(key);
  }
}

function staleOrMissing(exists: boolean, what: string): never {
  if (exists) throw new ConflictError("stale", `${what} was modified since it was read; re-read and retry`);
  throw new NotFoundError(`${what} not found`);
}

/**
 * A FIFO lock: each holder gets the lock after every earlier caller released it. A free lock is
 * taken at once, so an operation nobody waits for costs no promise turns.
 */
class Mutex {
  private held = false;
  private readonly waiting: (() => void)[] = [];

  /** Takes the lock if it is free; false if someone holds it. */
  tryLock(): boolean {
    if (this.held) return false;
    this.held = true;
    return true;
  }

  lock(): Promise<() => void> {
    const release = () => this.release();
    if (this.tryLock()) return Promise.resolve(release);
    return new Promise((resolve) => this.waiting.push(() => resolve(release)));
  }

  /** Hands the lock to the longest waiting caller, or frees it. */
  release(): void {
    const next = this.waiting.shift();
    if (next) next();
    else this.held = false;
  }
}

/** The operation's result as a promise: a throw becomes a rejection, as from an async function. */
function settled<T>(operation: () => T): Promise<T> {
  try {
    return Promise.resolve(operation());
  } catch (error) {
    return Promise.reject(error);
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
  readonly objects = new OrderedTable<StoredObject>(objectOrderKey, objectIndexKeys);
  readonly objectIds = new Map<string, string>();
  readonly pods = new OrderedTable<PodRecord>(podOrderKey, podIndexKeys, samePodIndexKeys);
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
      // With no transaction open, no call chain has a frame to find: the storage is switched off until
      // the next one, since while on, Node runs a hook at every promise the process makes, ours or not.
      this.frame.disable();
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

  /**
   * Runs one operation: at once inside a transaction (it holds the lock) or when the lock is free
   * (no transaction is half done), else after every earlier caller.
   */
  private exclusive<T>(operation: () => T): Promise<T> {
    if (this.frame.getStore()?.open) return settled(operation);
    if (this.mutex.tryLock()) {
      try {
        return settled(operation);
      } finally {
        this.mutex.release();
      }
    }
    return this.mutex.lock().then((release) => {
      try {
        return operation();
      } finally {
        release();
      }
    });
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

  /** Stores (or, with `undefined`, removes) an object and keeps its indexes; a rollback restores both. */
  private putObject(key: string, record: StoredObject | undefined): void {
    const previous = this.t.objects.get(key);
    this.undoLog?.push(() => this.t.objects.set(key, previous));
    this.t.objects.set(key, record);
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
      const record = deepFreeze({ id, name, quota: clone(tenant.quota ?? null), createdAt });
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
      const next = deepFreeze({ ...current, quota: clone(quota) });
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
      for (const pod of podsMatching(this.t.pods, { tenantId })) {
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
      const record = deepFreeze({ id, tenantId, role, keyHash, prefix, createdAt, revokedAt });
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
      this.put(this.t.namespaces, key, deepFreeze({ tenantId, name, createdAt: nowMs }));
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
      const matches = (o: StoredObject) =>
        (query.tenantId === undefined || o.tenantId === query.tenantId) &&
        (query.namespace === undefined || o.namespace === query.namespace) &&
        (query.ownerUid === undefined || o.ownerUid === query.ownerUid);
      return this.t.objects.matching(objectQueryKeys(query), objectQueryFields(query), matches);
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
      this.putObject(key, record);
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
      const next = deepFreeze({
        ...change(current),
        resourceVersion: this.nextResourceVersion(),
        updatedAt: write.nowMs,
      });
      this.putObject(key, next);
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
      this.putObject(key, undefined);
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
    return this.exclusive(() => podsMatching(this.t.pods, query));
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
    const next = deepFreeze({ ...pod, resourceVersion: this.nextResourceVersion() });
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
      this.put(this.t.nodes, nodeName, deepFreeze(withAllocation(node, pod, 1)));
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
        this.put(this.t.nodes, nodeName, deepFreeze(withAllocation(node, pod, 1)));
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
      if (node) this.put(this.t.nodes, node.name, deepFreeze(withAllocation(node, pod, -1)));
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
      this.put(this.t.nodes, name, deepFreeze(next));
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
      const next: NodeRecord = deepFreeze({ ...current, ...Object.fromEntries(defined), updatedAt: nowMs });
      this.put(this.t.nodes, name, next);
      return next;
    });
  }

  stampHeartbeats(names: readonly string[], nowMs: number): Promise<void> {
    return this.exclusive(() => {
      for (const name of names) {
        const current = this.t.nodes.get(name);
        if (current) this.put(this.t.nodes, name, deepFreeze({ ...current, lastHeartbeatAt: nowMs, updatedAt: nowMs }));
      }
    });
  }

  deleteNode(name: string): Promise<boolean> {
    return this.exclusive(() => {
      if (!this.t.nodes.has(name) || this.t.pods.count(keyOf("node", name)) > 0) return false;
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
      this.put(this.t.events, key, deepFreeze(next));
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
      this.put(this.t.outbox, this.lastOutboxId, deepFreeze({ id: this.lastOutboxId, queue, key, createdAt: nowMs }));
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
      const lease = deepFreeze({ name, holder, expiresAt: nowMs + ttlMs, term });
      this.put(this.t.leases, name, lease);
      return lease;
    });
  }

  releaseLease(name: string, holder: string): Promise<void> {
    return this.exclusive(() => {
      if (this.t.leases.get(name)?.holder === holder) this.remove(this.t.leases, name);
    });
  }

  listPodPlacements(): Promise<PodPlacement[]> {
    return this.exclusive(() =>
      podsMatching(this.t.pods, {}).map((pod) => ({
        id: pod.id,
        nodeName: pod.nodeName,
        phase: pod.phase,
        deletionRequestedAt: pod.deletionRequestedAt,
        reason: typeof pod.status.reason === "string" ? pod.status.reason : null,
      })),
    );
  }
}

function versionMatches(resourceVersion: string, write: ConditionalWrite): boolean {
  return write.expectedResourceVersion === undefined || write.expectedResourceVersion === resourceVersion;
}

function podsMatching(pods: OrderedTable<PodRecord>, query: PodQuery): PodRecord[] {
  return pods.matching(podQueryKeys(query), podQueryFields(query), (pod) => podMatches(pod, query));
}

function podMatches(pod: PodRecord, query: PodQuery): boolean {
  return (
    (query.tenantId === undefined || pod.tenantId === query.tenantId) &&
    (query.namespace === undefined || pod.namespace === query.namespace) &&
    (query.ownerKind === undefined || pod.ownerKind === query.ownerKind) &&
    (query.ownerName === undefined || pod.ownerName === query.ownerName) &&
    (query.nodeName === undefined || pod.nodeName === query.nodeName) &&
    (!query.unbound || pod.nodeName === null) &&
    (!query.ownerless || pod.ownerKind === null) &&
    (!query.holdingPodAffinity || holdsPodAffinity(pod)) &&
    (!query.probedOrBackingOff || probedOrBackingOff(pod))
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
