import { readFileSync } from "node:fs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTestApi, type TestApi } from "../helpers/api.js";

const WEB = readFileSync(new URL("../fixtures/web.yaml", import.meta.url), "utf8");

let api: TestApi;
beforeAll(async () => {
  api = await createTestApi();
});
afterAll(() => api.close());

describe("POST /v1/apply", () => {
  it("a dry run answers the plan and writes nothing", async () => {
    const res = await api.call("POST", "/v1/apply?dryRun=true", { body: WEB });
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({
      dryRun: true,
      results: [
        { kind: "Deployment", name: "web", namespace: "default", action: "created" },
        { kind: "Service", name: "web", namespace: "default", action: "created" },
      ],
    });
    expect(await api.store.listObjects({ kind: "Deployment" })).toHaveLength(0);
    expect(await api.store.listNamespaces(api.tenant.id)).toHaveLength(0);
    expect(await api.store.peekOutbox(10)).toHaveLength(0);
  });

  it("creates every object of a multi-document file, then says unchanged, then configured", async () => {
    const first = await api.call("POST", "/v1/apply", { body: WEB });
    expect(first.body.results.map((r: any) => r.action)).toEqual(["created", "created"]);
    const second = await api.call("POST", "/v1/apply", { body: WEB });
    expect(second.body.results.map((r: any) => r.action)).toEqual(["unchanged", "unchanged"]);
    const third = await api.call("POST", "/v1/apply", { body: WEB.replace("replicas: 2", "replicas: 3") });
    expect(third.body.results.map((r: any) => r.action)).toEqual(["configured", "unchanged"]);
    const dry = await api.call("POST", "/v1/apply?dryRun=true", { body: WEB });
    expect(dry.body.results.map((r: any) => r.action)).toEqual(["configured", "unchanged"]);
    await api.until(
      async () => (await api.store.listPods({ tenantId: api.tenant.id })).filter((p) => p.ready).length === 3,
    );
  });

  it("takes JSON too, and a namespace from the query", async () => {
    const doc = {
      apiVersion: "v1",
      kind: "Service",
      metadata: { name: "api" },
      spec: { selector: { app: "api" }, ports: [{ port: 8080 }] },
    };
    const res = await api.call("POST", "/v1/apply?namespace=staging", { body: [doc] });
    expect(res.body.results).toEqual([
      { apiVersion: "v1", kind: "Service", namespace: "staging", name: "api", action: "created" },
    ]);
    const svc = await api.call("GET", "/api/v1/namespaces/staging/services/api");
    expect(svc.body.spec.ports).toEqual([{ port: 8080, protocol: "TCP", targetPort: 8080 }]);
  });
});
