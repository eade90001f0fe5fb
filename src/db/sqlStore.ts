import { AsyncLocalStorage } from "node:async_hooks";
import {
  and,
  asc,
  eq,
  getTableColumns,
  inArray,
  isNull,
  notInArray,
  type SQL,
  type SQLWrapper,
  sql,
} from "drizzle-orm";
import type { PgColumn, PgDatabase, PgQueryResultHKT, PgUpdateSetSource } from "drizzle-orm/pg-core";
import { eventDedupeKey } from "./eventKey.js";
import { deepFreeze } from "./frozen.js";
import type * as schema from "./schema/index.js";
import {
  apiKeys,
  events,
  leases,
  namespaces,
  nextResourceVersion,
  nodes,
  objects,
  outbox,
  pods,
  tenants,
} from "./schema/index.js";
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
  type Owner,
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

/** The drizzle database both drivers (postgres.js and PGlite) give, or a transaction of it. */
export type SqlDatabase = PgDatabase<PgQueryResultHKT, typeof schema>;

type ObjectRow = typeof objects.$inferSelect;
type PodRow = typeof pods.$inferSelect;
type EventRow = typeof events.$inferSelect;

/** Thrown inside the bind transaction to roll it back; carries the answer out. */
class BindAborted extends Error {
  constructor(readonly result: BindResult) {
    super(result);
  }
}

/**
 * Sorts by code point, like the in-memory store, whatever the database's
 * default collation: `en_US` would put `a-b` after `ab`.
 */
function byText(column: SQLWrapper): SQL {
  return asc(sql`${column} collate "C"`);
}

function ownerOf(object: Partial<Owner>): Owner {
  return {
    ownerKind: object.ownerKind ?? null,
    ownerName: object.ownerName ?? null,
    ownerUid: object.ownerUid ?? null,
  };
}

function toObject(row: ObjectRow): StoredObject {
  return { ...row, resourceVersion: String(row.resourceVersion) };
}

function toPod(row: PodRow): PodRecord {
  return { ...row, resourceVersion: String(row.resourceVersion) };
}

/**
 * Pod records as parsed from their rows, each at its resource version, which every write of a pod
 * row moves on (and a version is never given twice, even by a rolled-back write). A list reads each
 * pod's version and re-parses only pods whose version changed since: at 10,000 pods, the prober's
 * and the controllers' lists would otherwise parse every spec and status many times a second.
 * The records kept are deep-frozen and handed out as they are (as the in-memory store does), so no
 * caller can change one under another.
 */
export class ParsedPods {
  private readonly byId = new Map<string, PodRecord>();
  /** The longest list so far: the kept records stay within twice as many (see `keep`). */
  private longestList = 0;

  constructor(private readonly minKept = MIN_PARSED_PODS) {}

  get size(): number {
    return this.byId.size;
  }

  get(id: string, resourceVersion: number): PodRecord | undefined {
    const known = this.byId.get(id);
    return known && known.resourceVersion === String(resourceVersion) ? known : undefined;
  }

  keep(pod: PodRecord): PodRecord {
    const kept = deepFreeze(pod);
    // Deleted pods stay until a complete list shows them gone; a process that never lists every pod
    // starts afresh instead, once what it keeps outgrows what it lists.
    if (this.byId.size >= Math.max(this.minKept, 2 * this.longestList)) this.byId.clear();
    this.byId.set(pod.id, kept);
    return kept;
  }

  listed(count: number): void {
    this.longestList = Math.max(this.longestList, count);
  }

  /** Drops every pod a complete list did not show: it was deleted. */
  forget(listed: readonly { id: string }[]): void {
    if (listed.length === this.byId.size) return;
    const present = new Set(listed.map((p) => p.id));
    for (const id of this.byId.keys()) if (!present.has(id)) this.byId.delete(id);
  }
}

/** Pod records kept at least, whatever the lists' lengths. */
const MIN_PARSED_PODS = 10_000;

/** Pods read in full by one statement at most (well under Postgres' 65,535 parameters). */
const POD_READ_CHUNK = 5_000;

/** Pods inserted by one statement of `createPods` at most. */
const POD_INSERT_CHUNK = 1_000;

/** A new pod's row: Pending, unbound, not being deleted. */
function podValues(pod: NewPod) {
  const { id, tenantId, namespace, name, uid, ownerKind, ownerName, ownerUid } = pod;
  const { labels, annotations, templateHash, spec, cpuMillis, memoryBytes, createdAt } = pod;
  return {
    ...{ id, tenantId, namespace, name, uid, ownerKind, ownerName, ownerUid },
    ...{ labels, annotations, templateHash, spec, cpuMillis, memoryBytes, createdAt, updatedAt: createdAt },
    ...{ nodeName: null, phase: "Pending" as const, ready: false, status: pod.status ?? {}, deletionRequestedAt: null },
  };
}

/**
 * A new pod row for `createPods`, which inserts its rows from one jsonb parameter (`jsonRows`): the
 * values it gives, by column name, and what every new pod starts with.
 */
function newPodColumns(pod: NewPod): Record<string, unknown> {
  const values = podValues(pod);
  return Object.fromEntries(newPodGiven.map(([key, name]) => [name, values[key as keyof typeof values]]));
}

/** A pod row's columns (also for `returning` of an update joined to another source, which would add its own). */
const podColumns = getTableColumns(pods);

/** What a new pod row holds whatever the pod: not bound, Pending, not ready, not deleted, a fresh version. */
const NEW_POD_FIXED: Record<string, SQL> = {
  node_name: sql`null`,
  phase: sql`'Pending'`,
  ready: sql`false`,
  deletion_requested_at: sql`null`,
  resource_version: nextResourceVersion,
};

/** The columns a new pod's values give (each by its key in `podValues` and its name in the table). */
const newPodGiven = Object.entries(podColumns)
  .filter(([, column]) => NEW_POD_FIXED[column.name] === undefined)
  .map(([key, column]) => [key, column.name] as const);

/** The select list of `createPods`' insert, in the table's column order, and the columns of its source. */
const newPodSelect = sql.join(
  Object.values(podColumns).map((column) => NEW_POD_FIXED[column.name] ?? sql.raw(`r.${column.name}`)),
  sql`, `,
);
const newPodSource = Object.values(podColumns)
  .filter((column) => NEW_POD_FIXED[column.name] === undefined)
  .map((column) => `${column.name} ${column.getSQLType()}`)
  .join(", ");

function toEvent(row: EventRow): EventRecord {
  const { dedupeKey: _, ...event } = row;
  return event;
}

/**
 * The resource-version condition of a conditional write, or `undefined` (no
 * condition) when none is expected. A version that is not one of ours can
 * never match; it must not reach Postgres as a malformed bigint.
 */
function versionMatches(column: PgColumn, write: ConditionalWrite): SQL | undefined {
  const expected = write.expectedResourceVersion;
  if (expected === undefined) return undefined;
  if (!/^[1-9][0-9]{0,15}$/.test(expected)) return sql`false`;
  return eq(column, Number(expected));
}

function objectWhere(ref: ObjectRef): SQL | undefined {
  return and(
    eq(objects.tenantId, ref.tenantId),
    eq(objects.kind, ref.kind),
    eq(objects.namespace, ref.namespace),
    eq(objects.name, ref.name),
  );
}

function describeRef(ref: ObjectRef): string {
  return `${ref.kind} ${ref.namespace}/${ref.name}`;
}

/** After a conditional write matched no row: the row is either gone or has moved on. */
function conditionalFailure(exists: boolean, what: string): never {
  if (exists) throw new ConflictError("stale", `${what} was modified since it was read; re-read and retry`);
  throw new NotFoundError(`${what} not found`);
}

/** jsonb compares semantically (key order does not matter), which is what "spec changed" means. */
function generationAfter(spec: Json): SQL {
  return sql`case when ${objects.spec} = ${JSON.stringify(spec)}::jsonb then ${objects.generation} else ${objects.generation} + 1 end`;
}

/**
 * Every store operation as drizzle queries against one database handle. The
 * handle is looked up on each call so that the root store can route calls made
 * inside `transaction()` into that transaction (see `SqlStore`).
 */
export class SqlOps implements StoreOps {
  private readonly parsedPods = new ParsedPods();

  constructor(private readonly handle: () => SqlDatabase) {}

  protected get db(): SqlDatabase {
    return this.handle();
  }

  async createTenant(tenant: NewTenant): Promise<TenantRecord> {
    const { id, name, createdAt } = tenant;
    const quota = tenant.quota ?? null;
    // ON CONFLICT DO NOTHING rather than catching 23505: a failed statement
    // would abort an enclosing Postgres transaction, and the caller may want to
    // carry on after a ConflictError.
    const rows = await this.db.insert(tenants).values({ id, name, quota, createdAt }).onConflictDoNothing().returning();
    if (!rows[0]) throw new ConflictError("exists", `tenant ${name} already exists`);
    return rows[0];
  }

  async getTenant(id: string): Promise<TenantRecord | undefined> {
    const rows = await this.db.select().from(tenants).where(eq(tenants.id, id)).limit(1);
    return rows[0];
  }

  async getTenantByName(name: string): Promise<TenantRecord | undefined> {
    const rows = await this.db.select().from(tenants).where(eq(tenants.name, name)).limit(1);
    return rows[0];
  }

  listTenants(): Promise<TenantRecord[]> {
    return this.db.select().from(tenants).orderBy(byText(tenants.name));
  }

  async setTenantQuota(tenantId: string, quota: TenantQuota | null): Promise<TenantRecord | undefined> {
    const rows = await this.db.update(tenants).set({ quota }).where(eq(tenants.id, tenantId)).returning();
    return rows[0];
  }

  async lockTenant(tenantId: string): Promise<TenantRecord | undefined> {
    const rows = await this.db.select().from(tenants).where(eq(tenants.id, tenantId)).for("update");
    return rows[0];
  }

  async tenantPodUsage(tenantId: string): Promise<PodUsage> {
    const counted = and(
      eq(pods.tenantId, tenantId),
      notInArray(pods.phase, ["Succeeded", "Failed"]),
      isNull(pods.deletionRequestedAt),
    );
    // Sums of bigint come back as numeric (a string); the casts keep them numbers.
    const [row] = await this.db
      .select({
        pods: sql<number>`count(*)::integer`,
        cpuMillis: sql<string>`coalesce(sum(${pods.cpuMillis}), 0)::bigint`,
        memoryBytes: sql<string>`coalesce(sum(${pods.memoryBytes}), 0)::bigint`,
      })
      .from(pods)
      .where(counted);
    return {
      pods: Number(row?.pods ?? 0),
      cpuMillis: Number(row?.cpuMillis ?? 0),
      memoryBytes: Number(row?.memoryBytes ?? 0),
    };
  }

  async createApiKey(key: ApiKeyRecord): Promise<ApiKeyRecord> {
    const { id, tenantId, role, keyHash, prefix, createdAt, revokedAt } = key;
    const values = { id, tenantId, role, keyHash, prefix, createdAt, revokedAt };
    const rows = await this.db.insert(apiKeys).values(values).onConflictDoNothing().returning();
    if (!rows[0]) throw new ConflictError("exists", `an API key with prefix ${prefix} already exists`);
    return rows[0];
  }

  async findApiKeyByHash(keyHash: string): Promise<ApiKeyRecord | undefined> {
    const active = and(eq(apiKeys.keyHash, keyHash), isNull(apiKeys.revokedAt));
    const rows = await this.db.select().from(apiKeys).where(active).limit(1);
    return rows[0];
  }

  listApiKeys(tenantId: string): Promise<ApiKeyRecord[]> {
    const order = [asc(apiKeys.createdAt), byText(apiKeys.id)];
    return this.db
      .select()
      .from(apiKeys)
      .where(eq(apiKeys.tenantId, tenantId))
      .orderBy(...order);
  }

  async ensureNamespace(tenantId: string, name: string, nowMs: number): Promise<boolean> {
    const values = { tenantId, name, createdAt: nowMs };
    const rows = await this.db.insert(namespaces).values(values).onConflictDoNothing().returning();
    return rows.length > 0;
  }

  listNamespaces(tenantId: string): Promise<NamespaceRecord[]> {
    return this.db.select().from(namespaces).where(eq(namespaces.tenantId, tenantId)).orderBy(byText(namespaces.name));
  }

  async getObject(ref: ObjectRef): Promise<StoredObject | undefined> {
    const rows = await this.db.select().from(objects).where(objectWhere(ref)).limit(1);
    return rows[0] && toObject(rows[0]);
  }

  async listObjects(query: ObjectQuery): Promise<StoredObject[]> {
    const where = and(
      eq(objects.kind, query.kind),
      query.tenantId === undefined ? undefined : eq(objects.tenantId, query.tenantId),
      query.namespace === undefined ? undefined : eq(objects.namespace, query.namespace),
      query.ownerUid === undefined ? undefined : eq(objects.ownerUid, query.ownerUid),
    );
    const order = [byText(objects.namespace), byText(objects.name), byText(objects.tenantId)];
    const rows = await this.db
      .select()
      .from(objects)
      .where(where)
      .orderBy(...order);
    return rows.map(toObject);
  }

  async createObject(object: NewObject): Promise<StoredObject> {
    const { id, tenantId, kind, namespace, name, apiVersion, uid, labels, annotations, spec, createdAt } = object;
    const values = {
      ...{ id, tenantId, kind, namespace, name, apiVersion, uid, labels, annotations, spec, createdAt },
      ...{ generation: 1, status: object.status ?? {}, updatedAt: createdAt },
      ...ownerOf(object),
    };
    const rows = await this.db.insert(objects).values(values).onConflictDoNothing().returning();
    if (!rows[0]) throw new ConflictError("exists", `${describeRef(object)} already exists`);
    return toObject(rows[0]);
  }

  async updateObject(ref: ObjectRef, change: ObjectChange, write: ConditionalWrite): Promise<StoredObject> {
    const { apiVersion, labels, annotations, spec } = change;
    const set = { apiVersion, labels, annotations, spec, generation: generationAfter(spec) };
    return this.writeObject(ref, set, write);
  }

  updateObjectStatus(ref: ObjectRef, status: Json, write: ConditionalWrite): Promise<StoredObject> {
    return this.writeObject(ref, { status }, write);
  }

  private async writeObject(
    ref: ObjectRef,
    set: PgUpdateSetSource<typeof objects>,
    write: ConditionalWrite,
  ): Promise<StoredObject> {
    const rows = await this.db
      .update(objects)
      .set({ ...set, resourceVersion: nextResourceVersion, updatedAt: write.nowMs })
      .where(and(objectWhere(ref), versionMatches(objects.resourceVersion, write)))
      .returning();
    if (rows[0]) return toObject(rows[0]);
    return conditionalFailure((await this.getObject(ref)) !== undefined, describeRef(ref));
  }

  async deleteObject(ref: ObjectRef, write: ConditionalWrite): Promise<StoredObject | undefined> {
    const rows = await this.db
      .delete(objects)
      .where(and(objectWhere(ref), versionMatches(objects.resourceVersion, write)))
      .returning();
    if (rows[0]) return toObject(rows[0]);
    if (write.expectedResourceVersion !== undefined && (await this.getObject(ref))) {
      throw new ConflictError("stale", `${describeRef(ref)} was modified since it was read; re-read and retry`);
    }
    return undefined;
  }

  async createPod(pod: NewPod): Promise<PodRecord> {
    const rows = await this.db.insert(pods).values(podValues(pod)).onConflictDoNothing().returning();
    if (!rows[0]) throw new ConflictError("exists", `pod ${pod.namespace}/${pod.name} already exists`);
    return toPod(rows[0]);
  }

  async createPods(list: readonly NewPod[]): Promise<PodRecord[]> {
    const created = new Map<string, PodRecord>();
    // One statement per chunk, each well under Postgres' 65,535 parameters (a pod takes 20).
    for (let start = 0; start < list.length; start += POD_INSERT_CHUNK) {
      const chunk = list.slice(start, start + POD_INSERT_CHUNK).map(newPodColumns);
      const rows = await this.db
        .insert(pods)
        .select(sql`select ${newPodSelect} from ${jsonRows("r", newPodSource, chunk)}`)
        .onConflictDoNothing()
        .returning();
      for (const row of rows) created.set(row.id, this.kept(row));
    }
    // RETURNING promises no order: the caller's is restored. A duplicate id in `list` is created once.
    return list.flatMap((pod) => {
      const record = created.get(pod.id);
      created.delete(pod.id);
      return record ?? [];
    });
  }

  async getPod(id: string): Promise<PodRecord | undefined> {
    const rows = await this.db.select().from(pods).where(eq(pods.id, id)).limit(1);
    return rows[0] && toPod(rows[0]);
  }

  async getPods(ids: readonly string[]): Promise<PodRecord[]> {
    const unique = [...new Set(ids)];
    if (unique.length === 0) return [];
    // As a list: versions first, and in full only the pods not parsed at that version already.
    const versions = await this.db
      .select({ id: pods.id, resourceVersion: pods.resourceVersion })
      .from(pods)
      .where(inArray(pods.id, unique));
    const byId = await this.podsAsOf(versions);
    return unique.flatMap((id) => byId.get(id) ?? []);
  }

  async getPodByName(tenantId: string, namespace: string, name: string): Promise<PodRecord | undefined> {
    const where = and(eq(pods.tenantId, tenantId), eq(pods.namespace, namespace), eq(pods.name, name));
    const rows = await this.db.select().from(pods).where(where).limit(1);
    return rows[0] && toPod(rows[0]);
  }

  async listPods(query: PodQuery): Promise<PodRecord[]> {
    const optional = (column: PgColumn, value: string | undefined) =>
      value === undefined ? undefined : eq(column, value);
    const where = and(
      optional(pods.tenantId, query.tenantId),
      optional(pods.namespace, query.namespace),
      optional(pods.ownerKind, query.ownerKind),
      optional(pods.ownerName, query.ownerName),
      optional(pods.nodeName, query.nodeName),
      query.unbound ? isNull(pods.nodeName) : undefined,
      query.ownerless ? isNull(pods.ownerKind) : undefined,
      query.holdingPodAffinity
        ? sql`(${pods.spec} -> 'affinity') ?| array['podAffinity', 'podAntiAffinity']`
        : undefined,
      // A probe is an object, and every object contains the empty one.
      query.probedOrBackingOff
        ? sql`(${pods.spec} -> 'containers' @> '[{"livenessProbe": {}}]'
            or ${pods.spec} -> 'containers' @> '[{"readinessProbe": {}}]'
            or ${pods.spec} -> 'containers' @> '[{"startupProbe": {}}]'
            or ${pods.status} ? 'restartBackOff')`
        : undefined,
    );
    const order = [byText(pods.namespace), byText(pods.name), byText(pods.tenantId)];
    const versions = await this.db
      .select({ id: pods.id, resourceVersion: pods.resourceVersion })
      .from(pods)
      .where(where)
      .orderBy(...order);
    this.parsedPods.listed(versions.length);
    const fresh = await this.podsAsOf(versions);
    // A list of every pod shows which ones are gone.
    if (where === undefined) this.parsedPods.forget(versions);
    return versions.flatMap((v) => fresh.get(v.id) ?? []);
  }

  /** A pod row just written (or read) in full, kept parsed for the lists and reads after it (`ParsedPods`). */
  private kept(row: PodRow): PodRecord {
    return this.parsedPods.keep(toPod(row));
  }

  /**
   * The pods at (at least) these versions: those parsed before at the same version as they were, the
   * rest read in full. A pod deleted meanwhile is left out; one changed meanwhile comes newer.
   */
  private async podsAsOf(
    versions: readonly { id: string; resourceVersion: number }[],
  ): Promise<Map<string, PodRecord>> {
    const found = new Map<string, PodRecord>();
    const stale: string[] = [];
    for (const { id, resourceVersion } of versions) {
      const known = this.parsedPods.get(id, resourceVersion);
      if (known) found.set(id, known);
      else stale.push(id);
    }
    for (let start = 0; start < stale.length; start += POD_READ_CHUNK) {
      const rows = await this.db
        .select()
        .from(pods)
        .where(inArray(pods.id, stale.slice(start, start + POD_READ_CHUNK)));
      for (const row of rows) found.set(row.id, this.kept(row));
    }
    return found;
  }

  async listPodPlacements(): Promise<PodPlacement[]> {
    return this.db
      .select({
        id: pods.id,
        nodeName: pods.nodeName,
        phase: pods.phase,
        deletionRequestedAt: pods.deletionRequestedAt,
        reason: sql<string | null>`${pods.status}->>'reason'`,
      })
      .from(pods)
      .orderBy(byText(pods.namespace), byText(pods.name), byText(pods.tenantId));
  }

  async updatePodStatus(id: string, change: PodStatusChange, write: ConditionalWrite): Promise<PodRecord> {
    const { phase, ready, status } = change;
    const rows = await this.db
      .update(pods)
      .set({ phase, ready, status, resourceVersion: nextResourceVersion, updatedAt: write.nowMs })
      .where(and(eq(pods.id, id), versionMatches(pods.resourceVersion, write)))
      .returning();
    if (rows[0]) return this.kept(rows[0]);
    return conditionalFailure((await this.getPod(id)) !== undefined, `pod ${id}`);
  }

  async markPodDeleting(id: string, nowMs: number): Promise<PodRecord | undefined> {
    // Only the first mark writes (and takes a resource version); later ones are no-ops.
    const rows = await this.db
      .update(pods)
      .set({ deletionRequestedAt: nowMs, resourceVersion: nextResourceVersion, updatedAt: nowMs })
      .where(and(eq(pods.id, id), isNull(pods.deletionRequestedAt)))
      .returning();
    return rows[0] ? this.kept(rows[0]) : this.getPod(id);
  }

  async bindPod(podId: string, nodeName: string, nowMs: number): Promise<BindResult> {
    try {
      // Inside an outer transaction this is a savepoint, so a failed bind undoes
      // only itself. Pod before node, as in deletePod, so lock order is one.
      await this.db.transaction(async (tx) => {
        const requests = await claimPod(tx, podId, nodeName, nowMs);
        await allocateOnNode(tx, nodeName, requests);
      });
      return "bound";
    } catch (error) {
      if (error instanceof BindAborted) return error.result;
      throw error;
    }
  }

  async bindPods(binds: readonly PodBinding[], nowMs: number): Promise<BindOutcome[]> {
    if (binds.length === 0) return [];
    const podIds = [...new Set(binds.map((b) => b.podId))];
    const nodeNames = [...new Set(binds.map((b) => b.nodeName))];
    // A savepoint inside an outer transaction. Rows are locked as bindPod and deletePod lock them, pods
    // before nodes, each kind in one order, so that racing binders wait for each other instead of
    // deadlocking; with both locked, the fit is decided here on the committed allocation.
    const decided = await this.db.transaction(async (tx) => {
      const podRows = await tx
        .select({ id: pods.id, nodeName: pods.nodeName, cpuMillis: pods.cpuMillis, memoryBytes: pods.memoryBytes })
        .from(pods)
        .where(inArray(pods.id, podIds))
        .orderBy(sql`${pods.id} collate "C"`)
        .for("update");
      const nodeRows = await tx
        .select()
        .from(nodes)
        .where(inArray(nodes.name, nodeNames))
        .orderBy(sql`${nodes.name} collate "C"`)
        .for("update");
      const plan = planBinds(binds, podRows, nodeRows);
      const bound = plan.flatMap((p, i) => (p === "bound" ? [binds[i] as PodBinding] : []));
      if (bound.length === 0) return { plan, rows: [] as PodRow[] };
      const grown = new Map<string, { cpuMillis: number; memoryBytes: number; pods: number }>();
      const requests = new Map(podRows.map((r) => [r.id, r]));
      for (const { podId, nodeName } of bound) {
        const pod = requests.get(podId) as { cpuMillis: number; memoryBytes: number };
        const sum = grown.get(nodeName) ?? { cpuMillis: 0, memoryBytes: 0, pods: 0 };
        grown.set(nodeName, {
          cpuMillis: sum.cpuMillis + pod.cpuMillis,
          memoryBytes: sum.memoryBytes + pod.memoryBytes,
          pods: sum.pods + 1,
        });
      }
      const growth = [...grown].map(([node, g]) => ({ node, cpu: g.cpuMillis, memory: g.memoryBytes, count: g.pods }));
      await tx
        .update(nodes)
        .set({
          allocatedCpuMillis: sql`${nodes.allocatedCpuMillis} + g.cpu`,
          allocatedMemoryBytes: sql`${nodes.allocatedMemoryBytes} + g.memory`,
          allocatedPods: sql`${nodes.allocatedPods} + g.count`,
        })
        .from(jsonRows("g", "node text, cpu integer, memory bigint, count integer", growth))
        .where(sql`${nodes.name} = g.node`);
      const rows = await tx
        .update(pods)
        .set({ nodeName: sql`b.node`, resourceVersion: nextResourceVersion, updatedAt: nowMs })
        .from(
          jsonRows(
            "b",
            "id text, node text",
            bound.map((b) => ({ id: b.podId, node: b.nodeName })),
          ),
        )
        .where(sql`${pods.id} = b.id`)
        .returning(podColumns);
      return { plan, rows };
    });
    const written = new Map(decided.rows.map((row) => [row.id, this.kept(row)]));
    return decided.plan.map((result, i) => {
      const pod = result === "bound" ? written.get((binds[i] as PodBinding).podId) : undefined;
      return pod ? { result, pod } : { result };
    });
  }

  async updatePodStatuses(writes: readonly PodStatusWrite[], nowMs: number): Promise<PodRecord[]> {
    // A pod written twice in one statement is not possible: only its first write counts.
    const first = [...new Map([...writes].reverse().map((w) => [w.id, w])).values()].reverse();
    const valid = first.filter((w) => /^[1-9][0-9]{0,15}$/.test(w.expectedResourceVersion));
    if (valid.length === 0) return [];
    const changes = valid.map((w) => ({
      id: w.id,
      phase: w.change.phase,
      ready: w.change.ready,
      status: w.change.status,
      expected: w.expectedResourceVersion,
    }));
    const rows = await this.db
      .update(pods)
      .set({
        phase: sql`w.phase`,
        ready: sql`w.ready`,
        status: sql`w.status`,
        resourceVersion: nextResourceVersion,
        updatedAt: nowMs,
      })
      .from(jsonRows("w", "id text, phase text, ready boolean, status jsonb, expected bigint", changes))
      .where(sql`${pods.id} = w.id and ${pods.resourceVersion} = w.expected`)
      .returning(podColumns);
    const written = new Map(rows.map((row) => [row.id, this.kept(row)]));
    return writes.flatMap((w) => {
      const pod = written.get(w.id);
      written.delete(w.id);
      return pod ?? [];
    });
  }

  deletePod(id: string): Promise<PodRecord | undefined> {
    return this.db.transaction(async (tx) => {
      // The row is deleted once, so its requests are given back once, however
      // many deleters race.
      const [row] = await tx.delete(pods).where(eq(pods.id, id)).returning();
      if (!row) return undefined;
      if (row.nodeName !== null) await releaseOnNode(tx, row.nodeName, row);
      return toPod(row);
    });
  }

  async upsertNode(node: NewNode, nowMs: number): Promise<NodeRecord> {
    const { name, provider, address, labels, cpuMillis, memoryBytes, maxPods, ready } = node;
    const refreshed = { provider, address, labels, cpuMillis, memoryBytes, maxPods, ready, updatedAt: nowMs };
    const inserted = {
      ...refreshed,
      ...{ name, unschedulable: node.unschedulable, lastHeartbeatAt: node.lastHeartbeatAt, createdAt: nowMs },
    };
    // On conflict only what the provider reports is refreshed: allocation,
    // cordon and heartbeat belong to the control plane.
    const rows = await this.db
      .insert(nodes)
      .values(inserted)
      .onConflictDoUpdate({ target: nodes.name, set: refreshed })
      .returning();
    return rows[0] as NodeRecord;
  }

  async getNode(name: string): Promise<NodeRecord | undefined> {
    const rows = await this.db.select().from(nodes).where(eq(nodes.name, name)).limit(1);
    return rows[0];
  }

  listNodes(): Promise<NodeRecord[]> {
    return this.db.select().from(nodes).orderBy(byText(nodes.name));
  }

  async updateNode(name: string, change: NodeChange, nowMs: number): Promise<NodeRecord | undefined> {
    const { ready, unschedulable, lastHeartbeatAt, labels, address } = change;
    // drizzle leaves out keys whose value is undefined, so absent fields keep their value.
    const set = { ready, unschedulable, lastHeartbeatAt, labels, address, updatedAt: nowMs };
    const rows = await this.db.update(nodes).set(set).where(eq(nodes.name, name)).returning();
    return rows[0];
  }

  async stampHeartbeats(names: readonly string[], nowMs: number): Promise<void> {
    if (names.length === 0) return;
    await this.db
      .update(nodes)
      .set({ lastHeartbeatAt: nowMs, updatedAt: nowMs })
      .where(inArray(nodes.name, [...names]));
  }

  async deleteNode(name: string): Promise<boolean> {
    // One statement: a pod bound between a check and the delete cannot be orphaned.
    const bound = this.db.select({ id: pods.id }).from(pods).where(eq(pods.nodeName, name));
    const rows = await this.db
      .delete(nodes)
      .where(and(eq(nodes.name, name), sql`not exists (${bound})`))
      .returning({ name: nodes.name });
    return rows.length > 0;
  }

  async recordEvent(event: NewEvent): Promise<EventRecord> {
    const { id, tenantId, namespace, involvedKind, involvedName, involvedUid, type, reason, message, atMs } = event;
    const values = {
      ...{ id, tenantId, namespace, involvedKind, involvedName, involvedUid, type, reason, message },
      ...{ dedupeKey: eventDedupeKey(event), count: 1, firstSeenAt: atMs, lastSeenAt: atMs },
    };
    // One upsert, so two workers recording the same event at once count it twice
    // instead of inserting two rows.
    const repeated = {
      count: sql`${events.count} + 1`,
      lastSeenAt: sql`greatest(${events.lastSeenAt}, ${atMs}::bigint)`,
    };
    const rows = await this.db
      .insert(events)
      .values(values)
      .onConflictDoUpdate({ target: events.dedupeKey, set: repeated })
      .returning();
    return toEvent(rows[0] as EventRow);
  }

  async listEvents(query: { tenantId: string; namespace?: string; involvedName?: string }): Promise<EventRecord[]> {
    const where = and(
      eq(events.tenantId, query.tenantId),
      query.namespace === undefined ? undefined : eq(events.namespace, query.namespace),
      query.involvedName === undefined ? undefined : eq(events.involvedName, query.involvedName),
    );
    const order = [asc(events.lastSeenAt), asc(events.firstSeenAt), byText(events.id)];
    const rows = await this.db
      .select()
      .from(events)
      .where(where)
      .orderBy(...order);
    return rows.map(toEvent);
  }

  async addOutbox(queue: string, key: string, nowMs: number): Promise<void> {
    await this.db.insert(outbox).values({ queue, key, createdAt: nowMs });
  }

  peekOutbox(limit: number): Promise<OutboxRecord[]> {
    return this.db.select().from(outbox).orderBy(asc(outbox.id)).limit(limit);
  }

  async ackOutbox(ids: number[]): Promise<void> {
    if (ids.length === 0) return;
    await this.db.delete(outbox).where(inArray(outbox.id, ids));
  }

  async acquireLease(name: string, holder: string, ttlMs: number, nowMs: number): Promise<LeaseRecord | null> {
    const expiresAt = nowMs + ttlMs;
    const [row] = await this.db
      .insert(leases)
      .values({ name, holder, expiresAt, term: 1 })
      .onConflictDoUpdate({
        target: leases.name,
        set: {
          holder,
          expiresAt,
          term: sql`case when ${leases.holder} = ${holder} then ${leases.term} else ${leases.term} + 1 end`,
        },
        setWhere: sql`${leases.holder} = ${holder} or ${leases.expiresAt} <= ${nowMs}`,
      })
      .returning();
    return row ?? null;
  }

  async releaseLease(name: string, holder: string): Promise<void> {
    await this.db.delete(leases).where(and(eq(leases.name, name), eq(leases.holder, holder)));
  }
}

/** Marks the pod bound if it is still unbound; returns what it takes from the node. */
async function claimPod(tx: SqlDatabase, podId: string, nodeName: string, nowMs: number) {
  const [claimed] = await tx
    .update(pods)
    .set({ nodeName, resourceVersion: nextResourceVersion, updatedAt: nowMs })
    .where(and(eq(pods.id, podId), isNull(pods.nodeName)))
    .returning({ cpuMillis: pods.cpuMillis, memoryBytes: pods.memoryBytes });
  if (claimed) return claimed;
  const [existing] = await tx.select({ id: pods.id }).from(pods).where(eq(pods.id, podId)).limit(1);
  throw new BindAborted(existing ? "already-bound" : "pod-gone");
}

/**
 * Adds the requests to the node's allocation only if they fit: the capacity
 * check and the increment are one statement, so concurrent binders re-check
 * against each other's committed allocation instead of over-committing.
 */
async function allocateOnNode(tx: SqlDatabase, nodeName: string, requests: { cpuMillis: number; memoryBytes: number }) {
  const { cpuMillis, memoryBytes } = requests;
  const fits = and(
    eq(nodes.name, nodeName),
    sql`${nodes.allocatedCpuMillis} + ${cpuMillis}::integer <= ${nodes.cpuMillis}`,
    sql`${nodes.allocatedMemoryBytes} + ${memoryBytes}::bigint <= ${nodes.memoryBytes}`,
    sql`${nodes.allocatedPods} + 1 <= ${nodes.maxPods}`,
  );
  const [allocated] = await tx
    .update(nodes)
    .set({
      allocatedCpuMillis: sql`${nodes.allocatedCpuMillis} + ${cpuMillis}::integer`,
      allocatedMemoryBytes: sql`${nodes.allocatedMemoryBytes} + ${memoryBytes}::bigint`,
      allocatedPods: sql`${nodes.allocatedPods} + 1`,
    })
    .where(fits)
    .returning({ name: nodes.name });
  if (allocated) return;
  const [existing] = await tx.select({ name: nodes.name }).from(nodes).where(eq(nodes.name, nodeName)).limit(1);
  throw new BindAborted(existing ? "insufficient" : "node-gone");
}

/** `case <key> when k1 then v1 … end`, each value cast: one column's values for many rows of one statement. */
/**
 * Rows handed to a statement as one jsonb parameter, as a table to join (`update … from`): one
 * parameter whatever their number, and a join on the key, where a `case` per column, with a branch
 * per row, cost rows × branches to build and to run.
 */
function jsonRows(alias: string, columns: string, rows: readonly Record<string, unknown>[]): SQL {
  return sql`jsonb_to_recordset(${JSON.stringify(rows)}::jsonb) as ${sql.raw(alias)}(${sql.raw(columns)})`;
}

/**
 * Decides `bindPods` on the locked rows, one binding after another as `bindPod` would: a pod binds if
 * it exists, is unbound and not bound earlier in the list, and fits its node beside what the node has
 * allocated and what earlier bindings added.
 */
function planBinds(
  binds: readonly PodBinding[],
  podRows: readonly { id: string; nodeName: string | null; cpuMillis: number; memoryBytes: number }[],
  nodeRows: readonly NodeRecord[],
): BindResult[] {
  const podsById = new Map(podRows.map((r) => [r.id, r]));
  const free = new Map(nodeRows.map((n) => [n.name, { ...n }]));
  const taken = new Set<string>();
  return binds.map(({ podId, nodeName }): BindResult => {
    const pod = podsById.get(podId);
    if (!pod) return "pod-gone";
    if (pod.nodeName !== null || taken.has(podId)) return "already-bound";
    const node = free.get(nodeName);
    if (!node) return "node-gone";
    const fits =
      node.allocatedCpuMillis + pod.cpuMillis <= node.cpuMillis &&
      node.allocatedMemoryBytes + pod.memoryBytes <= node.memoryBytes &&
      node.allocatedPods + 1 <= node.maxPods;
    if (!fits) return "insufficient";
    node.allocatedCpuMillis += pod.cpuMillis;
    node.allocatedMemoryBytes += pod.memoryBytes;
    node.allocatedPods += 1;
    taken.add(podId);
    return "bound";
  });
}

async function releaseOnNode(tx: SqlDatabase, nodeName: string, requests: { cpuMillis: number; memoryBytes: number }) {
  await tx
    .update(nodes)
    .set({
      allocatedCpuMillis: sql`${nodes.allocatedCpuMillis} - ${requests.cpuMillis}::integer`,
      allocatedMemoryBytes: sql`${nodes.allocatedMemoryBytes} - ${requests.memoryBytes}::bigint`,
      allocatedPods: sql`${nodes.allocatedPods} - 1`,
    })
    .where(eq(nodes.name, nodeName));
}

/**
 * The SQL store, over postgres.js or PGlite. Calls made on the store itself
 * while a `transaction()` callback runs join that transaction (found through
 * async context): on PGlite, which has one connection, they would otherwise wait
 * for the transaction forever, and on Postgres they would silently escape it.
 * A nested `transaction()` becomes a savepoint. Operations of one transaction
 * share one connection, so await them one at a time rather than in parallel.
 */
export class SqlStore extends SqlOps implements Store {
  private readonly current: AsyncLocalStorage<SqlDatabase>;
  private readonly leaseOps: SqlOps | undefined;

  /** `leases`: a connection of their own for lease calls made outside a transaction (see `openStore`). */
  constructor(
    root: SqlDatabase,
    readonly backend: "postgres" | "pglite",
    private readonly closeConnection: () => Promise<void>,
    leases?: SqlDatabase,
  ) {
    const current = new AsyncLocalStorage<SqlDatabase>();
    super(() => current.getStore() ?? root);
    this.current = current;
    this.leaseOps = leases && new SqlOps(() => leases);
  }

  override acquireLease(name: string, holder: string, ttlMs: number, nowMs: number): Promise<LeaseRecord | null> {
    const ops = this.current.getStore() || !this.leaseOps ? undefined : this.leaseOps;
    return ops ? ops.acquireLease(name, holder, ttlMs, nowMs) : super.acquireLease(name, holder, ttlMs, nowMs);
  }

  override releaseLease(name: string, holder: string): Promise<void> {
    const ops = this.current.getStore() || !this.leaseOps ? undefined : this.leaseOps;
    return ops ? ops.releaseLease(name, holder) : super.releaseLease(name, holder);
  }

  transaction<T>(fn: (tx: StoreOps) => Promise<T>): Promise<T> {
    return this.db.transaction((tx) => this.current.run(tx, () => fn(new SqlOps(() => tx))));
  }

  close(): Promise<void> {
    return this.closeConnection();
  }
}
