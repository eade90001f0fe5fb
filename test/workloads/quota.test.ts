import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { openStore } from "../../src/db/index.js";
import type { Store } from "../../src/db/types.js";
import { ADMIN_KEY, createTestApi, type TestApi } from "../helpers/api.js";
import { createTestDatabase, describePostgres, isPostgresReachable } from "../helpers/db.js";

const DEP = "/apis/apps/v1/namespaces/default/deployments";

function deployment(name: string, replicas: number, cpu: string, image = "app:1", extra = ""): string {
  return `apiVersion: apps/v1
kind: Deployment
metadata: { name: ${name} }
spec:
  replicas: ${replicas}
${extra}  selector: { matchLabels: { app: ${name} } }
  template:
    metadata: { labels: { app: ${name} } }
    spec:
      containers:
        - name: app
          image: ${image}
          resources: { requests: { cpu: ${cpu}, memory: 64Mi } }
`;
}

const ROLLING = "  strategy: { type: RollingUpdate, rollingUpdate: { maxSurge: 1, maxUnavailable: 0 } }\n";

let api: TestApi;
beforeAll(async () => {
  api = await createTestApi({ nodes: 3 });
});
afterAll(() => api.close());

/** A tenant of its own per test, so that one test's usage never shows in another's numbers. */
async function tenant(name: string, quota: Record<string, unknown>): Promise<{ id: string; key: string }> {
  const made = await api.call("POST", "/v1/admin/tenants", { body: { name }, key: ADMIN_KEY });
  expect(made.status).toBe(201);
  const set = await api.call("PUT", `/v1/admin/tenants/${name}/quota`, { body: quota, key: ADMIN_KEY });
  expect(set.status).toBe(200);
  return { id: made.body.tenant.id, key: made.body.key };
}

const podsOf = async (store: Store, tenantId: string) =>
  (await store.listPods({ tenantId })).filter((p) => p.deletionRequestedAt === null);

describe("quotas through the API on simulated nodes", () => {
  it("refuses a whole file whose steady state exceeds the quota, with the numbers, writing nothing of it", async () => {
    const t = await tenant("atomic", { cpu: "2", pods: 10 });
    const file = [
      "apiVersion: v1\nkind: ConfigMap\nmetadata: { name: settings }\ndata: { mode: fast }",
      "apiVersion: v1\nkind: PersistentVolumeClaim\nmetadata: { name: data }\nspec:\n  accessModes: [ReadWriteOnce]\n  resources: { requests: { storage: 1Gi } }",
      "apiVersion: v1\nkind: Pod\nmetadata: { name: solo }\nspec:\n  containers: [{ name: app, image: app:1 }]",
      deployment("web", 2, "500m"),
      "apiVersion: v1\nkind: Service\nmetadata: { name: web }\nspec:\n  selector: { app: web }\n  ports: [{ port: 80 }]",
      deployment("api", 3, "500m"),
    ].join("\n---\n");

    for (const path of ["/v1/apply?namespace=shop", "/v1/apply?namespace=shop&dryRun=true"]) {
      const res = await api.call("POST", path, { body: file, key: t.key });
      expect(res.status, path).toBe(403);
      expect(res.body.error.code).toBe("FORBIDDEN");
      expect(res.body.error.message).toBe(
        "exceeded quota: cpu: the steady state after this change needs 2500m (now 0), the tenant's quota is 2",
      );
      expect(res.body.error.causes).toEqual([
        { reason: "ExceededQuota", field: "cpu", message: expect.stringContaining("needs 2500m") },
      ]);
    }

    for (const kind of ["ConfigMap", "PersistentVolumeClaim", "Deployment", "Service"]) {
      expect(await api.store.listObjects({ kind, tenantId: t.id }), kind).toEqual([]);
    }
    expect(await api.store.listPods({ tenantId: t.id })).toEqual([]);
    expect(await api.store.listNamespaces(t.id)).toEqual([]);
    expect((await api.call("GET", "/v1/quota", { key: t.key })).body.steadyState).toEqual({
      cpu: "0",
      memory: "0",
      pods: "0",
      storage: "0",
    });
  });

  it("applies what fits, and GET /v1/quota shows the limits, the usage and the steady state", async () => {
    const t = await tenant("fits", { cpu: "2", memory: "2Gi", pods: 5, storage: "5Gi" });
    const claim =
      "apiVersion: v1\nkind: PersistentVolumeClaim\nmetadata: { name: data }\nspec:\n  accessModes: [ReadWriteOnce]\n  resources: { requests: { storage: 1Gi } }";
    const res = await api.call("POST", "/v1/apply", {
      body: `${deployment("web", 2, "500m")}---\n${claim}`,
      key: t.key,
    });
    expect(res.status).toBe(200);
    await api.until(async () => (await podsOf(api.store, t.id)).filter((p) => p.ready).length === 2);

    const quota = await api.call("GET", "/v1/quota", { key: t.key });
    expect(quota.status).toBe(200);
    expect(quota.body).toEqual({
      kind: "TenantQuota",
      tenant: "fits",
      hard: { cpu: "2", memory: "2Gi", pods: "5", storage: "5Gi" },
      used: { cpu: "1", memory: "128Mi", pods: "2", storage: "1Gi" },
      steadyState: { cpu: "1", memory: "128Mi", pods: "2", storage: "1Gi" },
    });
    const asOperator = await api.call("GET", "/v1/quota?tenant=fits", { key: ADMIN_KEY });
    expect(asOperator.body).toEqual(quota.body);
    expect((await api.call("GET", "/v1/admin/tenants/fits/quota", { key: ADMIN_KEY })).body).toEqual(quota.body);
  });

  it("refuses a scale, a replace or a patch beyond the quota, and allows any change that does not grow usage", async () => {
    const t = await tenant("scaler", { pods: 3 });
    expect((await api.call("POST", "/v1/apply", { body: deployment("web", 2, "100m"), key: t.key })).status).toBe(200);

    const scale = await api.call("PUT", `${DEP}/web/scale`, { body: { spec: { replicas: 5 } }, key: t.key });
    expect(scale.status).toBe(403);
    expect(scale.body).toMatchObject({
      kind: "Status",
      reason: "Forbidden",
      code: 403,
      message:
        'Deployment "web" is forbidden: exceeded quota: pods: the steady state after this change needs 5 (now 2), the tenant\'s quota is 3',
      details: { causes: [{ reason: "ExceededQuota", field: "pods" }] },
    });
    const patchScale = await api.call("PATCH", `${DEP}/web/scale`, {
      body: { spec: { replicas: 4 } },
      contentType: "application/merge-patch+json",
      key: t.key,
    });
    expect(patchScale.status).toBe(403);
    const patch = await api.call("PATCH", `${DEP}/web`, {
      body: { spec: { replicas: 4 } },
      contentType: "application/merge-patch+json",
      key: t.key,
    });
    expect(patch.status).toBe(403);
    const created = await api.call("POST", DEP, { body: deployment("more", 2, "100m"), key: t.key });
    expect(created.status).toBe(403);
    const pod = await api.call("POST", "/api/v1/namespaces/default/pods", {
      body: {
        apiVersion: "v1",
        kind: "Pod",
        metadata: { name: "solo" },
        spec: { containers: [{ name: "a", image: "a" }] },
      },
      key: t.key,
    });
    expect(pod.status).toBe(201);
    const second = await api.call("POST", "/api/v1/namespaces/default/pods", {
      body: {
        apiVersion: "v1",
        kind: "Pod",
        metadata: { name: "duo" },
        spec: { containers: [{ name: "a", image: "a" }] },
      },
      key: t.key,
    });
    expect(second.status).toBe(403);
    const web = await api.call("GET", `${DEP}/web`, { key: t.key });
    expect(web.body.spec.replicas).toBe(2);
    expect(await api.store.getObject({ tenantId: t.id, kind: "Deployment", namespace: "default", name: "more" })).toBe(
      undefined,
    );

    // Lowered below what runs: nothing stops, a change that keeps usage passes, growth does not.
    await api.call("PUT", "/v1/admin/tenants/scaler/quota", { body: { pods: 1 }, key: ADMIN_KEY });
    const sameSize = await api.call("POST", "/v1/apply", { body: deployment("web", 2, "100m", "app:2"), key: t.key });
    expect(sameSize.status).toBe(200);
    expect((await api.call("PUT", `${DEP}/web/scale`, { body: { spec: { replicas: 1 } }, key: t.key })).status).toBe(
      200,
    );
    expect((await api.call("PUT", `${DEP}/web/scale`, { body: { spec: { replicas: 2 } }, key: t.key })).status).toBe(
      403,
    );
  });

  it("a rollout blocked by quota says so in its conditions and events, and completes once the quota is raised", async () => {
    const t = await tenant("roller", { cpu: "1" });
    const apply = (image: string) =>
      api.call("POST", "/v1/apply", { body: deployment("web", 2, "500m", image, ROLLING), key: t.key });
    expect((await apply("app:1")).status).toBe(200);
    await api.until(async () => (await podsOf(api.store, t.id)).filter((p) => p.ready).length === 2);

    // The steady state is unchanged (2 × 500m), so the apply passes; the surge pod has no room.
    expect((await apply("app:2")).status).toBe(200);
    const failure = await api.until(async () => {
      const d = (await api.call("GET", `${DEP}/web`, { key: t.key })).body;
      return d.status?.conditions?.find((c: { type: string }) => c.type === "ReplicaFailure");
    });
    expect(failure).toMatchObject({
      status: "True",
      reason: "FailedCreate",
      message: expect.stringMatching(
        /^pods "web-[a-z0-9]+-" is forbidden: exceeded quota: requested: cpu=500m, used: cpu=1, limited: cpu=1$/,
      ),
    });
    const events = await api.call("GET", "/api/v1/namespaces/default/events", { key: t.key });
    const failed = events.body.items.find((e: { reason: string }) => e.reason === "FailedCreate");
    expect(failed).toMatchObject({
      type: "Warning",
      involvedObject: { kind: "ReplicaSet" },
      message: `Error creating: ${failure.message}`,
    });
    const images = async () => new Set((await podsOf(api.store, t.id)).map((p) => (p.spec.containers as any)[0].image));
    expect(await images()).toEqual(new Set(["app:1"]));

    const raised = await api.call("PUT", "/v1/admin/tenants/roller/quota", { body: { cpu: "1500m" }, key: ADMIN_KEY });
    expect(raised.status).toBe(200);
    const done = await api.until(async () => {
      const d = (await api.call("GET", `${DEP}/web`, { key: t.key })).body;
      const progressing = d.status?.conditions?.find((c: { type: string }) => c.type === "Progressing");
      return progressing?.reason === "NewReplicaSetAvailable" && d.status;
    });
    expect(done).toMatchObject({ replicas: 2, updatedReplicas: 2, availableReplicas: 2 });
    expect(done.conditions.map((c: { type: string }) => c.type)).not.toContain("ReplicaFailure");
    await api.until(async () => {
      const pods = await podsOf(api.store, t.id);
      return pods.length === 2 && (await images()).size === 1 && (await images()).has("app:2");
    });
  }, 30_000);

  it("refuses a bare pod that fits the steady state but not beside the pods that exist now (a surge pod)", async () => {
    const t = await tenant("surger", { pods: 2 });
    const rollTo = (selector: string) =>
      api.call("POST", "/v1/apply", {
        body: deployment("web", 1, "100m", "app:1", ROLLING).replace(
          "    spec:\n      containers:",
          `    spec:\n      nodeSelector: { kubernease.dev/pool: ${selector} }\n      containers:`,
        ),
        key: t.key,
      });
    const nodes = await api.store.listNodes();
    expect((await rollTo(nodes[0]?.labels["kubernease.dev/pool"] ?? "default")).status).toBe(200);
    await api.until(async () => (await podsOf(api.store, t.id)).filter((p) => p.ready).length === 1);
    // The new revision's surge pod can never be placed, so it stays: two pods exist, the steady state is one.
    expect((await rollTo("nowhere")).status).toBe(200);
    await api.until(async () => (await podsOf(api.store, t.id)).length === 2);

    const bare = {
      apiVersion: "v1",
      kind: "Pod",
      metadata: { name: "extra" },
      spec: { containers: [{ name: "a", image: "app:1" }] },
    };
    const refused = await api.call("POST", "/api/v1/namespaces/default/pods", { body: bare, key: t.key });
    expect(refused.status).toBe(403);
    expect(refused.body.message).toBe(
      'Pod "extra" is forbidden: exceeded quota: requested: pods=1, used: pods=2, limited: pods=2',
    );
    const applied = await api.call("POST", "/v1/apply", { body: bare, key: t.key });
    expect(applied.status).toBe(403);
    expect(await api.store.getPodByName(t.id, "default", "extra")).toBeUndefined();
  });
});

describe("the operator's quota", () => {
  it("is validated field by field, never a 500, and cleared by null or {}", async () => {
    await tenant("valid", { cpu: "500m", memory: "1.5Gi", pods: "7", storage: 10_000_000 });
    const path = "/v1/admin/tenants/valid/quota";
    const shown = await api.call("GET", path, { key: ADMIN_KEY });
    expect(shown.body.hard).toEqual({ cpu: "500m", memory: "1536Mi", pods: "7", storage: "10M" });

    const cases: [unknown, number, string][] = [
      [{ cpu: "lots" }, 422, "cpu: must be a quantity"],
      [{ memory: "-1Gi" }, 422, "memory: must be a quantity"],
      [{ pods: 1.5 }, 422, "pods: must be a whole number"],
      [{ pods: -1 }, 422, "pods: must be a whole number"],
      [{ cpu: "1", gpus: 2 }, 422, 'gpus: unknown field "gpus"'],
      [[1, 2], 422, "quota is invalid"],
    ];
    for (const [body, status, message] of cases) {
      const res = await api.call("PUT", path, { body: body as object, key: ADMIN_KEY });
      expect(res.status, JSON.stringify(body)).toBe(status);
      expect(res.body.error.message).toContain(message);
    }
    const notJson = await api.call("PUT", path, { body: "{", contentType: "application/json", key: ADMIN_KEY });
    expect(notJson.status).toBe(400);
    expect((await api.call("PUT", "/v1/admin/tenants/nobody/quota", { body: {}, key: ADMIN_KEY })).status).toBe(404);
    expect((await api.call("GET", path, { key: ADMIN_KEY })).body.hard).toEqual(shown.body.hard);

    for (const cleared of ["null", "{}"]) {
      await api.call("PUT", path, { body: { pods: 1 }, key: ADMIN_KEY });
      const res = await api.call("PUT", path, { body: cleared, contentType: "application/json", key: ADMIN_KEY });
      expect(res.status).toBe(200);
      expect(res.body.hard).toEqual({});
    }
  });
});

describe("pods a StatefulSet makes", () => {
  it("are held to the quota too: a refused ordinal is a FailedCreate on the StatefulSet, created once there is room", async () => {
    const t = await tenant("stateful", { pods: 2, storage: "2Gi" });
    const sts = `apiVersion: apps/v1
kind: StatefulSet
metadata: { name: db }
spec:
  serviceName: db
  replicas: 2
  podManagementPolicy: Parallel
  selector: { matchLabels: { app: db } }
  template:
    metadata: { labels: { app: db } }
    spec:
      containers: [{ name: db, image: db:1 }]
  volumeClaimTemplates:
    - metadata: { name: data }
      spec:
        accessModes: [ReadWriteOnce]
        resources: { requests: { storage: 1Gi } }
`;
    expect((await api.call("POST", "/v1/apply", { body: sts, key: t.key })).status).toBe(200);
    await api.until(async () => (await podsOf(api.store, t.id)).filter((p) => p.ready).length === 2);
    // A third claim would go over the storage quota: the apply says so before anything runs.
    const bigger = await api.call("POST", "/v1/apply", { body: sts.replace("replicas: 2", "replicas: 3"), key: t.key });
    expect(bigger.status).toBe(403);
    expect(bigger.body.error.message).toContain("storage: the steady state after this change needs 3Gi (now 2Gi)");

    // The operator lowers the quota below what runs; a lost ordinal cannot come back.
    await api.call("PUT", "/v1/admin/tenants/stateful/quota", { body: { pods: 1 }, key: ADMIN_KEY });
    expect((await api.call("DELETE", "/api/v1/namespaces/default/pods/db-1", { key: t.key })).status).toBe(200);
    const refused = await api.until(async () => {
      const events = await api.call("GET", "/api/v1/namespaces/default/events?fieldSelector=involvedObject.name=db", {
        key: t.key,
      });
      return events.body.items.find((e: { reason: string }) => e.reason === "FailedCreate");
    });
    expect(refused).toMatchObject({
      type: "Warning",
      involvedObject: { kind: "StatefulSet", name: "db" },
      message:
        'Error creating: pods "db-1" is forbidden: exceeded quota: requested: pods=1, used: pods=1, limited: pods=1',
    });
    expect((await podsOf(api.store, t.id)).map((p) => p.name)).toEqual(["db-0"]);

    await api.call("PUT", "/v1/admin/tenants/stateful/quota", { body: { pods: 2 }, key: ADMIN_KEY });
    await api.until(async () => (await podsOf(api.store, t.id)).filter((p) => p.ready).length === 2);
  }, 30_000);
});

/** Ten applies at once, each fitting alone; the quota has room for three. */
async function race(target: TestApi, name: string): Promise<void> {
  const made = await target.call("POST", "/v1/admin/tenants", { body: { name }, key: ADMIN_KEY });
  await target.call("PUT", `/v1/admin/tenants/${name}/quota`, { body: { cpu: "1500m" }, key: ADMIN_KEY });
  const answers = await Promise.all(
    Array.from({ length: 10 }, (_, i) =>
      target.call("POST", "/v1/apply", { body: deployment(`racer-${i}`, 1, "500m"), key: made.body.key }),
    ),
  );
  expect(answers.map((a) => a.status).sort()).toEqual([200, 200, 200, 403, 403, 403, 403, 403, 403, 403]);
  const deployments = await target.store.listObjects({ kind: "Deployment", tenantId: made.body.tenant.id });
  expect(deployments).toHaveLength(3);
}

describe("concurrent applies", () => {
  it("never both spend the same room: exactly as many pass as fit", async () => {
    await race(api, "racers");
  });
});

const reachable = await isPostgresReachable();

describePostgres("quotas against a real Postgres", reachable, () => {
  let pg: TestApi;
  let database: Awaited<ReturnType<typeof createTestDatabase>>;
  beforeAll(async () => {
    database = await createTestDatabase();
    pg = await createTestApi({ store: await openStore({ databaseUrl: database.url }) });
  });
  afterAll(async () => {
    await pg?.close();
    await database?.drop();
  });

  it("concurrent applies never both spend the same room: exactly as many pass as fit", async () => {
    await race(pg, "racers");
  });
});
