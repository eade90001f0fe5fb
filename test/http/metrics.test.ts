import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ADMIN_KEY, createTestApi, type TestApi } from "../helpers/api.js";

const HEADER = "# pxname,svname,scur,stot,status,weight,hrsp_2xx,hrsp_5xx,addr";
const STAT = [
  HEADER,
  "acme.default.web.80,s1,0,0,no check,1,0,0,10.1.0.5:8080",
  "acme.default.web.80,BACKEND,1,40,UP,1,38,2,",
  "globex.default.web.80,s1,0,0,no check,1,0,0,10.1.0.9:8080",
  "globex.default.web.80,BACKEND,0,7,UP,1,7,0,",
].join("\n");

let api: TestApi;
let withoutProxy: TestApi;
let failing = false;
beforeAll(async () => {
  api = await createTestApi({
    routeStats: async () => {
      if (failing) throw new Error("connect ENOENT admin.sock");
      return STAT;
    },
  });
  withoutProxy = await createTestApi();
});
afterAll(async () => {
  await api.close();
  await withoutProxy.close();
});

describe("route metrics", () => {
  it("give a tenant its own routes in Prometheus' text format, and never another tenant's", async () => {
    const acme = await api.call("GET", "/v1/metrics");
    expect(acme.status).toBe(200);
    expect(acme.text).toContain(
      'kubernease_route_responses_total{namespace="default",service="web",port="80",code="2xx"} 38',
    );
    expect(acme.text).toContain(
      'kubernease_route_endpoints_in_rotation{namespace="default",service="web",port="80"} 1',
    );
    expect(acme.text).not.toContain("} 7\n");
    const globex = await api.call("GET", "/v1/metrics", { key: api.other.key });
    expect(globex.text).toContain(
      'kubernease_route_responses_total{namespace="default",service="web",port="80",code="2xx"} 7',
    );
    expect(globex.text).not.toContain("} 38\n");
  });

  it("give the operator every route, by tenant; tenants and strangers are refused", async () => {
    const all = await api.call("GET", "/v1/admin/metrics", { key: ADMIN_KEY });
    expect(all.status).toBe(200);
    expect(all.text).toContain('tenant="acme"');
    expect(all.text).toContain('tenant="globex"');
    expect((await api.call("GET", "/v1/admin/metrics")).status).toBe(403);
    expect((await api.call("GET", "/v1/admin/metrics", { key: null })).status).toBe(401);
    expect((await api.call("GET", "/v1/metrics", { key: null })).status).toBe(401);
    expect((await api.call("GET", "/v1/metrics", { key: "kn_not_a_key" })).status).toBe(401);
  });

  it("answer 503 when there is no proxy, or its statistics cannot be read", async () => {
    const none = await withoutProxy.call("GET", "/v1/metrics");
    expect(none.status).toBe(503);
    expect(none.body.error.message).toMatch(/no managed proxy/);
    failing = true;
    try {
      const down = await api.call("GET", "/v1/admin/metrics", { key: ADMIN_KEY });
      expect(down.status).toBe(503);
      expect(down.text).not.toContain("ENOENT");
    } finally {
      failing = false;
    }
  });
});
