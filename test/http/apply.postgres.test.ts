import { readFileSync } from "node:fs";
import { afterAll, beforeAll, expect, it } from "vitest";
import { openStore } from "../../src/db/index.js";
import { createTestApi, type TestApi } from "../helpers/api.js";
import { createTestDatabase, describePostgres, isPostgresReachable } from "../helpers/db.js";

const WEB = readFileSync(new URL("../fixtures/web.yaml", import.meta.url), "utf8");
const reachable = await isPostgresReachable();

describePostgres("apply against a real Postgres", reachable, () => {
  let api: TestApi;
  let database: Awaited<ReturnType<typeof createTestDatabase>>;
  beforeAll(async () => {
    database = await createTestDatabase();
    api = await createTestApi({ store: await openStore({ databaseUrl: database.url }) });
  });
  afterAll(async () => {
    await api?.close();
    await database?.drop();
  });

  const objects = async () =>
    (await api.store.listObjects({ kind: "Deployment" })).length +
    (await api.store.listObjects({ kind: "Service" })).length;

  it("a dry run writes nothing", async () => {
    const res = await api.call("POST", "/v1/apply?dryRun=true", { body: WEB });
    expect(res.body.results.map((r: any) => r.action)).toEqual(["created", "created"]);
    expect(await objects()).toBe(0);
    expect(await api.store.listNamespaces(api.tenant.id)).toEqual([]);
  });

  it("applies, converges, and reads status back", async () => {
    expect((await api.call("POST", "/v1/apply", { body: WEB })).status).toBe(200);
    const status = await api.until(async () => {
      const d = await api.call("GET", "/apis/apps/v1/namespaces/default/deployments/web");
      return d.body.status?.readyReplicas === 2 && d.body.status;
    });
    expect(status).toMatchObject({ replicas: 2, updatedReplicas: 2, availableReplicas: 2 });
  });

  it("a failing apply rolls back what it wrote before the failure", async () => {
    const before = await objects();
    const file = [
      WEB.split(/^---$/m)[0]?.replace("name: web\n  labels", "name: fresh\n  labels"),
      WEB.split(/^---$/m)[1]?.replace("spec:\n", "spec:\n  clusterIP: 10.96.0.77\n"),
    ].join("\n---\n");
    const res = await api.call("POST", "/v1/apply", { body: file });
    expect(res.status).toBe(422);
    expect(res.body.error.message).toContain("spec.clusterIP");
    expect(await objects()).toBe(before);
    expect(
      await api.store.getObject({ tenantId: api.tenant.id, kind: "Deployment", namespace: "default", name: "fresh" }),
    ).toBeUndefined();
  });

  it("ten concurrent applies of one file leave one object each, every answer 2xx", async () => {
    const file = WEB.replace(/name: web/g, "name: racer").replace(/app: web/g, "app: racer");
    const answers = await Promise.all(
      Array.from({ length: 10 }, () => api.call("POST", "/v1/apply?namespace=race", { body: file })),
    );
    expect(answers.map((a) => a.status)).toEqual(Array(10).fill(200));
    const created = answers.flatMap((a) => a.body.results.filter((r: any) => r.action === "created"));
    expect(created).toHaveLength(2);
    expect(await api.store.listObjects({ kind: "Deployment", namespace: "race" })).toHaveLength(1);
  });
});
