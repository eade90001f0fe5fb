import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTestDatabase, describePostgres, isPostgresReachable } from "../../test/helpers/db.js";
import {
  ConflictError,
  type NewNode,
  type NewObject,
  type NewPod,
  NotFoundError,
  openStore,
  type PodQuery,
  type PodRecord,
  type Store,
  type StoredObject,
} from "./index.js";

/**
 * One contract, three back ends. Each back end gets one store for the whole
 * file; tests stay apart by using names no other test uses (`unique`), and the
 * few global listings (nodes, outbox) are filtered or drained first.
 */
interface Backend {
  name: string;
  open(): Promise<{ store: Store; dispose(): Promise<void> }>;
}

const memory: Backend = {
  name: "memory",
  async open() {
    const store = await openStore({ memory: true });
    return { store, dispose: () => store.close() };
  },
};

const pglite: Backend = {
  name: "pglite",
  async open() {
    const store = await openStore({});
    return { store, dispose: () => store.close() };
  },
};

const postgres: Backend = {
  name: "postgres",
  async open() {
    const database = await createTestDatabase();
    const store = await openStore({ databaseUrl: database.url });
    return {
      store,
      async dispose() {
        await store.close();
        await database.drop();
      },
    };
  },
};

const postgresReachable = await isPostgresReachable();
const backends = postgresReachable ? [memory, pglite, postgres] : [memory, pglite];

if (!postgresReachable) describePostgres("Store contract: postgres", false, () => {});

let lastUnique = 0;
/** A name no other test in this file uses. */
function unique(prefix: string): string {
  lastUnique += 1;
  return `${prefix}-${lastUnique}`;
}

const GiB = 1024 ** 3;
const MiB = 1024 ** 2;

function newObject(tenantId: string, name: string, overrides: Partial<NewObject> = {}): NewObject {
  return {
    id: unique("obj"),
    tenantId,
    kind: "Deployment",
    namespace: "default",
    name,
    apiVersion: "apps/v1",
    uid: unique("uid"),
    labels: { app: name },
    annotations: {},
    spec: { replicas: 1, template: { spec: { containers: [{ name: "web", image: "nginx" }] } } },
    createdAt: 1_000,
    ...overrides,
  };
}

function newPod(tenantId: string, name: string, overrides: Partial<NewPod> = {}): NewPod {
  return {
    id: unique("pod"),
    tenantId,
    namespace: "default",
    name,
    uid: unique("uid"),
    ownerKind: null,
    ownerName: null,
    ownerUid: null,
    labels: {},
    annotations: {},
    templateHash: null,
    spec: { containers: [{ name: "web", image: "nginx" }] },
    cpuMillis: 100,
    memoryBytes: 128 * MiB,
    createdAt: 1_000,
    ...overrides,
  };
}

function newNode(name: string, overrides: Partial<NewNode> = {}): NewNode {
  return {
    name,
    provider: "simulated",
    address: "10.0.0.1",
    labels: { zone: "a" },
    cpuMillis: 4_000,
    memoryBytes: 8 * GiB,
    maxPods: 110,
    ready: true,
    unschedulable: false,
    lastHeartbeatAt: null,
    ...overrides,
  };
}

/** The error a promise rejects with; fails the test if it resolves. */
async function rejectionOf(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (error) {
    return error;
  }
  throw new Error("expected the operation to fail, but it succeeded");
}

async function expectConflict(promise: Promise<unknown>, reason: "exists" | "stale"): Promise<void> {
  const error = await rejectionOf(promise);
  expect(error).toBeInstanceOf(ConflictError);
  expect((error as ConflictError).reason).toBe(reason);
}

async function expectNotFound(promise: Promise<unknown>): Promise<void> {
  expect(await rejectionOf(promise)).toBeInstanceOf(NotFoundError);
}

function refOf(object: StoredObject) {
  return { tenantId: object.tenantId, kind: object.kind, namespace: object.namespace, name: object.name };
}

describe.each(backends.map((backend) => [backend.name, backend] as const))("Store contract: %s", (_name, backend) => {
  let store: Store;
  let dispose: () => Promise<void>;

  beforeAll(async () => {
    ({ store, dispose } = await backend.open());
  });

  afterAll(async () => {
    await dispose?.();
  });

  it("reports its back end", () => {
    expect(store.backend).toBe(backend.name);
  });

  describe("tenants", () => {
    it("creates, finds by id and by name, and refuses a second tenant of the same name", async () => {
      const name = unique("acme");
      const tenant = await store.createTenant({ id: unique("ten"), name, createdAt: 5 });
      expect(await store.getTenant(tenant.id)).toEqual(tenant);
      expect(await store.getTenantByName(name)).toEqual(tenant);
      await expectConflict(store.createTenant({ id: unique("ten"), name, createdAt: 6 }), "exists");
      expect(await store.getTenant("ten-missing")).toBeUndefined();
    });

    it("lists tenants sorted by name", async () => {
      const b = await store.createTenant({ id: unique("ten"), name: unique("zz-list-b"), createdAt: 1 });
      const a = await store.createTenant({ id: unique("ten"), name: unique("zz-list-a"), createdAt: 2 });
      const names = (await store.listTenants()).map((t) => t.name);
      expect(names.indexOf(a.name)).toBeLessThan(names.indexOf(b.name));
      expect(names).toEqual([...names].sort());
    });
  });

  describe("quotas", () => {
    it("creates a tenant without a quota, sets one, reads it back everywhere, and clears it", async () => {
      const tenant = await store.createTenant({ id: unique("ten"), name: unique("quota"), createdAt: 1 });
      expect(tenant.quota).toBeNull();
      const quota = { cpuMillis: 8_000, memoryBytes: 16 * GiB, pods: 50, storageBytes: 100 * GiB };
      expect(await store.setTenantQuota(tenant.id, quota)).toEqual({ ...tenant, quota });
      expect((await store.getTenant(tenant.id))?.quota).toEqual(quota);
      expect((await store.getTenantByName(tenant.name))?.quota).toEqual(quota);
      expect((await store.listTenants()).find((t) => t.id === tenant.id)?.quota).toEqual(quota);
      expect(await store.setTenantQuota(tenant.id, { pods: 3 })).toEqual({ ...tenant, quota: { pods: 3 } });
      expect(await store.setTenantQuota(tenant.id, null)).toEqual(tenant);
      expect(await store.setTenantQuota("ten-missing", { pods: 1 })).toBeUndefined();
      const made = await store.createTenant({ id: unique("ten"), name: unique("quota"), quota, createdAt: 1 });
      expect(made.quota).toEqual(quota);
    });

    it("counts a tenant's pods and their requests, leaving out finished, deleting and other tenants' pods", async () => {
      const tenantId = unique("ten");
      expect(await store.tenantPodUsage(tenantId)).toEqual({ pods: 0, cpuMillis: 0, memoryBytes: 0 });
      await store.createPod(newPod(tenantId, "a", { cpuMillis: 250, memoryBytes: 3 * GiB }));
      await store.createPod(newPod(tenantId, "no-requests", { cpuMillis: 0, memoryBytes: 0 }));
      const running = await store.createPod(newPod(tenantId, "running", { namespace: "other" }));
      await store.updatePodStatus(running.id, { phase: "Running", ready: true, status: {} }, { nowMs: 2 });
      for (const phase of ["Succeeded", "Failed"] as const) {
        const done = await store.createPod(newPod(tenantId, phase.toLowerCase(), { cpuMillis: 4_000 }));
        await store.updatePodStatus(done.id, { phase, ready: false, status: {} }, { nowMs: 2 });
      }
      const deleting = await store.createPod(newPod(tenantId, "deleting", { cpuMillis: 4_000 }));
      await store.markPodDeleting(deleting.id, 3);
      await store.createPod(newPod(unique("ten"), "a", { cpuMillis: 4_000 }));
      expect(await store.tenantPodUsage(tenantId)).toEqual({
        pods: 3,
        cpuMillis: 250 + 100,
        memoryBytes: 3 * GiB + 128 * MiB,
      });
    });

    it("lists only the pods no controller owns when asked", async () => {
      const tenantId = unique("ten");
      const bare = await store.createPod(newPod(tenantId, "bare"));
      await store.createPod(newPod(tenantId, "owned", { ownerKind: "ReplicaSet", ownerName: "web", ownerUid: "u" }));
      expect((await store.listPods({ tenantId, ownerless: true })).map((p) => p.id)).toEqual([bare.id]);
    });

    it("answers the tenant as it is from lockTenant, inside a transaction and out", async () => {
      const tenant = await store.createTenant({ id: unique("ten"), name: unique("lock"), createdAt: 1 });
      await store.setTenantQuota(tenant.id, { pods: 2 });
      expect(await store.lockTenant(tenant.id)).toEqual({ ...tenant, quota: { pods: 2 } });
      expect(await store.transaction((tx) => tx.lockTenant(tenant.id))).toEqual({ ...tenant, quota: { pods: 2 } });
      expect(await store.transaction((tx) => tx.lockTenant("ten-missing"))).toBeUndefined();
    });

    it("lets only one of two concurrent quota-checked creates pass when one pod is left", async () => {
      const tenant = await store.createTenant({
        id: unique("ten"),
        name: unique("race"),
        quota: { pods: 1 },
        createdAt: 1,
      });
      let counted!: () => void;
      const firstCounted = new Promise<void>((resolve) => {
        counted = resolve;
      });
      // Each locks, counts, and creates only if the count leaves room. The first
      // waits after counting, so that without the lock the second would count the
      // same empty tenant and both would create.
      const attempt = async (name: string, afterCount: () => Promise<void>) =>
        store.transaction(async (tx) => {
          const locked = await tx.lockTenant(tenant.id);
          const usage = await tx.tenantPodUsage(tenant.id);
          await afterCount();
          if (usage.pods + 1 > (locked?.quota?.pods ?? Number.POSITIVE_INFINITY)) return false;
          await tx.createPod(newPod(tenant.id, name));
          return true;
        });
      const first = attempt("first", async () => {
        counted();
        await new Promise((resolve) => setTimeout(resolve, 150));
      });
      await firstCounted;
      const second = attempt("second", async () => {});
      expect(await Promise.all([first, second])).toEqual([true, false]);
      expect((await store.listPods({ tenantId: tenant.id })).map((p) => p.name)).toEqual(["first"]);
    });
  });

  describe("api keys", () => {
    it("finds an active key by hash, never a revoked one, and lists keys per tenant", async () => {
      const tenantId = unique("ten");
      const active = {
        id: unique("key"),
        tenantId,
        role: "tenant" as const,
        keyHash: unique("hash"),
        prefix: "kn_abc",
        createdAt: 10,
        revokedAt: null,
      };
      const revoked = { ...active, id: unique("key"), keyHash: unique("hash"), createdAt: 11, revokedAt: 20 };
      await store.createApiKey(active);
      await store.createApiKey(revoked);
      expect(await store.findApiKeyByHash(active.keyHash)).toEqual(active);
      expect(await store.findApiKeyByHash(revoked.keyHash)).toBeUndefined();
      expect(await store.findApiKeyByHash("no-such-hash")).toBeUndefined();
      expect(await store.listApiKeys(tenantId)).toEqual([active, revoked]);
      expect(await store.listApiKeys(unique("ten"))).toEqual([]);
      await expectConflict(store.createApiKey({ ...active, id: unique("key") }), "exists");
    });
  });

  describe("namespaces", () => {
    it("creates a namespace once per tenant", async () => {
      const [t1, t2] = [unique("ten"), unique("ten")];
      expect(await store.ensureNamespace(t1, "web", 1)).toBe(true);
      expect(await store.ensureNamespace(t1, "web", 2)).toBe(false);
      expect(await store.ensureNamespace(t2, "web", 3)).toBe(true);
      expect(await store.ensureNamespace(t1, "api", 4)).toBe(true);
      expect(await store.listNamespaces(t1)).toEqual([
        { tenantId: t1, name: "api", createdAt: 4 },
        { tenantId: t1, name: "web", createdAt: 1 },
      ]);
      expect(await store.listNamespaces(t2)).toEqual([{ tenantId: t2, name: "web", createdAt: 3 }]);
    });
  });

  describe("objects", () => {
    it("creates an object at generation 1 and reads it back", async () => {
      const input = newObject(unique("ten"), "web", { status: { observedGeneration: 0 } });
      const created = await store.createObject(input);
      const { status: _, ...rest } = input;
      expect(created).toEqual({
        ...rest,
        generation: 1,
        resourceVersion: expect.any(String),
        status: { observedGeneration: 0 },
        updatedAt: input.createdAt,
        ...{ ownerKind: null, ownerName: null, ownerUid: null },
      });
      expect(await store.getObject(refOf(created))).toEqual(created);
      const withoutStatus = await store.createObject(newObject(input.tenantId, "api"));
      expect(withoutStatus.status).toEqual({});
    });

    it("refuses a duplicate in the same tenant, kind and namespace, but not elsewhere", async () => {
      const tenantId = unique("ten");
      await store.createObject(newObject(tenantId, "web"));
      await expectConflict(store.createObject(newObject(tenantId, "web")), "exists");
      await store.createObject(newObject(unique("ten"), "web"));
      await store.createObject(newObject(tenantId, "web", { namespace: "other" }));
      await store.createObject(newObject(tenantId, "web", { kind: "Service", apiVersion: "v1" }));
    });

    it("hands out copies or frozen records: mutating a returned object changes nothing stored", async () => {
      const input = newObject(unique("ten"), "web");
      const created = await store.createObject(input);
      // The SQL store hands out copies; the memory store its frozen records, which refuse the change.
      const attempt = (change: () => void) => {
        try {
          change();
        } catch (error) {
          expect(error).toBeInstanceOf(TypeError);
        }
      };
      attempt(() => {
        (created.spec as { replicas: number }).replicas = 99;
      });
      attempt(() => {
        created.labels.app = "changed";
      });
      // What the caller passed in stays the caller's.
      (input.spec as { replicas: number }).replicas = 98;
      const read = await store.getObject(refOf(created));
      expect(read?.spec.replicas).toBe(1);
      expect(read?.labels.app).toBe("web");
    });

    it("lists by kind, tenant and namespace, sorted by namespace then name", async () => {
      const [t1, t2] = [unique("ten"), unique("ten")];
      for (const [namespace, name] of [
        ["prod", "b"],
        ["dev", "z"],
        ["prod", "a"],
        ["prod", "a-b"],
        ["prod", "ab"],
      ] as const) {
        await store.createObject(newObject(t1, name, { namespace }));
      }
      await store.createObject(newObject(t1, "svc", { namespace: "prod", kind: "Service", apiVersion: "v1" }));
      await store.createObject(newObject(t2, "a", { namespace: "prod" }));

      const all = await store.listObjects({ kind: "Deployment", tenantId: t1 });
      expect(all.map((o) => `${o.namespace}/${o.name}`)).toEqual(["dev/z", "prod/a", "prod/a-b", "prod/ab", "prod/b"]);
      const prod = await store.listObjects({ kind: "Deployment", tenantId: t1, namespace: "prod" });
      expect(prod.map((o) => o.name)).toEqual(["a", "a-b", "ab", "b"]);
      expect(prod.every((o) => o.tenantId === t1)).toBe(true);
      const services = await store.listObjects({ kind: "Service", tenantId: t1 });
      expect(services.map((o) => o.name)).toEqual(["svc"]);
      const everyTenant = await store.listObjects({ kind: "Deployment", namespace: "prod" });
      const mine = everyTenant.filter((o) => o.tenantId === t1 || o.tenantId === t2);
      expect(mine.map((o) => `${o.tenantId}/${o.name}`)).toEqual([
        `${t1}/a`,
        `${t2}/a`,
        `${t1}/a-b`,
        `${t1}/ab`,
        `${t1}/b`,
      ]);
    });

    it("records an object's owner and lists by owner", async () => {
      const tenant = unique("ten");
      const loose = await store.createObject(newObject(tenant, "loose", { kind: "ReplicaSet" }));
      expect([loose.ownerKind, loose.ownerName, loose.ownerUid]).toEqual([null, null, null]);
      const owner = { ownerKind: "Deployment", ownerName: "web", ownerUid: "uid-web" };
      const owned = await store.createObject(newObject(tenant, "web-abc", { kind: "ReplicaSet", ...owner }));
      expect(owned).toMatchObject(owner);
      await store.createObject(newObject(tenant, "web-def", { kind: "ReplicaSet", ...owner, ownerUid: "uid-other" }));
      const mine = await store.listObjects({ kind: "ReplicaSet", tenantId: tenant, ownerUid: "uid-web" });
      expect(mine.map((o) => o.name)).toEqual(["web-abc"]);
      const updated = await store.updateObject(owned, { ...owned, spec: { replicas: 3 } }, { nowMs: 2_000 });
      expect(updated).toMatchObject(owner);
    });

    it("bumps generation only when the spec changes, and the resource version on every update", async () => {
      const created = await store.createObject(
        newObject(unique("ten"), "web", { spec: { replicas: 2, selector: { app: "web", tier: "front" } } }),
      );
      const sameSpec = await store.updateObject(
        refOf(created),
        {
          apiVersion: "apps/v1",
          labels: { app: "web", team: "x" },
          annotations: { note: "hi" },
          spec: { selector: { tier: "front", app: "web" }, replicas: 2 },
        },
        { nowMs: 2_000, expectedResourceVersion: created.resourceVersion },
      );
      expect(sameSpec.generation).toBe(1);
      expect(sameSpec.resourceVersion).not.toBe(created.resourceVersion);
      expect(sameSpec.labels).toEqual({ app: "web", team: "x" });
      expect(sameSpec.annotations).toEqual({ note: "hi" });
      expect(sameSpec.updatedAt).toBe(2_000);
      expect(sameSpec.createdAt).toBe(created.createdAt);

      const newSpec = await store.updateObject(
        refOf(created),
        { apiVersion: "apps/v1", labels: {}, annotations: {}, spec: { replicas: 3, selector: { app: "web" } } },
        { nowMs: 3_000 },
      );
      expect(newSpec.generation).toBe(2);
      expect(newSpec.spec).toEqual({ replicas: 3, selector: { app: "web" } });
      expect(BigInt(newSpec.resourceVersion)).toBeGreaterThan(BigInt(sameSpec.resourceVersion));
      expect(await store.getObject(refOf(created))).toEqual(newSpec);
    });

    it("refuses an update with a stale resource version and leaves the object alone", async () => {
      const created = await store.createObject(newObject(unique("ten"), "web"));
      const change = { apiVersion: "apps/v1", labels: {}, annotations: {}, spec: { replicas: 5 } };
      const updated = await store.updateObject(refOf(created), change, {
        nowMs: 2,
        expectedResourceVersion: created.resourceVersion,
      });
      const again = { ...change, spec: { replicas: 7 } };
      await expectConflict(
        store.updateObject(refOf(created), again, { nowMs: 3, expectedResourceVersion: created.resourceVersion }),
        "stale",
      );
      await expectConflict(
        store.updateObject(refOf(created), again, { nowMs: 3, expectedResourceVersion: "not-a-version" }),
        "stale",
      );
      await expectConflict(
        store.updateObjectStatus(refOf(created), { ready: true }, { nowMs: 3, expectedResourceVersion: "1" }),
        "stale",
      );
      expect(await store.getObject(refOf(created))).toEqual(updated);
    });

    it("says NotFound when updating an object that does not exist", async () => {
      const ref = { tenantId: unique("ten"), kind: "Deployment", namespace: "default", name: "ghost" };
      const change = { apiVersion: "apps/v1", labels: {}, annotations: {}, spec: {} };
      await expectNotFound(store.updateObject(ref, change, { nowMs: 1 }));
      await expectNotFound(store.updateObject(ref, change, { nowMs: 1, expectedResourceVersion: "5" }));
      await expectNotFound(store.updateObjectStatus(ref, {}, { nowMs: 1 }));
      // Another tenant's object is as good as missing.
      const theirs = await store.createObject(newObject(unique("ten"), "ghost"));
      await expectNotFound(store.updateObject({ ...ref, name: theirs.name }, change, { nowMs: 1 }));
    });

    it("updates status without touching generation", async () => {
      const created = await store.createObject(newObject(unique("ten"), "web"));
      const updated = await store.updateObjectStatus(
        refOf(created),
        { readyReplicas: 1 },
        { nowMs: 5_000, expectedResourceVersion: created.resourceVersion },
      );
      expect(updated.status).toEqual({ readyReplicas: 1 });
      expect(updated.generation).toBe(1);
      expect(updated.spec).toEqual(created.spec);
      expect(updated.updatedAt).toBe(5_000);
      expect(updated.resourceVersion).not.toBe(created.resourceVersion);
    });

    it("deletes only at the expected resource version and returns what it deleted", async () => {
      const created = await store.createObject(newObject(unique("ten"), "web"));
      const updated = await store.updateObjectStatus(refOf(created), { x: 1 }, { nowMs: 2 });
      await expectConflict(
        store.deleteObject(refOf(created), { nowMs: 3, expectedResourceVersion: created.resourceVersion }),
        "stale",
      );
      expect(await store.getObject(refOf(created))).toEqual(updated);
      const deleted = await store.deleteObject(refOf(created), {
        nowMs: 3,
        expectedResourceVersion: updated.resourceVersion,
      });
      expect(deleted).toEqual(updated);
      expect(await store.getObject(refOf(created))).toBeUndefined();
      expect(await store.deleteObject(refOf(created), { nowMs: 4 })).toBeUndefined();
      // The name is free again.
      await store.createObject(newObject(created.tenantId, created.name));
    });
  });

  it("draws resource versions from one strictly increasing sequence across objects and pods", async () => {
    const tenantId = unique("ten");
    const versions: string[] = [];
    const object = await store.createObject(newObject(tenantId, "web"));
    versions.push(object.resourceVersion);
    const pod = await store.createPod(newPod(tenantId, "web-1"));
    versions.push(pod.resourceVersion);
    versions.push((await store.updateObjectStatus(refOf(object), { a: 1 }, { nowMs: 2 })).resourceVersion);
    const status = { phase: "Running" as const, ready: true, status: {} };
    versions.push((await store.updatePodStatus(pod.id, status, { nowMs: 3 })).resourceVersion);
    versions.push((await store.createObject(newObject(tenantId, "api"))).resourceVersion);
    versions.push((await store.markPodDeleting(pod.id, 4))?.resourceVersion ?? "");
    for (let i = 1; i < versions.length; i++) {
      expect(BigInt(versions[i] as string)).toBeGreaterThan(BigInt(versions[i - 1] as string));
    }
  });

  describe("pods", () => {
    it("creates a pending, unbound pod and finds it by id and by name", async () => {
      const input = newPod(unique("ten"), "web-1", { status: { reason: "new" } });
      const pod = await store.createPod(input);
      expect(pod).toMatchObject({
        id: input.id,
        nodeName: null,
        phase: "Pending",
        ready: false,
        status: { reason: "new" },
        deletionRequestedAt: null,
        cpuMillis: 100,
        memoryBytes: 128 * MiB,
        updatedAt: input.createdAt,
      });
      expect(await store.getPod(pod.id)).toEqual(pod);
      expect(await store.getPodByName(input.tenantId, "default", "web-1")).toEqual(pod);
      expect(await store.getPodByName(unique("ten"), "default", "web-1")).toBeUndefined();
      await expectConflict(store.createPod(newPod(input.tenantId, "web-1")), "exists");
    });

    it("gets many pods by id in one call, in the order given, leaving out those that do not exist", async () => {
      const tenantId = unique("ten");
      const a = await store.createPod(newPod(tenantId, "a"));
      const b = await store.createPod(newPod(tenantId, "b"));
      expect(await store.getPods([b.id, "pod-missing", a.id, b.id])).toEqual([b, a]);
      expect(await store.getPods([])).toEqual([]);
    });

    it("lists every pod's placement, phase, deletion mark and status reason, without spec or status", async () => {
      const tenantId = unique("ten");
      const lost = await store.createPod(newPod(tenantId, "a", { status: { reason: "NodeLost" } }));
      const plain = await store.createPod(newPod(tenantId, "b"));
      await store.markPodDeleting(plain.id, 42);
      const ours = (await store.listPodPlacements()).filter((p) => p.id === lost.id || p.id === plain.id);
      expect(ours).toEqual([
        { id: lost.id, nodeName: null, phase: "Pending", deletionRequestedAt: null, reason: "NodeLost" },
        { id: plain.id, nodeName: null, phase: "Pending", deletionRequestedAt: 42, reason: null },
      ]);
    });

    it("creates many pods in one call, leaving out those whose name or id is taken, in the order given", async () => {
      const tenantId = unique("ten");
      const taken = await store.createPod(newPod(tenantId, "web-taken"));
      const first = newPod(tenantId, "web-b", { status: { reason: "new" } });
      const second = newPod(tenantId, "web-a");
      const inputs = [
        first,
        newPod(tenantId, "web-taken"),
        second,
        newPod(tenantId, "web-b"),
        { ...newPod(tenantId, "web-c"), id: taken.id },
      ];
      const created = await store.createPods(inputs);
      expect(created.map((p) => p.id)).toEqual([first.id, second.id]);
      expect(created[0]).toMatchObject({ nodeName: null, phase: "Pending", ready: false, status: { reason: "new" } });
      expect(created[0]).toEqual(await store.getPod(first.id));
      expect((await store.listPods({ tenantId })).map((p) => p.name)).toEqual(["web-a", "web-b", "web-taken"]);
      expect(await store.createPods([])).toEqual([]);
      const versions = created.map((p) => BigInt(p.resourceVersion));
      expect(new Set(versions).size).toBe(2);
      expect(versions.every((v) => v > BigInt(taken.resourceVersion))).toBe(true);
    });

    it("creates more pods in one call than one statement holds, and rolls them back with their transaction", async () => {
      const tenantId = unique("ten");
      const many = Array.from({ length: 2_345 }, (_, i) => newPod(tenantId, `web-${i}`));
      expect((await store.createPods(many)).map((p) => p.id)).toEqual(many.map((p) => p.id));
      expect((await store.tenantPodUsage(tenantId)).pods).toBe(2_345);
      const rolledBack = unique("ten");
      await expect(
        store.transaction(async (tx) => {
          await tx.createPods([newPod(rolledBack, "a"), newPod(rolledBack, "b")]);
          throw new Error("undo");
        }),
      ).rejects.toThrow("undo");
      expect(await store.listPods({ tenantId: rolledBack })).toEqual([]);
    });

    it("lists pods by tenant, namespace, owner, node and binding, sorted by namespace then name", async () => {
      const tenantId = unique("ten");
      const nodeName = unique("node");
      await store.upsertNode(newNode(nodeName), 1);
      const owner = { ownerKind: "ReplicaSet", ownerName: "web-abc", ownerUid: "rs-uid" };
      const b = await store.createPod(newPod(tenantId, "web-b", owner));
      const a = await store.createPod(newPod(tenantId, "web-a", owner));
      const other = await store.createPod(newPod(tenantId, "job-1", { ownerKind: "Job", ownerName: "job" }));
      const staging = await store.createPod(newPod(tenantId, "web-a", { ...owner, namespace: "staging" }));
      await store.createPod(newPod(unique("ten"), "web-a", owner));
      expect(await store.bindPod(b.id, nodeName, 2)).toBe("bound");

      const names = (pods: { namespace: string; name: string }[]) => pods.map((p) => `${p.namespace}/${p.name}`);
      expect(names(await store.listPods({ tenantId }))).toEqual([
        "default/job-1",
        "default/web-a",
        "default/web-b",
        "staging/web-a",
      ]);
      expect(names(await store.listPods({ tenantId, namespace: "default", ownerKind: "ReplicaSet" }))).toEqual([
        "default/web-a",
        "default/web-b",
      ]);
      expect((await store.listPods({ tenantId, ownerKind: "Job", ownerName: "job" })).map((p) => p.id)).toEqual([
        other.id,
      ]);
      expect((await store.listPods({ nodeName })).map((p) => p.id)).toEqual([b.id]);
      expect((await store.listPods({ tenantId, unbound: true })).map((p) => p.id)).toEqual([
        other.id,
        a.id,
        staging.id,
      ]);
    });

    it("lists the pods holding pod affinity or anti-affinity terms, bound or not, of one tenant", async () => {
      const tenantId = unique("ten");
      const nodeName = unique("node");
      await store.upsertNode(newNode(nodeName), 1);
      const term = { labelSelector: { matchLabels: { app: "db" } }, topologyKey: "kubernetes.io/hostname" };
      const spec = (affinity: Record<string, unknown>) => ({ containers: [{ name: "web", image: "nginx" }], affinity });
      const near = await store.createPod(
        newPod(tenantId, "near", {
          spec: spec({ podAffinity: { requiredDuringSchedulingIgnoredDuringExecution: [term] } }),
        }),
      );
      const apart = await store.createPod(
        newPod(tenantId, "apart", {
          spec: spec({
            podAntiAffinity: {
              preferredDuringSchedulingIgnoredDuringExecution: [{ weight: 1, podAffinityTerm: term }],
            },
          }),
        }),
      );
      const nodeOnly = { nodeAffinity: { requiredDuringSchedulingIgnoredDuringExecution: { nodeSelectorTerms: [] } } };
      await store.createPod(newPod(tenantId, "node-only", { spec: spec(nodeOnly) }));
      await store.createPod(newPod(tenantId, "plain"));
      await store.createPod(newPod(unique("ten"), "elsewhere", { spec: spec({ podAffinity: {} }) }));
      expect(await store.bindPod(near.id, nodeName, 2)).toBe("bound");
      const ids = async (query: PodQuery) => (await store.listPods(query)).map((p) => p.id);
      expect(await ids({ tenantId, holdingPodAffinity: true })).toEqual([apart.id, near.id]);
      expect(await ids({ tenantId, holdingPodAffinity: true, unbound: true })).toEqual([apart.id]);
    });

    it("lists the pods the prober looks after: a container with a probe, or a restart back-off", async () => {
      const tenantId = unique("ten");
      const containers = (...extra: Record<string, unknown>[]) => ({
        containers: [
          { name: "side", image: "side:1" },
          ...extra.map((e, i) => ({ name: `c${i}`, image: "web:1", ...e })),
        ],
      });
      const probe = { httpGet: { path: "/", port: 80 } };
      const live = await store.createPod(newPod(tenantId, "live", { spec: containers({ livenessProbe: probe }) }));
      const ready = await store.createPod(newPod(tenantId, "ready", { spec: containers({ readinessProbe: probe }) }));
      const start = await store.createPod(newPod(tenantId, "start", { spec: containers({ startupProbe: probe }) }));
      await store.createPod(newPod(tenantId, "plain", { spec: containers({}) }));
      const crashing = await store.createPod(newPod(tenantId, "crashing", { spec: containers({}) }));
      const backOff = { c0: { containerID: "c-1", delayMs: 10_000, restartAtMs: 20_000 } };
      await store.updatePodStatus(
        crashing.id,
        { phase: "Running", ready: false, status: { restartBackOff: backOff } },
        { nowMs: 2 },
      );
      const ids = async () =>
        (await store.listPods({ probedOrBackingOff: true })).filter((p) => p.tenantId === tenantId).map((p) => p.id);
      expect(await ids()).toEqual([crashing.id, live.id, ready.id, start.id]);
      expect((await store.listPods({ tenantId, probedOrBackingOff: true })).map((p) => p.name)).toEqual([
        "crashing",
        "live",
        "ready",
        "start",
      ]);
    });

    it("lists every pod as it is now, however often listed: changes, binds, deletion marks and deletions", async () => {
      const tenantId = unique("ten");
      const nodeName = unique("node");
      await store.upsertNode(newNode(nodeName), 1);
      const a = await store.createPod(newPod(tenantId, "web-a"));
      const b = await store.createPod(newPod(tenantId, "web-b"));
      const c = await store.createPod(newPod(tenantId, "web-c"));
      const listed = async () => store.listPods({ tenantId });
      expect((await listed()).map((p) => p.phase)).toEqual(["Pending", "Pending", "Pending"]);
      await store.updatePodStatus(a.id, { phase: "Running", ready: true, status: { podIP: "10.1.0.7" } }, { nowMs: 2 });
      expect(await store.bindPod(b.id, nodeName, 3)).toBe("bound");
      await store.markPodDeleting(c.id, 4);
      const after = await listed();
      expect(after.map((p) => [p.phase, p.ready, p.status.podIP ?? null, p.nodeName, p.deletionRequestedAt])).toEqual([
        ["Running", true, "10.1.0.7", null, null],
        ["Pending", false, null, nodeName, null],
        ["Pending", false, null, null, 4],
      ]);
      // A whole list (no filter) once the pod is gone, then the tenant's list again.
      expect(await store.deletePod(c.id)).toBeDefined();
      expect((await store.listPods({})).some((p) => p.id === c.id)).toBe(false);
      expect((await listed()).map((p) => p.name)).toEqual(["web-a", "web-b"]);
      expect(await listed()).toEqual(after.slice(0, 2));
    });

    it("hands out listed pods frozen or as copies: changing one changes nothing another list shows", async () => {
      const tenantId = unique("ten");
      await store.createPod(newPod(tenantId, "web-a"));
      const [first] = await store.listPods({ tenantId });
      try {
        (first as PodRecord).status.podIP = "10.9.9.9";
        (first as { phase: string }).phase = "Failed";
      } catch {
        // Frozen: the change was refused.
      }
      const [again] = await store.listPods({ tenantId });
      expect(again?.phase).toBe("Pending");
      expect(again?.status.podIP).toBeUndefined();
    });

    it("updates status conditionally on the resource version", async () => {
      const pod = await store.createPod(newPod(unique("ten"), "web-1"));
      const running = { phase: "Running" as const, ready: true, status: { podIP: "10.1.0.5" } };
      const updated = await store.updatePodStatus(pod.id, running, {
        nowMs: 7,
        expectedResourceVersion: pod.resourceVersion,
      });
      expect(updated).toMatchObject({ phase: "Running", ready: true, status: { podIP: "10.1.0.5" }, updatedAt: 7 });
      expect(updated.resourceVersion).not.toBe(pod.resourceVersion);
      const failed = { phase: "Failed" as const, ready: false, status: {} };
      await expectConflict(
        store.updatePodStatus(pod.id, failed, { nowMs: 8, expectedResourceVersion: pod.resourceVersion }),
        "stale",
      );
      expect(await store.getPod(pod.id)).toEqual(updated);
      await expectNotFound(store.updatePodStatus("pod-missing", failed, { nowMs: 8 }));
    });

    it("marks a pod for deletion once and keeps the first time", async () => {
      const pod = await store.createPod(newPod(unique("ten"), "web-1"));
      const first = await store.markPodDeleting(pod.id, 100);
      expect(first?.deletionRequestedAt).toBe(100);
      expect(first?.resourceVersion).not.toBe(pod.resourceVersion);
      const second = await store.markPodDeleting(pod.id, 200);
      expect(second).toEqual(first);
      expect(await store.markPodDeleting("pod-missing", 300)).toBeUndefined();
    });
  });

  describe("updatePodStatuses", () => {
    it("writes many pods' status in one call, each only if its resource version is the one read", async () => {
      const tenantId = unique("ten");
      const a = await store.createPod(newPod(tenantId, "a"));
      const b = await store.createPod(newPod(tenantId, "b"));
      const moved = await store.createPod(newPod(tenantId, "moved"));
      const movedOn = await store.updatePodStatus(
        moved.id,
        { phase: "Pending", ready: false, status: { x: 1 } },
        { nowMs: 2 },
      );
      const running = { phase: "Running" as const, ready: true, status: { podIP: "10.1.1.1", conditions: [] } };
      const written = await store.updatePodStatuses(
        [
          { id: b.id, change: running, expectedResourceVersion: b.resourceVersion },
          { id: moved.id, change: running, expectedResourceVersion: moved.resourceVersion },
          { id: "pod-missing", change: running, expectedResourceVersion: "1" },
          {
            id: a.id,
            change: { phase: "Failed", ready: false, status: {} },
            expectedResourceVersion: a.resourceVersion,
          },
          { id: a.id, change: running, expectedResourceVersion: a.resourceVersion },
          { id: b.id, change: running, expectedResourceVersion: "not-a-version" },
        ],
        9,
      );
      expect(written.map((p) => p.id)).toEqual([b.id, a.id]);
      expect(written[0]).toMatchObject({ ...running, updatedAt: 9 });
      expect(written[1]).toMatchObject({ phase: "Failed", ready: false, status: {} });
      expect(await store.getPod(b.id)).toEqual(written[0]);
      expect(await store.getPod(a.id)).toEqual(written[1]);
      expect(await store.getPod(moved.id)).toEqual(movedOn);
      expect(BigInt(written[0]?.resourceVersion ?? 0)).toBeGreaterThan(BigInt(movedOn.resourceVersion));
      expect(await store.updatePodStatuses([], 9)).toEqual([]);
    });
  });

  describe("bindPod", () => {
    it("binds an unbound pod and adds its requests to the node", async () => {
      const nodeName = unique("node");
      await store.upsertNode(newNode(nodeName), 1);
      const pod = await store.createPod(newPod(unique("ten"), "web-1", { cpuMillis: 500, memoryBytes: GiB }));
      expect(await store.bindPod(pod.id, nodeName, 50)).toBe("bound");
      const bound = await store.getPod(pod.id);
      expect(bound).toMatchObject({ nodeName, updatedAt: 50 });
      expect(BigInt(bound?.resourceVersion ?? 0)).toBeGreaterThan(BigInt(pod.resourceVersion));
      expect(await store.getNode(nodeName)).toMatchObject({
        allocatedCpuMillis: 500,
        allocatedMemoryBytes: GiB,
        allocatedPods: 1,
      });
    });

    it("says already-bound for a second bind and changes nothing", async () => {
      const [n1, n2] = [unique("node"), unique("node")];
      await store.upsertNode(newNode(n1), 1);
      await store.upsertNode(newNode(n2), 1);
      const pod = await store.createPod(newPod(unique("ten"), "web-1"));
      expect(await store.bindPod(pod.id, n1, 2)).toBe("bound");
      const afterFirst = await store.getPod(pod.id);
      expect(await store.bindPod(pod.id, n2, 3)).toBe("already-bound");
      expect(await store.bindPod(pod.id, n1, 3)).toBe("already-bound");
      expect(await store.getPod(pod.id)).toEqual(afterFirst);
      expect((await store.getNode(n1))?.allocatedPods).toBe(1);
      expect((await store.getNode(n2))?.allocatedPods).toBe(0);
    });

    it("says insufficient when cpu, memory or pod count would overflow, and changes nothing", async () => {
      const nodeName = unique("node");
      await store.upsertNode(newNode(nodeName, { cpuMillis: 1_000, memoryBytes: 2 * GiB, maxPods: 2 }), 1);
      const tenantId = unique("ten");
      const first = await store.createPod(newPod(tenantId, "first", { cpuMillis: 600, memoryBytes: GiB }));
      expect(await store.bindPod(first.id, nodeName, 2)).toBe("bound");
      const nodeBefore = await store.getNode(nodeName);

      const tooMuchCpu = await store.createPod(newPod(tenantId, "cpu", { cpuMillis: 401, memoryBytes: MiB }));
      const tooMuchMemory = await store.createPod(newPod(tenantId, "mem", { cpuMillis: 1, memoryBytes: GiB + 1 }));
      for (const pod of [tooMuchCpu, tooMuchMemory]) {
        expect(await store.bindPod(pod.id, nodeName, 3)).toBe("insufficient");
        expect(await store.getPod(pod.id)).toEqual(pod);
      }
      expect(await store.getNode(nodeName)).toEqual(nodeBefore);

      const fitsExactly = await store.createPod(newPod(tenantId, "exact", { cpuMillis: 400, memoryBytes: GiB }));
      expect(await store.bindPod(fitsExactly.id, nodeName, 4)).toBe("bound");
      const thirdPod = await store.createPod(newPod(tenantId, "third", { cpuMillis: 0, memoryBytes: 0 }));
      expect(await store.bindPod(thirdPod.id, nodeName, 5)).toBe("insufficient");
      expect(await store.getNode(nodeName)).toMatchObject({
        allocatedCpuMillis: 1_000,
        allocatedMemoryBytes: 2 * GiB,
        allocatedPods: 2,
      });
    });

    it("says node-gone for a missing node and pod-gone for a missing pod", async () => {
      const pod = await store.createPod(newPod(unique("ten"), "web-1"));
      expect(await store.bindPod(pod.id, unique("no-node"), 2)).toBe("node-gone");
      expect(await store.getPod(pod.id)).toEqual(pod);
      const nodeName = unique("node");
      await store.upsertNode(newNode(nodeName), 1);
      expect(await store.bindPod("pod-missing", nodeName, 2)).toBe("pod-gone");
      expect((await store.getNode(nodeName))?.allocatedPods).toBe(0);
    });

    it("never over-commits when 20 binders race for a 4-CPU node", async () => {
      const nodeName = unique("node");
      await store.upsertNode(newNode(nodeName, { cpuMillis: 4_000 }), 1);
      const tenantId = unique("ten");
      const pods = [];
      for (let i = 0; i < 20; i++) pods.push(await store.createPod(newPod(tenantId, `p-${i}`, { cpuMillis: 1_000 })));
      // All at once, so that on Postgres they run on separate connections and really race.
      const results = await Promise.all(pods.map((pod) => store.bindPod(pod.id, nodeName, 10)));
      expect(results.filter((r) => r === "bound")).toHaveLength(4);
      expect(results.filter((r) => r === "insufficient")).toHaveLength(16);
      expect(await store.getNode(nodeName)).toMatchObject({ allocatedCpuMillis: 4_000, allocatedPods: 4 });
      expect(await store.listPods({ nodeName })).toHaveLength(4);
    });

    it("binds many pods in one call, one after another, with each outcome bindPod would give", async () => {
      const [small, other] = [unique("node"), unique("node")];
      await store.upsertNode(newNode(small, { cpuMillis: 1_000, memoryBytes: 2 * GiB, maxPods: 3 }), 1);
      await store.upsertNode(newNode(other), 1);
      const tenantId = unique("ten");
      const make = (name: string, cpuMillis: number) => store.createPod(newPod(tenantId, name, { cpuMillis }));
      const [a, big, b, c, bound] = [
        await make("a", 600),
        await make("big", 600),
        await make("b", 300),
        await make("c", 50),
        await make("bound", 10),
      ] as const;
      expect(await store.bindPod(bound.id, other, 1)).toBe("bound");
      const outcomes = await store.bindPods(
        [
          { podId: a.id, nodeName: small },
          { podId: big.id, nodeName: small },
          { podId: b.id, nodeName: small },
          { podId: a.id, nodeName: other },
          { podId: bound.id, nodeName: small },
          { podId: "pod-missing", nodeName: small },
          { podId: c.id, nodeName: unique("no-node") },
          { podId: c.id, nodeName: other },
        ],
        7,
      );
      expect(outcomes.map((o) => o.result)).toEqual([
        "bound",
        "insufficient",
        "bound",
        "already-bound",
        "already-bound",
        "pod-gone",
        "node-gone",
        "bound",
      ]);
      for (const outcome of outcomes.filter((o) => o.result === "bound")) {
        expect(outcome.pod).toEqual(await store.getPod(outcome.pod?.id ?? ""));
        expect(outcome.pod?.updatedAt).toBe(7);
      }
      expect(outcomes[0]?.pod?.nodeName).toBe(small);
      expect(BigInt(outcomes[0]?.pod?.resourceVersion ?? 0)).toBeGreaterThan(BigInt(a.resourceVersion));
      expect(outcomes[1]?.pod).toBeUndefined();
      expect(await store.getPod(big.id)).toEqual(big);
      expect(await store.getNode(small)).toMatchObject({ allocatedCpuMillis: 900, allocatedPods: 2 });
      expect(await store.getNode(other)).toMatchObject({ allocatedCpuMillis: 60, allocatedPods: 2 });
      expect(await store.bindPods([], 8)).toEqual([]);
    });

    it("never over-commits when binders of many pods each race for a 4-CPU node", async () => {
      const nodeName = unique("node");
      await store.upsertNode(newNode(nodeName, { cpuMillis: 4_000 }), 1);
      const tenantId = unique("ten");
      const pods: PodRecord[] = [];
      for (let i = 0; i < 24; i++) pods.push(await store.createPod(newPod(tenantId, `p-${i}`, { cpuMillis: 500 })));
      // Six binders of overlapping lists, in opposite orders, all at once; and single binds beside them.
      const lists = Array.from({ length: 6 }, (_, k) => {
        const some = pods.filter((_, i) => (i + k) % 3 !== 0).map((p) => ({ podId: p.id, nodeName }));
        return k % 2 === 0 ? some : some.reverse();
      });
      const results = await Promise.all([
        ...lists.map((list) => store.bindPods(list, 10)),
        ...pods.slice(0, 4).map(async (p) => [{ result: await store.bindPod(p.id, nodeName, 10) }]),
      ]);
      const bound = results.flat().filter((o) => o.result === "bound");
      expect(bound).toHaveLength(8);
      expect(await store.getNode(nodeName)).toMatchObject({ allocatedCpuMillis: 4_000, allocatedPods: 8 });
      expect(await store.listPods({ nodeName })).toHaveLength(8);
    });

    it("works inside a transaction: a failed bind undoes only itself", async () => {
      const nodeName = unique("node");
      await store.upsertNode(newNode(nodeName, { cpuMillis: 1_000 }), 1);
      const tenantId = unique("ten");
      const big = await store.createPod(newPod(tenantId, "big", { cpuMillis: 2_000 }));
      const small = await store.createPod(newPod(tenantId, "small", { cpuMillis: 300 }));
      const results = await store.transaction(async (tx) => {
        const failed = await tx.bindPod(big.id, nodeName, 2);
        const ok = await tx.bindPod(small.id, nodeName, 2);
        await tx.addOutbox("pods", small.id, 2);
        return [failed, ok];
      });
      expect(results).toEqual(["insufficient", "bound"]);
      expect((await store.getPod(small.id))?.nodeName).toBe(nodeName);
      expect((await store.getPod(big.id))?.nodeName).toBeNull();
      expect(await store.getNode(nodeName)).toMatchObject({ allocatedCpuMillis: 300, allocatedPods: 1 });
    });
  });

  describe("deletePod", () => {
    it("gives a bound pod's requests back exactly once", async () => {
      const nodeName = unique("node");
      await store.upsertNode(newNode(nodeName), 1);
      const tenantId = unique("ten");
      const keep = await store.createPod(newPod(tenantId, "keep", { cpuMillis: 250, memoryBytes: 256 * MiB }));
      const gone = await store.createPod(newPod(tenantId, "gone", { cpuMillis: 500, memoryBytes: 512 * MiB }));
      expect(await store.bindPod(keep.id, nodeName, 2)).toBe("bound");
      expect(await store.bindPod(gone.id, nodeName, 2)).toBe("bound");

      const [first, second] = await Promise.all([store.deletePod(gone.id), store.deletePod(gone.id)]);
      expect([first, second].filter((p) => p !== undefined)).toHaveLength(1);
      expect((first ?? second)?.id).toBe(gone.id);
      expect(await store.deletePod(gone.id)).toBeUndefined();
      expect(await store.getPod(gone.id)).toBeUndefined();
      expect(await store.getNode(nodeName)).toMatchObject({
        allocatedCpuMillis: 250,
        allocatedMemoryBytes: 256 * MiB,
        allocatedPods: 1,
      });
    });

    it("deletes an unbound pod without touching any node, and frees its name", async () => {
      const pod = await store.createPod(newPod(unique("ten"), "web-1"));
      expect((await store.deletePod(pod.id))?.id).toBe(pod.id);
      await store.createPod(newPod(pod.tenantId, "web-1"));
    });
  });

  describe("nodes", () => {
    it("stamps the heartbeats of many nodes in one write, and leaves the others alone", async () => {
      const [a, b, c] = [unique("node"), unique("node"), unique("node")];
      for (const name of [a, b, c]) await store.upsertNode(newNode(name), 1);
      await store.stampHeartbeats([a, b, unique("unknown")], 500);
      await store.stampHeartbeats([], 600);
      expect((await store.getNode(a))?.lastHeartbeatAt).toBe(500);
      expect(await store.getNode(b)).toMatchObject({ lastHeartbeatAt: 500, updatedAt: 500 });
      expect((await store.getNode(c))?.lastHeartbeatAt).not.toBe(500);
    });

    it("deletes a node only when no pod is bound to it", async () => {
      const name = unique("node");
      await store.upsertNode(newNode(name), 1_000);
      const pod = await store.createPod(newPod(unique("ten"), "held"));
      expect(await store.bindPod(pod.id, name, 1_000)).toBe("bound");
      expect(await store.deleteNode(name)).toBe(false);
      expect(await store.getNode(name)).toBeDefined();
      await store.deletePod(pod.id);
      expect(await store.deleteNode(name)).toBe(true);
      expect(await store.getNode(name)).toBeUndefined();
      expect(await store.deleteNode(name)).toBe(false);
    });

    it("upserts a node, keeping allocation, cordon and heartbeat when it registers again", async () => {
      const nodeName = unique("node");
      const created = await store.upsertNode(newNode(nodeName, { lastHeartbeatAt: 5 }), 10);
      expect(created).toEqual({
        ...newNode(nodeName, { lastHeartbeatAt: 5 }),
        allocatedCpuMillis: 0,
        allocatedMemoryBytes: 0,
        allocatedPods: 0,
        createdAt: 10,
        updatedAt: 10,
      });
      const pod = await store.createPod(newPod(unique("ten"), "web-1", { cpuMillis: 700 }));
      expect(await store.bindPod(pod.id, nodeName, 11)).toBe("bound");
      await store.updateNode(nodeName, { unschedulable: true, lastHeartbeatAt: 12 }, 12);

      const again = await store.upsertNode(
        newNode(nodeName, { cpuMillis: 8_000, labels: { zone: "b" }, address: "10.0.0.2", ready: false }),
        20,
      );
      expect(again).toMatchObject({
        cpuMillis: 8_000,
        labels: { zone: "b" },
        address: "10.0.0.2",
        ready: false,
        unschedulable: true,
        lastHeartbeatAt: 12,
        allocatedCpuMillis: 700,
        allocatedPods: 1,
        createdAt: 10,
        updatedAt: 20,
      });
      expect(await store.getNode(nodeName)).toEqual(again);
    });

    it("updates only the fields given", async () => {
      const nodeName = unique("node");
      const created = await store.upsertNode(newNode(nodeName), 1);
      const updated = await store.updateNode(nodeName, { ready: false, lastHeartbeatAt: 42 }, 43);
      expect(updated).toEqual({ ...created, ready: false, lastHeartbeatAt: 42, updatedAt: 43 });
      const relabelled = await store.updateNode(nodeName, { labels: { zone: "c" }, address: "10.9.9.9" }, 44);
      expect(relabelled).toEqual({ ...updated, labels: { zone: "c" }, address: "10.9.9.9", updatedAt: 44 });
      expect(await store.updateNode(unique("no-node"), { ready: true }, 45)).toBeUndefined();
    });

    it("lists nodes sorted by name", async () => {
      const prefix = unique("list");
      for (const suffix of ["c", "a", "b"]) await store.upsertNode(newNode(`${prefix}-${suffix}`), 1);
      const names = (await store.listNodes()).map((n) => n.name).filter((n) => n.startsWith(`${prefix}-`));
      expect(names).toEqual([`${prefix}-a`, `${prefix}-b`, `${prefix}-c`]);
    });
  });

  describe("events", () => {
    it("counts repeats of the same event instead of storing them twice", async () => {
      const tenantId = unique("ten");
      const base = {
        tenantId,
        namespace: "default",
        involvedKind: "Pod",
        involvedName: "web-1",
        involvedUid: unique("uid"),
        type: "Warning" as const,
        reason: "BackOff",
        message: "Back-off restarting failed container",
      };
      const first = await store.recordEvent({ ...base, id: unique("ev"), atMs: 100 });
      expect(first).toMatchObject({ count: 1, firstSeenAt: 100, lastSeenAt: 100 });
      const repeat = await store.recordEvent({ ...base, id: unique("ev"), atMs: 200 });
      expect(repeat).toEqual({ ...first, count: 2, lastSeenAt: 200 });
      const other = await store.recordEvent({ ...base, id: unique("ev"), message: "Started", atMs: 150 });
      const elsewhere = await store.recordEvent({
        ...base,
        id: unique("ev"),
        namespace: "prod",
        involvedUid: unique("uid"),
        atMs: 300,
      });
      await store.recordEvent({
        ...base,
        id: unique("ev"),
        involvedName: "api-1",
        involvedUid: unique("uid"),
        atMs: 1,
      });

      const inDefault = await store.listEvents({ tenantId, namespace: "default", involvedName: "web-1" });
      expect(inDefault).toEqual([other, repeat]);
      expect((await store.listEvents({ tenantId })).map((e) => e.id)).toContain(elsewhere.id);
      expect(await store.listEvents({ tenantId: unique("ten") })).toEqual([]);
    });
  });

  describe("outbox", () => {
    it("hands out the oldest rows first and forgets acknowledged ones", async () => {
      // Rows other tests left behind would come first; drain them.
      await store.ackOutbox((await store.peekOutbox(10_000)).map((r) => r.id));
      await store.addOutbox("reconcile", "a", 1);
      await store.addOutbox("reconcile", "b", 2);
      await store.addOutbox("schedule", "c", 3);
      const firstTwo = await store.peekOutbox(2);
      expect(firstTwo.map((r) => [r.queue, r.key, r.createdAt])).toEqual([
        ["reconcile", "a", 1],
        ["reconcile", "b", 2],
      ]);
      expect(firstTwo[0]?.id).toBeLessThan(firstTwo[1]?.id ?? 0);
      await store.ackOutbox(firstTwo.map((r) => r.id));
      await store.ackOutbox([]);
      expect((await store.peekOutbox(10)).map((r) => r.key)).toEqual(["c"]);
    });
  });

  describe("leases", () => {
    it("are held by one holder until they expire, renewed by it, then taken over with a new term", async () => {
      const name = unique("lease");
      expect(await store.acquireLease(name, "a", 1_000, 10)).toEqual({ name, holder: "a", expiresAt: 1_010, term: 1 });
      expect(await store.acquireLease(name, "b", 1_000, 500)).toBeNull();
      expect(await store.acquireLease(name, "a", 1_000, 900)).toEqual({ name, holder: "a", expiresAt: 1_900, term: 1 });
      expect(await store.acquireLease(name, "b", 1_000, 1_899)).toBeNull();
      expect(await store.acquireLease(name, "b", 1_000, 1_900)).toEqual({
        name,
        holder: "b",
        expiresAt: 2_900,
        term: 2,
      });
      expect(await store.acquireLease(name, "a", 1_000, 2_000)).toBeNull();
      await store.releaseLease(name, "a");
      expect(await store.acquireLease(name, "a", 1_000, 2_000)).toBeNull();
      await store.releaseLease(name, "b");
      expect(await store.acquireLease(name, "a", 1_000, 2_000)).toMatchObject({ holder: "a" });
    });

    it("go to exactly one of many racing takers", async () => {
      const name = unique("lease");
      // All at once, so that on Postgres they run on separate connections and really race.
      const taken = await Promise.all(
        Array.from({ length: 12 }, (_, i) => store.acquireLease(name, `holder-${i}`, 1_000, 5)),
      );
      expect(taken.filter((l) => l !== null)).toHaveLength(1);
    });
  });

  describe("transactions", () => {
    it("commits every write together and returns the callback's result", async () => {
      const tenantId = unique("ten");
      await store.ackOutbox((await store.peekOutbox(10_000)).map((r) => r.id));
      const result = await store.transaction(async (tx) => {
        const created = await tx.createObject(newObject(tenantId, "web"));
        await tx.addOutbox("reconcile", `${tenantId}/web`, 1);
        return created.name;
      });
      expect(result).toBe("web");
      expect(await store.listObjects({ kind: "Deployment", tenantId })).toHaveLength(1);
      expect((await store.peekOutbox(10)).map((r) => r.key)).toEqual([`${tenantId}/web`]);
    });

    it("rolls back every write when the callback throws", async () => {
      const tenantId = unique("ten");
      const nodeName = unique("node");
      await store.ackOutbox((await store.peekOutbox(10_000)).map((r) => r.id));
      await store.upsertNode(newNode(nodeName), 1);
      const existing = await store.createObject(newObject(tenantId, "existing"));
      const pod = await store.createPod(newPod(tenantId, "web-1", { cpuMillis: 500 }));
      const nodeBefore = await store.getNode(nodeName);

      const error = await rejectionOf(
        store.transaction(async (tx) => {
          await tx.createTenant({ id: tenantId, name: unique("rolled-back"), createdAt: 1 });
          await tx.ensureNamespace(tenantId, "rolled-back", 1);
          await tx.createObject(newObject(tenantId, "new"));
          await tx.updateObjectStatus(refOf(existing), { changed: true }, { nowMs: 2 });
          expect(await tx.bindPod(pod.id, nodeName, 2)).toBe("bound");
          await tx.addOutbox("reconcile", "never", 2);
          await tx.recordEvent({ ...eventOf(tenantId), atMs: 2 });
          throw new Error("boom");
        }),
      );
      expect((error as Error).message).toBe("boom");

      expect(await store.getTenant(tenantId)).toBeUndefined();
      expect(await store.listNamespaces(tenantId)).toEqual([]);
      expect((await store.listObjects({ kind: "Deployment", tenantId })).map((o) => o.name)).toEqual(["existing"]);
      expect(await store.getObject(refOf(existing))).toEqual(existing);
      expect(await store.getPod(pod.id)).toEqual(pod);
      expect(await store.getNode(nodeName)).toEqual(nodeBefore);
      expect(await store.peekOutbox(10)).toEqual([]);
      expect(await store.listEvents({ tenantId })).toEqual([]);
    });

    it("lets reads inside a transaction see its own writes", async () => {
      const tenantId = unique("ten");
      await store.transaction(async (tx) => {
        const created = await tx.createObject(newObject(tenantId, "web"));
        expect(await tx.getObject(refOf(created))).toEqual(created);
        const updated = await tx.updateObjectStatus(refOf(created), { seen: 1 }, { nowMs: 2 });
        expect(await tx.listObjects({ kind: "Deployment", tenantId })).toEqual([updated]);
        const pod = await tx.createPod(newPod(tenantId, "web-1"));
        expect(await tx.listPods({ tenantId, unbound: true })).toEqual([pod]);
      });
    });

    it("keeps the transaction usable after a ConflictError inside it", async () => {
      const tenantId = unique("ten");
      await store.createObject(newObject(tenantId, "web"));
      await store.transaction(async (tx) => {
        await expectConflict(tx.createObject(newObject(tenantId, "web")), "exists");
        await tx.createObject(newObject(tenantId, "api"));
      });
      expect((await store.listObjects({ kind: "Deployment", tenantId })).map((o) => o.name)).toEqual(["api", "web"]);
    });

    it("undoes only a nested transaction that throws", async () => {
      const tenantId = unique("ten");
      await store.transaction(async (tx) => {
        await tx.createObject(newObject(tenantId, "outer"));
        const inner = store.transaction(async (nested) => {
          await nested.createObject(newObject(tenantId, "inner"));
          throw new Error("inner failed");
        });
        expect(((await rejectionOf(inner)) as Error).message).toBe("inner failed");
        // Calls on the store itself inside the callback join the transaction.
        await store.createObject(newObject(tenantId, "joined"));
      });
      const names = (await store.listObjects({ kind: "Deployment", tenantId })).map((o) => o.name);
      expect(names).toEqual(["joined", "outer"]);
    });

    it("never lets a read outside a transaction see its uncommitted writes", async () => {
      const tenantId = unique("ten");
      const ref = { tenantId, kind: "Deployment", namespace: "default", name: "web" };
      let wrote!: () => void;
      const written = new Promise<void>((resolve) => {
        wrote = resolve;
      });
      let release!: () => void;
      const gate = new Promise<void>((resolve) => {
        release = resolve;
      });
      const running = store.transaction(async (tx) => {
        await tx.createObject(newObject(tenantId, "web"));
        wrote();
        await gate;
        throw new Error("abandoned");
      });
      await written;
      const outside = store.getObject(ref);
      release();
      expect(((await rejectionOf(running)) as Error).message).toBe("abandoned");
      expect(await outside).toBeUndefined();
    });
  });
});

function eventOf(tenantId: string) {
  return {
    id: unique("ev"),
    tenantId,
    namespace: "default",
    involvedKind: "Pod",
    involvedName: "web-1",
    involvedUid: unique("uid"),
    type: "Normal" as const,
    reason: "Scheduled",
    message: "assigned",
  };
}
