/**
 * The `Store` is the only way platform state is read or written. Two
 * implementations pass one contract suite (`store.contract.test.ts`): SQL
 * (drizzle over postgres.js or PGlite) and in-memory. Every write that can race
 * is a conditional update: on `resourceVersion` for objects and pods, on free
 * capacity for node allocation. Times are milliseconds since the epoch and always
 * come from the caller (the injected `Clock`), never from the database.
 */
export type Json = Record<string, unknown>;

/**
 * The operator's limits for one tenant, in the platform's integer units; an
 * absent key is unlimited. Counted as Kubernetes' ResourceQuota counts: the
 * requests of the tenant's pods, and the storage its claims ask for.
 */
export interface TenantQuota {
  cpuMillis?: number;
  memoryBytes?: number;
  pods?: number;
  storageBytes?: number;
}

export interface TenantRecord {
  id: string;
  name: string;
  quota: TenantQuota | null;
  createdAt: number;
}

/** A tenant is created without a quota unless one is given. */
export type NewTenant = Omit<TenantRecord, "quota"> & { quota?: TenantQuota | null };

/** What a tenant's pods take now: those not finished and not being deleted. */
export interface PodUsage {
  pods: number;
  cpuMillis: number;
  memoryBytes: number;
}

export type ApiKeyRole = "tenant" | "admin";

export interface ApiKeyRecord {
  id: string;
  tenantId: string;
  role: ApiKeyRole;
  /** SHA-256 of the key, hex; the key itself is never stored. */
  keyHash: string;
  /** The first characters of the key, to tell keys apart in listings. */
  prefix: string;
  createdAt: number;
  revokedAt: number | null;
}

export interface NamespaceRecord {
  tenantId: string;
  name: string;
  createdAt: number;
}

export interface ObjectRef {
  tenantId: string;
  kind: string;
  namespace: string;
  name: string;
}

/** The controller that owns an object or a pod (Kubernetes' controller ownerReference). */
export interface Owner {
  ownerKind: string | null;
  ownerName: string | null;
  ownerUid: string | null;
}

export interface StoredObject extends ObjectRef, Owner {
  id: string;
  apiVersion: string;
  uid: string;
  /** Bumped on every change of `spec`, never on status or metadata alone. */
  generation: number;
  /** Opaque; changes on every write. Drawn from one global sequence. */
  resourceVersion: string;
  labels: Record<string, string>;
  annotations: Record<string, string>;
  spec: Json;
  status: Json;
  createdAt: number;
  updatedAt: number;
}

export type NewObject = Omit<
  StoredObject,
  "generation" | "resourceVersion" | "status" | "updatedAt" | "ownerKind" | "ownerName" | "ownerUid"
> &
  Partial<Owner> & { status?: Json };

export interface ObjectChange {
  apiVersion: string;
  labels: Record<string, string>;
  annotations: Record<string, string>;
  spec: Json;
}

export interface ObjectQuery {
  kind: string;
  tenantId?: string;
  namespace?: string;
  /** Only objects owned by this uid. */
  ownerUid?: string;
}

export type PodPhase = "Pending" | "Running" | "Succeeded" | "Failed" | "Unknown";

export interface PodRecord {
  id: string;
  tenantId: string;
  namespace: string;
  name: string;
  uid: string;
  ownerKind: string | null;
  ownerName: string | null;
  ownerUid: string | null;
  labels: Record<string, string>;
  annotations: Record<string, string>;
  /** The `pod-template-hash` of the template the pod was made from. */
  templateHash: string | null;
  /** The Kubernetes pod spec, without `nodeName` (the binding lives in `nodeName` below). */
  spec: Json;
  /** Summed container requests, what the pod takes from its node. */
  cpuMillis: number;
  memoryBytes: number;
  nodeName: string | null;
  phase: PodPhase;
  ready: boolean;
  /** Kubernetes pod status: conditions, containerStatuses, podIP, reason, message. */
  status: Json;
  /** Set when the pod should stop; the row goes once its provider confirms. */
  deletionRequestedAt: number | null;
  resourceVersion: string;
  createdAt: number;
  updatedAt: number;
}

export type NewPod = Omit<
  PodRecord,
  "resourceVersion" | "updatedAt" | "nodeName" | "phase" | "ready" | "status" | "deletionRequestedAt"
> & { status?: Json };

/** A pod as `listPodPlacements` gives it: `reason` is its status's. */
export type PodPlacement = Pick<PodRecord, "id" | "nodeName" | "phase" | "deletionRequestedAt"> & {
  reason: string | null;
};

export interface PodQuery {
  tenantId?: string;
  namespace?: string;
  ownerKind?: string;
  ownerName?: string;
  nodeName?: string;
  /** Only pods not yet bound to a node. */
  unbound?: boolean;
  /** Only pods no controller owns (bare Pods). */
  ownerless?: boolean;
  /**
   * Only pods whose spec holds pod affinity or anti-affinity terms (`spec.affinity.podAffinity` or
   * `podAntiAffinity`): the placed pods that sway where any other pod goes.
   */
  holdingPodAffinity?: boolean;
  /**
   * Only pods a container of which has a probe (`livenessProbe`, `readinessProbe`, `startupProbe`),
   * or whose status holds a restart back-off (`restartBackOff`): the pods the prober looks after.
   */
  probedOrBackingOff?: boolean;
}

export interface PodStatusChange {
  phase: PodPhase;
  ready: boolean;
  status: Json;
}

export type BindResult = "bound" | "pod-gone" | "already-bound" | "node-gone" | "insufficient";

/** One pod of `bindPods`, and the node it goes to. */
export interface PodBinding {
  podId: string;
  nodeName: string;
}

/** What `bindPods` did with one binding: the pod as bound, when it was. */
export interface BindOutcome {
  result: BindResult;
  pod?: PodRecord;
}

/** One pod's status write of `updatePodStatuses`, made only if its resource version is still the one given. */
export interface PodStatusWrite {
  id: string;
  change: PodStatusChange;
  expectedResourceVersion: string;
}

export interface NodeRecord {
  name: string;
  provider: string;
  address: string;
  labels: Record<string, string>;
  cpuMillis: number;
  memoryBytes: number;
  maxPods: number;
  allocatedCpuMillis: number;
  allocatedMemoryBytes: number;
  allocatedPods: number;
  ready: boolean;
  unschedulable: boolean;
  lastHeartbeatAt: number | null;
  createdAt: number;
  updatedAt: number;
}

export type NewNode = Omit<
  NodeRecord,
  "allocatedCpuMillis" | "allocatedMemoryBytes" | "allocatedPods" | "createdAt" | "updatedAt"
>;

export interface NodeChange {
  ready?: boolean;
  unschedulable?: boolean;
  lastHeartbeatAt?: number;
  labels?: Record<string, string>;
  address?: string;
}

export type EventType = "Normal" | "Warning";

export interface EventRecord {
  id: string;
  tenantId: string;
  namespace: string;
  involvedKind: string;
  involvedName: string;
  involvedUid: string;
  type: EventType;
  reason: string;
  message: string;
  count: number;
  firstSeenAt: number;
  lastSeenAt: number;
}

export type NewEvent = Omit<EventRecord, "count" | "firstSeenAt" | "lastSeenAt"> & { atMs: number };

/** A singleton duty's lease: who holds it until when, and how many times it changed hands. */
export interface LeaseRecord {
  name: string;
  holder: string;
  expiresAt: number;
  term: number;
}

export interface OutboxRecord {
  id: number;
  queue: string;
  key: string;
  createdAt: number;
}

export class StoreError extends Error {}

/** A create of something that exists, or a conditional write whose condition no longer holds. */
export class ConflictError extends StoreError {
  constructor(
    readonly reason: "exists" | "stale",
    message: string,
  ) {
    super(message);
    this.name = "ConflictError";
  }
}

export class NotFoundError extends StoreError {
  constructor(message: string) {
    super(message);
    this.name = "NotFoundError";
  }
}

export interface ConditionalWrite {
  /** When given, the write happens only if the current resourceVersion equals it; else `ConflictError("stale")`. */
  expectedResourceVersion?: string;
  nowMs: number;
}

/** Every operation of the store; the same inside and outside a transaction. */
export interface StoreOps {
  createTenant(tenant: NewTenant): Promise<TenantRecord>;
  getTenant(id: string): Promise<TenantRecord | undefined>;
  getTenantByName(name: string): Promise<TenantRecord | undefined>;
  listTenants(): Promise<TenantRecord[]>;
  /** Sets (or, with null, clears) the tenant's quota; answers the tenant, or undefined when there is none. */
  setTenantQuota(tenantId: string, quota: TenantQuota | null): Promise<TenantRecord | undefined>;
  /**
   * Takes the tenant's lock until the enclosing transaction ends, and answers the
   * tenant as it is now. Writes checked against the tenant's quota take it first,
   * so two of them cannot both count the same headroom. Outside a transaction it
   * serialises nothing.
   */
  lockTenant(tenantId: string): Promise<TenantRecord | undefined>;
  /**
   * What the tenant's pods take, counted as Kubernetes' ResourceQuota counts: pods
   * not finished (Succeeded, Failed) and not being deleted, with their requests.
   */
  tenantPodUsage(tenantId: string): Promise<PodUsage>;

  createApiKey(key: ApiKeyRecord): Promise<ApiKeyRecord>;
  /** Active (not revoked) key with this hash. */
  findApiKeyByHash(keyHash: string): Promise<ApiKeyRecord | undefined>;
  listApiKeys(tenantId: string): Promise<ApiKeyRecord[]>;

  /** Creates the namespace if absent; returns whether it was created. */
  ensureNamespace(tenantId: string, name: string, nowMs: number): Promise<boolean>;
  listNamespaces(tenantId: string): Promise<NamespaceRecord[]>;

  getObject(ref: ObjectRef): Promise<StoredObject | undefined>;
  /** Sorted by namespace, then name. */
  listObjects(query: ObjectQuery): Promise<StoredObject[]>;
  /** Throws `ConflictError("exists")` when an object of that kind, namespace and name exists for the tenant. */
  createObject(object: NewObject): Promise<StoredObject>;
  /** Replaces labels, annotations and spec; `generation` goes up only when `spec` changes. */
  updateObject(ref: ObjectRef, change: ObjectChange, write: ConditionalWrite): Promise<StoredObject>;
  updateObjectStatus(ref: ObjectRef, status: Json, write: ConditionalWrite): Promise<StoredObject>;
  /** Returns the deleted object, or `undefined` when there was none. */
  deleteObject(ref: ObjectRef, write: ConditionalWrite): Promise<StoredObject | undefined>;

  createPod(pod: NewPod): Promise<PodRecord>;
  /**
   * Creates many pods in one write (a ReplicaSet's missing replicas), each as `createPod` would. A pod
   * whose id or name is taken, by a stored pod or by one earlier in `pods`, is left out instead of
   * refused. Answers the pods created, in the order given.
   */
  createPods(pods: readonly NewPod[]): Promise<PodRecord[]>;
  getPod(id: string): Promise<PodRecord | undefined>;
  /** The pods of these ids that exist, in the order given (each once). */
  getPods(ids: readonly string[]): Promise<PodRecord[]>;
  getPodByName(tenantId: string, namespace: string, name: string): Promise<PodRecord | undefined>;
  /** Sorted by namespace, then name. */
  listPods(query: PodQuery): Promise<PodRecord[]>;
  /**
   * Where every pod is and how it stands, without its spec and status: for the duties that look at
   * all pods every tick or resync (the node monitor, the resync), whose cost is the rows they read.
   */
  listPodPlacements(): Promise<PodPlacement[]>;
  updatePodStatus(id: string, change: PodStatusChange, write: ConditionalWrite): Promise<PodRecord>;
  /** Marks the pod for deletion (idempotent: the first time is kept). */
  markPodDeleting(id: string, nowMs: number): Promise<PodRecord | undefined>;
  /**
   * Binds an unbound pod to a node, adding its requests to the node's allocation
   * in the same conditional write: it fails as `insufficient` rather than over-commit.
   */
  bindPod(podId: string, nodeName: string, nowMs: number): Promise<BindResult>;
  /**
   * Binds many pods in one write, as `bindPod` each would, one after another in the order given: a pod
   * binds if it is unbound and its node has room for it beside everything allocated there before it,
   * bindings earlier in `binds` included. Answers each binding's outcome, in the order given.
   */
  bindPods(binds: readonly PodBinding[], nowMs: number): Promise<BindOutcome[]>;
  /**
   * Writes many pods' status in one write, each as a conditional `updatePodStatus`: a pod whose resource
   * version moved on, or that is gone, is left out. Answers the pods written, in the order given.
   */
  updatePodStatuses(writes: readonly PodStatusWrite[], nowMs: number): Promise<PodRecord[]>;
  /** Deletes the pod row and gives its requests back to its node. */
  deletePod(id: string): Promise<PodRecord | undefined>;

  /** Inserts the node, or updates its provider, address, labels, capacity and readiness (allocation is kept). */
  upsertNode(node: NewNode, nowMs: number): Promise<NodeRecord>;
  getNode(name: string): Promise<NodeRecord | undefined>;
  listNodes(): Promise<NodeRecord[]>;
  updateNode(name: string, change: NodeChange, nowMs: number): Promise<NodeRecord | undefined>;
  /** Stamps the heartbeat of every named node at `nowMs`, in one write (unknown names are ignored). */
  stampHeartbeats(names: readonly string[], nowMs: number): Promise<void>;
  /** Removes a node that no pod is bound to; answers whether it went (false: absent, or pods still bound). */
  deleteNode(name: string): Promise<boolean>;

  /** Records an event; the same involved object, type, reason and message again only bumps `count` and `lastSeenAt`. */
  recordEvent(event: NewEvent): Promise<EventRecord>;
  /** Newest last. */
  listEvents(query: { tenantId: string; namespace?: string; involvedName?: string }): Promise<EventRecord[]>;

  addOutbox(queue: string, key: string, nowMs: number): Promise<void>;
  /** The oldest rows first, at most `limit`. */
  peekOutbox(limit: number): Promise<OutboxRecord[]>;
  ackOutbox(ids: number[]): Promise<void>;
  /**
   * Takes or renews the lease `name` for `holder` until `nowMs + ttlMs`: when nobody holds it, its
   * holder's time is over, or `holder` holds it already. The lease as it is after, or null when
   * another holder has it. One conditional write: of two racing takers, one wins.
   */
  acquireLease(name: string, holder: string, ttlMs: number, nowMs: number): Promise<LeaseRecord | null>;
  /** Gives the lease up at once (a clean shutdown), if `holder` holds it. */
  releaseLease(name: string, holder: string): Promise<void>;
}

export interface Store extends StoreOps {
  readonly backend: "postgres" | "pglite" | "memory";
  /** Runs `fn` in one transaction: everything it wrote commits together, or nothing does. */
  transaction<T>(fn: (tx: StoreOps) => Promise<T>): Promise<T>;
  close(): Promise<void>;
}
