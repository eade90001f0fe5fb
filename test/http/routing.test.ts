import { readFileSync } from "node:fs";
import type { Hono } from "hono";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { serveConfig } from "../../src/cli/config.js";
import { systemClock } from "../../src/core/clock.js";
import { seededRng } from "../../src/core/rng.js";
import { openStore } from "../../src/db/index.js";
import type { ObjectRef, Store, StoreOps } from "../../src/db/types.js";
import { createApp } from "../../src/http/app.js";
import type { ApiDeps, AppEnv } from "../../src/http/context.js";
import { HOST_CLAIM_KIND } from "../../src/routing/hosts.js";
import { ADMIN_KEY, createTestApi, type TestApi } from "../helpers/api.js";
import { createTestDatabase, describePostgres, isPostgresReachable } from "../helpers/db.js";

const WEB = readFileSync(new URL("../fixtures/web.yaml", import.meta.url), "utf8");
const BASE_DOMAIN = "apps.example";
const INGRESSES = "/apis/networking.k8s.io/v1/namespaces/default/ingresses";

function ingress(name: string, hosts: string[], namespace = "default"): string {
  const rules = hosts
    .map(
      (host) => `    - host: ${host}
      http:
        paths:
          - path: /
            pathType: Prefix
            backend:
              service:
                name: web
                port:
                  name: http`,
    )
    .join("\n");
  return `apiVersion: networking.k8s.io/v1
kind: Ingress
metadata:
  name: ${name}
  namespace: ${namespace}
spec:
  rules:
${rules}
`;
}

const SERVICE_ONLY = (name: string) => `apiVersion: v1
kind: Service
metadata:
  name: ${name}
spec:
  selector:
    app: ${name}
  ports:
    - name: http
      port: 80
`;

interface Reply {
  status: number;
  body: any;
}

/**
 * The API of the test harness (workers, simulated nodes, two tenants) served again
 * with the operator's base domain set, as `serve --base-domain apps.example` does.
 */
function routingClient(api: TestApi, store: Store = api.store, deps: Pick<ApiDeps, "routeReach"> = {}) {
  const app: Hono<AppEnv> = createApp({
    store,
    clock: systemClock,
    rng: seededRng("routing-api"),
    baseDomain: BASE_DOMAIN,
    ...deps,
  });
  return async (method: string, path: string, key: string, body?: string | object): Promise<Reply> => {
    const json = typeof body === "object";
    const response = await app.request(path, {
      method,
      headers: {
        authorization: `Bearer ${key}`,
        ...(body !== undefined ? { "content-type": json ? "application/json" : "application/yaml" } : {}),
      },
      body: json ? JSON.stringify(body) : body,
    });
    const text = await response.text();
    return { status: response.status, body: text ? JSON.parse(text) : undefined };
  };
}

/**
 * The store, with the first `parties` transactions that read a host claim held
 * after the read until all of them have read (at most `timeoutMs`): every one of
 * them has seen the host free, so only the unique key of the claims can stop the
 * second from taking it too. Without this the applies of a test rarely overlap.
 */
function withClaimBarrier(store: Store, parties: number, timeoutMs: number): Store {
  let arrived = 0;
  let open = () => {};
  const gate = new Promise<void>((resolve) => {
    open = resolve;
  });
  const wait = async () => {
    arrived += 1;
    if (arrived >= parties) open();
    if (arrived > parties) return;
    let timer: ReturnType<typeof setTimeout> | undefined;
    await Promise.race([gate, new Promise<void>((resolve) => (timer = setTimeout(resolve, timeoutMs)))]);
    clearTimeout(timer);
  };
  const wrapTx = (tx: StoreOps): StoreOps =>
    new Proxy(tx, {
      get(target, property) {
        if (property === "getObject") {
          return async (ref: ObjectRef) => {
            const found = await target.getObject(ref);
            if (ref.kind === HOST_CLAIM_KIND) await wait();
            return found;
          };
        }
        const value = Reflect.get(target, property);
        return typeof value === "function" ? value.bind(target) : value;
      },
    });
  return new Proxy(store, {
    get(target, property) {
      if (property === "transaction") {
        return <T>(fn: (tx: StoreOps) => Promise<T>) => target.transaction((tx) => fn(wrapTx(tx)));
      }
      const value = Reflect.get(target, property);
      return typeof value === "function" ? value.bind(target) : value;
    },
  });
}

function routingSuite(openTestStore: () => Promise<{ store: Store; drop(): Promise<void> }>) {
  let api: TestApi;
  let drop: () => Promise<void>;
  let call: ReturnType<typeof routingClient>;
  let acme: string;
  let globex: string;
  beforeAll(async () => {
    const opened = await openTestStore();
    drop = opened.drop;
    api = await createTestApi({ store: opened.store });
    call = routingClient(api);
    acme = api.tenant.key;
    globex = api.other.key;
  });
  afterAll(async () => {
    await api?.close();
    await drop?.();
  });

  const ingressesOf = async (tenantId: string) =>
    (await api.store.listObjects({ kind: "Ingress", tenantId })).map((o) => o.name);
  const claims = async () => {
    const system = await api.store.getTenantByName("system");
    return (await api.store.listObjects({ kind: HOST_CLAIM_KIND, tenantId: system?.id ?? "" })).map((o) => o.name);
  };
  const approve = (tenant: string, domains: string[]) =>
    call("PUT", `/v1/admin/tenants/${tenant}/domains`, ADMIN_KEY, { domains });

  it("a host outside the tenant's suffix is refused with the field path and the allowed suffix; nothing of the file is written", async () => {
    const file = `${SERVICE_ONLY("outside")}---\n${ingress("outside", ["ok.acme.apps.example", "shop.globex.apps.example"])}`;
    const res = await call("POST", "/v1/apply", acme, file);
    expect(res.status).toBe(403);
    expect(res.body.error.message).toContain("spec.rules[1].host");
    expect(res.body.error.message).toContain("shop.globex.apps.example");
    expect(res.body.error.message).toContain("*.acme.apps.example");
    expect(res.body.error.causes).toEqual([expect.objectContaining({ field: "spec.rules[1].host" })]);
    expect(
      await api.store.getObject({ tenantId: api.tenant.id, kind: "Service", namespace: "default", name: "outside" }),
    ).toBeUndefined();
    expect(await claims()).toEqual([]);
  });

  it("the bare base domain, another tenant's suffix and a look-alike are refused; POST names the path too", async () => {
    for (const host of ["apps.example", "x.globex.apps.example", "xacme.apps.example"]) {
      const res = await call("POST", INGRESSES, acme, ingress("lookalike", [host]));
      expect(res.status, host).toBe(403);
      expect(res.body.details?.causes?.[0]?.field ?? res.body.error.causes?.[0]?.field, host).toBe(
        "spec.rules[0].host",
      );
    }
    expect(await ingressesOf(api.tenant.id)).toEqual([]);
  });

  it("an App's domain outside the suffix is refused at spec.domain", async () => {
    const app = `apiVersion: kubernease.dev/v1
kind: App
metadata:
  name: shop
spec:
  image: shop:1
  port: 8080
  domain: shop.globex.apps.example
`;
    const res = await call("POST", "/v1/apply", acme, app);
    expect(res.status).toBe(403);
    expect(res.body.error.message).toContain('App "shop" is forbidden: spec.domain');
    expect(await api.store.listObjects({ kind: "Deployment", tenantId: api.tenant.id })).toEqual([]);
    const ok = await call("POST", "/v1/apply", acme, app.replace("shop.globex", "shop.acme"));
    expect(ok.status).toBe(200);
    expect(await claims()).toEqual(["shop.acme.apps.example"]);
    // Deleting the App's Ingress releases its host.
    expect((await call("DELETE", `${INGRESSES}/shop`, acme)).status).toBe(200);
    expect(await claims()).toEqual([]);
  });

  it("the operator approves custom domains; bad ones are refused with their path", async () => {
    const bad = await approve("acme", ["shop.example.com", "Not A Domain", "x.acme.apps.example"]);
    expect(bad.status).toBe(422);
    expect(bad.body.error.message).toContain("domains[1]");
    expect(bad.body.error.message).toContain("domains[2]");
    expect((await call("PUT", "/v1/admin/tenants/acme/domains", ADMIN_KEY, { domains: "x" })).status).toBe(422);
    expect((await approve("nobody", ["a.example"])).status).toBe(404);
    const before = await call("POST", "/v1/apply", acme, ingress("custom", ["shop.example.com"]));
    expect(before.status).toBe(403);
    const set = await approve("acme", ["shop.example.com", "*.example.org"]);
    expect(set.status).toBe(200);
    expect(set.body).toEqual({
      kind: "TenantDomains",
      tenant: "acme",
      suffix: "*.acme.apps.example",
      domains: ["*.example.org", "shop.example.com"],
    });
    expect((await call("GET", "/v1/admin/tenants/acme/domains", ADMIN_KEY)).body).toEqual(set.body);
    const applied = await call("POST", "/v1/apply", acme, ingress("custom", ["shop.example.com", "eu.example.org"]));
    expect(applied.status).toBe(200);
    expect((await call("POST", "/v1/apply", acme, ingress("apex", ["example.org"]))).status).toBe(403);
    // Another tenant is not approved for it: refused for the domain before the claim is looked at.
    expect((await call("POST", "/v1/apply", globex, ingress("custom", ["shop.example.com"]))).status).toBe(403);
  });

  it("another tenant claiming a held host is refused with 409 naming the host, never the tenant; the whole file is written or nothing", async () => {
    await approve("globex", ["shop.example.com"]);
    const file = `${WEB}---\n${ingress("theirs", ["shop.example.com"])}`;
    const res = await call("POST", "/v1/apply", globex, file);
    expect(res.status).toBe(409);
    expect(res.body.error.message).toContain('host "shop.example.com" is already in use by another tenant');
    expect(JSON.stringify(res.body)).not.toContain("acme");
    expect(await api.store.listObjects({ kind: "Deployment", tenantId: api.other.id })).toEqual([]);
    expect(await api.store.listObjects({ kind: "Service", tenantId: api.other.id })).toEqual([]);
    expect(await api.store.listNamespaces(api.other.id)).toEqual([]);
    // A dry run answers the same and writes nothing either.
    expect((await call("POST", "/v1/apply?dryRun=true", globex, file)).status).toBe(409);
    // Create, replace and patch are held to it as apply is.
    expect((await call("POST", INGRESSES, globex, ingress("theirs", ["shop.example.com"]))).status).toBe(409);
    expect((await call("POST", INGRESSES, globex, ingress("theirs", ["free.globex.apps.example"]))).status).toBe(201);
    const patch = [
      {
        op: "add",
        path: "/spec/rules/-",
        value: {
          host: "shop.example.com",
          http: {
            paths: [{ path: "/", pathType: "Prefix", backend: { service: { name: "web", port: { number: 80 } } } }],
          },
        },
      },
    ];
    const patched = await globexPatch("theirs", patch);
    expect(patched.status).toBe(409);
    const replaced = await call("PUT", `${INGRESSES}/theirs`, globex, ingress("theirs", ["shop.example.com"]));
    expect(replaced.status).toBe(409);
    expect(await claims()).toEqual(["eu.example.org", "free.globex.apps.example", "shop.example.com"]);
  });

  async function globexPatch(name: string, patch: object[]): Promise<Reply> {
    const app = createApp({ store: api.store, clock: systemClock, rng: seededRng("patch"), baseDomain: BASE_DOMAIN });
    const response = await app.request(`${INGRESSES}/${name}`, {
      method: "PATCH",
      headers: { authorization: `Bearer ${globex}`, "content-type": "application/json-patch+json" },
      body: JSON.stringify(patch),
    });
    return { status: response.status, body: await response.json() };
  }

  it("an Ingress that stops naming a host releases it; one still named by another Ingress of the tenant stays held", async () => {
    expect((await call("POST", "/v1/apply", acme, ingress("second", ["shop.example.com"]))).status).toBe(200);
    // "custom" stops naming shop.example.com: "second" still names it, so it stays acme's.
    expect((await call("POST", "/v1/apply", acme, ingress("custom", ["eu.example.org"]))).status).toBe(200);
    expect(await claims()).toContain("shop.example.com");
    expect((await call("POST", "/v1/apply", globex, ingress("theirs", ["shop.example.com"]))).status).toBe(409);
    // Deleting the last Ingress naming it releases it, and the other tenant may have it.
    expect((await call("DELETE", `${INGRESSES}/second`, acme)).status).toBe(200);
    expect(await claims()).not.toContain("shop.example.com");
    expect((await call("POST", "/v1/apply", globex, ingress("theirs", ["shop.example.com"]))).status).toBe(200);
    expect((await call("POST", "/v1/apply", acme, ingress("custom", ["shop.example.com"]))).status).toBe(409);
  });

  it("two tenants race to claim one host with concurrent applies: exactly one tenant wins, the other writes nothing", async () => {
    await approve("acme", ["race.example.net"]);
    await approve("globex", ["race.example.net"]);
    const perTenant = 4;
    // One apply of each tenant holds its tenant's lock at a time, so two reach the claim together.
    const racing = api.store.backend === "memory" ? call : routingClient(api, withClaimBarrier(api.store, 2, 5_000));
    const attempts = [acme, globex].flatMap((key, t) =>
      Array.from({ length: perTenant }, (_, i) =>
        racing(
          "POST",
          "/v1/apply?namespace=race",
          key,
          `${SERVICE_ONLY(`race-${t}-${i}`)}---\n${ingress(`race-${t}-${i}`, ["race.example.net"], "race")}`,
        ),
      ),
    );
    const results = await Promise.all(attempts);
    expect(results.map((r) => r.status).filter((s) => s !== 200 && s !== 409)).toEqual([]);
    const wins = results.map((r, i) => ({ tenant: i < perTenant ? "acme" : "globex", ok: r.status === 200 }));
    const winners = new Set(wins.filter((w) => w.ok).map((w) => w.tenant));
    expect(winners.size).toBe(1);
    // The winner's applies all succeed (a tenant may name its host in many Ingresses); the loser's all fail.
    expect(wins.filter((w) => w.ok)).toHaveLength(perTenant);
    const loser = winners.has("acme") ? api.other.id : api.tenant.id;
    const loserObjects = await api.store.listObjects({ kind: "Service", tenantId: loser, namespace: "race" });
    expect(loserObjects).toEqual([]);
    expect((await api.store.listObjects({ kind: "Ingress", tenantId: loser, namespace: "race" })).length).toBe(0);
    const table = (await call("GET", "/v1/admin/routing", ADMIN_KEY)).body;
    const frontend = table.frontends.find((f: { host: string }) => f.host === "race.example.net");
    expect(frontend.tenant).toBe([...winners][0]);
  });

  it("two tenants naming the same two hosts in opposite orders at once: one wins both, the other gets 409, never a deadlock", async () => {
    const hosts = ["one.example.net", "two.example.net"];
    await approve("acme", hosts);
    await approve("globex", hosts);
    const racing = api.store.backend === "memory" ? call : routingClient(api, withClaimBarrier(api.store, 2, 5_000));
    const [first, second] = await Promise.all([
      racing("POST", "/v1/apply?namespace=pair", acme, ingress("pair", hosts, "pair")),
      racing("POST", "/v1/apply?namespace=pair", globex, ingress("pair", [...hosts].reverse(), "pair")),
    ]);
    expect([first?.status, second?.status].sort()).toEqual([200, 409]);
    const winner = first?.status === 200 ? api.tenant.id : api.other.id;
    const system = await api.store.getTenantByName("system");
    for (const host of hosts) {
      const claim = await api.store.getObject({
        tenantId: system?.id ?? "",
        kind: HOST_CLAIM_KIND,
        namespace: "",
        name: host,
      });
      expect(claim?.spec.tenantId, host).toBe(winner);
    }
  });

  it("GET /v1/admin/routing shows the table and its version; a tenant's /v1/routing shows its own part", async () => {
    expect(
      (await call("POST", "/v1/apply", acme, `${WEB}---\n${ingress("web", ["web.acme.apps.example"])}`)).status,
    ).toBe(200);
    const table = await api.until(async () => {
      const res = await call("GET", "/v1/admin/routing", ADMIN_KEY);
      const backend = res.body.backends.find((b: { name: string }) => b.name === "acme.default.web.80");
      return backend?.servers.filter((s: { state: string }) => s.state === "ready").length === 2 && res.body;
    });
    expect(table.kind).toBe("RouteTable");
    expect(table.version).toMatch(/^[a-z0-9]+$/);
    const frontend = table.frontends.find((f: { host: string }) => f.host === "web.acme.apps.example");
    expect(frontend).toMatchObject({
      tenant: "acme",
      tls: false,
      routes: [{ path: "/", pathType: "Prefix", backend: "acme.default.web.80" }],
    });
    const backend = table.backends.find((b: { name: string }) => b.name === "acme.default.web.80");
    expect(backend.servers.every((s: { port: number }) => s.port === 80)).toBe(true);
    // The same store read twice gives the same version.
    const again = (await call("GET", "/v1/admin/routing", ADMIN_KEY)).body;
    if (JSON.stringify(again.backends) === JSON.stringify(table.backends)) expect(again.version).toBe(table.version);

    const mine = (await call("GET", "/v1/routing", acme)).body;
    expect(mine.frontends.every((f: { tenant: string }) => f.tenant === "acme")).toBe(true);
    expect(mine.frontends.map((f: { host: string }) => f.host)).toContain("web.acme.apps.example");
    const theirs = (await call("GET", "/v1/routing", globex)).body;
    expect(theirs.frontends.map((f: { host: string }) => f.host)).not.toContain("web.acme.apps.example");
    expect(JSON.stringify(theirs)).not.toContain("acme");

    // Pods of a node on another machine are served at the node's address and published port: the
    // operator's table shows them so, a tenant's never (no node address or port reaches a tenant).
    const reached = routingClient(api, api.store, {
      routeReach: async () => (_source, _address, port) => ({ address: "192.0.2.10", port: 31_000 + port }),
    });
    const operator = (await reached("GET", "/v1/admin/routing", ADMIN_KEY)).body;
    const served = operator.backends.find((b: { name: string }) => b.name === "acme.default.web.80").servers;
    expect(served.map((s: { address: string; port: number }) => `${s.address}:${s.port}`)).toContain(
      "192.0.2.10:31080",
    );
    const tenant = JSON.stringify((await reached("GET", "/v1/routing", acme)).body);
    expect(tenant).toContain("web.acme.apps.example");
    expect(tenant).not.toContain("192.0.2.10");
    expect(tenant).not.toContain("31080");
  });
}

describe("the base domain setting", () => {
  it("serve takes it from --base-domain or KUBERNEASE_BASE_DOMAIN, lower case, and refuses what is not a DNS name", () => {
    expect(serveConfig({ "base-domain": "Apps.Example." }, {}).baseDomain).toBe("apps.example");
    expect(serveConfig({}, { KUBERNEASE_BASE_DOMAIN: "apps.example" }).baseDomain).toBe("apps.example");
    expect(serveConfig({}, {}).baseDomain).toBeUndefined();
    for (const bad of ["*.apps.example", "apps..example", "apps_example.com"]) {
      expect(() => serveConfig({ "base-domain": bad }, {}), bad).toThrow(/--base-domain/);
    }
  });
});

describe("the proxy settings", () => {
  it("serve takes --proxy, --proxy-tls, --hsts-max-age, --proxy-cert and --proxy-attach (or their variables), and refuses them half given", () => {
    expect(serveConfig({}, {}).proxy).toBeUndefined();
    expect(serveConfig({ proxy: "127.0.0.1:8080" }, {}).proxy).toEqual({ bind: "127.0.0.1:8080" });
    expect(
      serveConfig({ "proxy-tls": "127.0.0.1:8444", "hsts-max-age": "300" }, { KUBERNEASE_PROXY: "0.0.0.0:80" }).proxy,
    ).toEqual({ bind: "0.0.0.0:80", tlsBind: "127.0.0.1:8444", hstsMaxAgeSeconds: 300 });
    expect(() => serveConfig({ "proxy-tls": "127.0.0.1:8444" }, {})).toThrow(/need --proxy/);
    expect(serveConfig({ proxy: "127.0.0.1:8080", "proxy-attach": "/run/haproxy" }, {}).proxy).toEqual({
      bind: "127.0.0.1:8080",
      attachDir: "/run/haproxy",
    });
    expect(() => serveConfig({}, { KUBERNEASE_PROXY_ATTACH: "/run/haproxy" })).toThrow(/--proxy-attach need --proxy/);
    expect(
      serveConfig({ proxy: "127.0.0.1:80", "proxy-tls": "127.0.0.1:443", "proxy-cert": "/etc/wild.pem" }, {}).proxy
        ?.certFile,
    ).toBe("/etc/wild.pem");
    expect(() => serveConfig({ proxy: "127.0.0.1:80", "proxy-cert": "/etc/wild.pem" }, {})).toThrow(
      /--proxy-cert needs --proxy-tls/,
    );
    expect(() => serveConfig({ proxy: "127.0.0.1:8080", "hsts-max-age": "300" }, {})).toThrow(/needs --proxy-tls/);
    for (const bad of ["8080", "127.0.0.1", "127.0.0.1:0", "127.0.0.1:70000", "a b:80"]) {
      expect(() => serveConfig({ proxy: bad }, {}), bad).toThrow(/--proxy must be ADDRESS:PORT/);
    }
    expect(() => serveConfig({ proxy: "127.0.0.1:80", "proxy-tls": "x:1", "hsts-max-age": "-1" }, {})).toThrow(
      /--hsts-max-age/,
    );
  });
});

describe("routing on the memory store", () => {
  routingSuite(async () => ({ store: await openStore({ memory: true }), drop: async () => {} }));
});

const reachable = await isPostgresReachable();

describePostgres("routing on a real Postgres", reachable, () => {
  routingSuite(async () => {
    const database = await createTestDatabase();
    return { store: await openStore({ databaseUrl: database.url }), drop: () => database.drop() };
  });
});
