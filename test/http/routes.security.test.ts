import { readFileSync } from "node:fs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { RESOURCES } from "../../src/http/resources.js";
import { ADMIN_KEY, createTestApi, type TestApi } from "../helpers/api.js";
import { findLeaks, recorder } from "../helpers/leaks.js";

const WEB = readFileSync(new URL("../fixtures/web.yaml", import.meta.url), "utf8");
const [DEPLOYMENT, SERVICE] = WEB.split(/^---$/m) as [string, string];
const DEP = "/apis/apps/v1/namespaces/default/deployments";
const SVC = "/api/v1/namespaces/default/services";

let api: TestApi;
let podName: string;
beforeAll(async () => {
  api = await createTestApi();
  await api.call("POST", "/v1/apply", { body: WEB });
  podName = await api.until(async () => (await api.store.listPods({ tenantId: api.tenant.id }))[0]?.name);
});
afterAll(() => api.close());

interface Route {
  method: string;
  path: string;
  body?: string | object;
  contentType?: string;
  /** Names one of the tenant's objects: another tenant must get 404. */
  owned?: boolean;
  admin?: boolean;
}

const routes = (): Route[] => [
  { method: "GET", path: DEP },
  { method: "GET", path: "/apis/apps/v1/deployments" },
  { method: "POST", path: DEP, body: DEPLOYMENT },
  { method: "GET", path: `${DEP}/web`, owned: true },
  { method: "PUT", path: `${DEP}/web`, body: DEPLOYMENT, owned: true },
  {
    method: "PATCH",
    path: `${DEP}/web`,
    body: { spec: { replicas: 1 } },
    contentType: "application/merge-patch+json",
    owned: true,
  },
  { method: "DELETE", path: `${DEP}/web`, owned: true },
  { method: "GET", path: `${DEP}/web/scale`, owned: true },
  { method: "PUT", path: `${DEP}/web/scale`, body: { spec: { replicas: 1 } }, owned: true },
  {
    method: "PATCH",
    path: `${DEP}/web/scale`,
    body: { spec: { replicas: 1 } },
    contentType: "application/merge-patch+json",
    owned: true,
  },
  { method: "GET", path: SVC },
  { method: "GET", path: "/api/v1/services" },
  { method: "POST", path: SVC, body: SERVICE },
  { method: "GET", path: `${SVC}/web`, owned: true },
  { method: "PUT", path: `${SVC}/web`, body: SERVICE, owned: true },
  {
    method: "PATCH",
    path: `${SVC}/web`,
    body: { metadata: { labels: { a: "b" } } },
    contentType: "application/merge-patch+json",
    owned: true,
  },
  { method: "DELETE", path: `${SVC}/web`, owned: true },
  { method: "GET", path: "/api/v1/namespaces/default/pods" },
  { method: "GET", path: "/api/v1/pods" },
  { method: "GET", path: `/api/v1/namespaces/default/pods/${podName}`, owned: true },
  { method: "GET", path: `/api/v1/namespaces/default/pods/${podName}/log`, owned: true },
  { method: "GET", path: `/api/v1/namespaces/default/pods/${podName}/log?follow=true`, owned: true },
  { method: "GET", path: "/api/v1/namespaces/default/endpoints" },
  { method: "GET", path: "/api/v1/namespaces/default/endpoints/web", owned: true },
  { method: "GET", path: "/api/v1/namespaces/default/events" },
  { method: "POST", path: "/v1/apply", body: WEB },
  { method: "POST", path: `/api/v1/namespaces/default/pods/${podName}/eviction`, body: {}, owned: true },
  { method: "GET", path: "/api/v1/namespaces" },
  ...RESOURCES.map((r) => ({ method: "GET", path: `${r.prefix}/namespaces/default/${r.plural}` })),
  { method: "GET", path: "/api/v1/nodes", admin: true },
  { method: "GET", path: "/api/v1/nodes/sim-default-1", admin: true },
  { method: "GET", path: "/v1/admin/tenants", admin: true },
  { method: "POST", path: "/v1/admin/tenants", body: { name: "initech" }, admin: true },
  { method: "GET", path: "/v1/quota" },
  { method: "POST", path: "/v1/simulations", body: "duration: 1m\n" },
  { method: "GET", path: "/v1/admin/tenants/acme/quota", admin: true },
  { method: "PUT", path: "/v1/admin/tenants/acme/quota", body: { pods: 50 }, admin: true },
  { method: "GET", path: "/v1/routing" },
  { method: "GET", path: "/v1/admin/routing", admin: true },
  { method: "GET", path: "/v1/admin/snapshot", admin: true },
  { method: "GET", path: "/v1/metrics" },
  { method: "GET", path: "/v1/admin/metrics", admin: true },
  { method: "GET", path: "/v1/admin/tenants/acme/domains", admin: true },
  { method: "PUT", path: "/v1/admin/tenants/acme/domains", body: { domains: ["shop.example.com"] }, admin: true },
  {
    method: "POST",
    path: "/v1/admin/nodes",
    body: { name: "edge-1", socketPath: "/var/run/docker.sock" },
    admin: true,
  },
  { method: "DELETE", path: "/v1/admin/nodes/sim-default-1", admin: true },
];

const label = (r: Route) => `${r.method} ${r.path.replace(/pods\/[^/]+/, "pods/{name}")}`;

describe("every route refuses a missing or bad key", () => {
  it.each(routes().map((r) => [label(r), r] as const))("%s: no key → 401, bad key → 401", async (_name, route) => {
    const opts = { body: route.body, contentType: route.contentType };
    const none = await api.call(route.method, route.path, { ...opts, key: null });
    expect(none.status).toBe(401);
    expect(none.body.error.code).toBe("UNAUTHORIZED");
    const bad = await api.call(route.method, route.path, { ...opts, key: "kn_not_a_real_key" });
    expect(bad.status).toBe(401);
    const malformed = await api.call(route.method, route.path, {
      ...opts,
      key: null,
      headers: { authorization: "Basic abc" },
    });
    expect(malformed.status).toBe(401);
  });
});

describe("tenants see only their own", () => {
  it.each(
    routes()
      .filter((r) => r.owned)
      .map((r) => [label(r), r] as const),
  )("%s as another tenant → 404, and the object is untouched", async (_name, route) => {
    const before = await api.store.listObjects({ kind: "Deployment", tenantId: api.tenant.id });
    const res = await api.call(route.method, route.path.replace(/pods\/[^/]+/, `pods/${podName}`), {
      body: route.body,
      contentType: route.contentType,
      key: api.other.key,
    });
    expect(res.status).toBe(404);
    expect(await api.store.listObjects({ kind: "Deployment", tenantId: api.tenant.id })).toEqual(before);
  });

  it("lists are scoped: another tenant's lists are empty", async () => {
    for (const path of [
      DEP,
      SVC,
      "/apis/apps/v1/deployments",
      "/api/v1/pods",
      "/api/v1/namespaces/default/endpoints",
    ]) {
      const res = await api.call("GET", path, { key: api.other.key });
      expect(res.status, path).toBe(200);
      expect(res.body.items, path).toEqual([]);
    }
  });

  it("a quota is seen by its own tenant only; another tenant's by name is refused, the operator's answer is the same", async () => {
    const mine = await api.call("GET", "/v1/quota");
    expect(mine.status).toBe(200);
    expect(mine.body.tenant).toBe("acme");
    const theirs = await api.call("GET", "/v1/quota", { key: api.other.key });
    expect(theirs.body.tenant).toBe("globex");
    const peek = await api.call("GET", "/v1/quota?tenant=acme", { key: api.other.key });
    expect(peek.status).toBe(403);
    expect(peek.text).not.toContain('"used"');
    expect((await api.call("GET", "/v1/quota?tenant=acme", { key: ADMIN_KEY })).body).toEqual(mine.body);
    expect((await api.call("GET", "/v1/quota?tenant=nobody", { key: ADMIN_KEY })).status).toBe(404);
  });

  it("an apply by another tenant of the same names creates its own objects, leaving the first tenant's alone", async () => {
    const mine = await api.store.getObject({
      tenantId: api.tenant.id,
      kind: "Deployment",
      namespace: "default",
      name: "web",
    });
    const res = await api.call("POST", "/v1/apply", {
      body: WEB.replace("replicas: 2", "replicas: 1"),
      key: api.other.key,
    });
    expect(res.body.results.map((r: { action: string }) => r.action)).toEqual(["created", "created"]);
    expect(
      await api.store.getObject({ tenantId: api.tenant.id, kind: "Deployment", namespace: "default", name: "web" }),
    ).toEqual(mine);
  });
});

describe("operator routes", () => {
  it.each(
    routes()
      .filter((r) => r.admin)
      .map((r) => [label(r), r] as const),
  )("%s: tenant → 403", async (_name, route) => {
    const res = await api.call(route.method, route.path, { body: route.body, key: api.tenant.key });
    expect(res.status).toBe(403);
    expect(res.body.error.code).toBe("FORBIDDEN");
  });

  it("the admin creates a tenant with a working key, sees nodes, and a duplicate is 409", async () => {
    const created = await api.call("POST", "/v1/admin/tenants", { body: { name: "initech" }, key: ADMIN_KEY });
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({
      tenant: { name: "initech", id: expect.stringMatching(/^ten_/) },
      key: expect.stringMatching(/^kn_/),
    });
    const mine = await api.call("GET", "/api/v1/pods", { key: created.body.key });
    expect(mine.status).toBe(200);
    expect(mine.body.items).toEqual([]);
    expect((await api.call("POST", "/v1/admin/tenants", { body: { name: "initech" }, key: ADMIN_KEY })).status).toBe(
      409,
    );
    expect((await api.call("POST", "/v1/admin/tenants", { body: { name: "Not Valid" }, key: ADMIN_KEY })).status).toBe(
      422,
    );
    const nodes = await api.call("GET", "/api/v1/nodes", { key: ADMIN_KEY });
    expect(nodes.body.items.map((n: { metadata: { name: string } }) => n.metadata.name)).toEqual([
      "sim-default-1",
      "sim-default-2",
      "sim-default-3",
    ]);
  });

  it("keys are stored only as hashes", async () => {
    const keys = await api.store.listApiKeys(api.tenant.id);
    expect(keys).toHaveLength(1);
    expect(JSON.stringify(keys)).not.toContain(api.tenant.key);
    expect(keys[0]?.keyHash).toMatch(/^[0-9a-f]{64}$/);
  });
});

describe("oversized bodies", () => {
  it.each(
    routes()
      .filter((r) => r.body !== undefined && !r.admin)
      .map((r) => [label(r), r] as const),
  )("%s with more than 1 MiB → 413", async (_name, route) => {
    const res = await api.call(route.method, route.path, {
      body: `# ${"x".repeat(1024 * 1024 + 10)}`,
      contentType: route.contentType ?? "application/yaml",
    });
    expect(res.status).toBe(413);
  });
});

describe("the node-leak recorder", () => {
  it("catches node names, addresses and counts, and has scanned this suite's tenant responses", () => {
    const nodes = [{ name: "sim-default-1", address: "192.0.2.1" }];
    expect(findLeaks('{"message":"placed on sim-default-1"}', nodes)).not.toEqual([]);
    expect(findLeaks('{"hostIP":"192.0.2.1"}', nodes)).not.toEqual([]);
    expect(findLeaks("0/3 nodes are available", nodes)).not.toEqual([]);
    expect(findLeaks("3 ready nodes", nodes)).not.toEqual([]);
    expect(findLeaks('{"podIP":"10.244.0.12"}', nodes)).toEqual([]);
    expect(findLeaks('{"ip":"192.0.2.10"}', nodes)).toEqual([]);
    expect(recorder.scanned).toBeGreaterThan(20);
  });
});
