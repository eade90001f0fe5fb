import { describe, expect, it } from "vitest";
import { parseRouteStats, renderRouteMetrics } from "./metrics.js";

/** `show stat` of HAProxy 2.6, as it answered for two routes (columns after `addr` trimmed). */
const HEADER =
  "# pxname,svname,qcur,qmax,scur,smax,slim,stot,bin,bout,dreq,dresp,ereq,econ,eresp,wretr,wredis,status,weight,act,bck,chkfail,chkdown,lastchg,downtime,qlimit,pid,iid,sid,throttle,lbtot,tracked,type,rate,rate_lim,rate_max,check_status,check_code,check_duration,hrsp_1xx,hrsp_2xx,hrsp_3xx,hrsp_4xx,hrsp_5xx,hrsp_other,hanafail,req_rate,req_rate_max,req_tot,cli_abrt,srv_abrt,comp_in,comp_out,comp_byp,comp_rsp,lastsess,last_chk,last_agt,qtime,ctime,rtime,ttime,agent_status,agent_code,agent_duration,check_desc,agent_desc,check_rise,check_fall,check_health,agent_rise,agent_fall,agent_health,addr";
const row = (cells: Record<string, string | number>) => {
  const names = HEADER.replace(/^#\s*/, "").split(",");
  return names.map((n) => String(cells[n] ?? "")).join(",");
};
const STAT = [
  HEADER,
  row({ pxname: "http", svname: "FRONTEND", scur: 3, stot: 900, status: "OPEN" }),
  row({ pxname: "acme.default.web.80", svname: "s1", status: "no check", weight: 1, addr: "10.1.0.5:8080" }),
  row({ pxname: "acme.default.web.80", svname: "s2", status: "DRAIN", weight: 0, addr: "10.1.0.6:8080" }),
  row({ pxname: "acme.default.web.80", svname: "s3", status: "MAINT", weight: 1, addr: "0.0.0.0:0" }),
  row({
    ...{ pxname: "acme.default.web.80", svname: "BACKEND", scur: 2, stot: 840, bin: 1000, bout: 52000 },
    ...{ econ: 1, eresp: 2, wretr: 3, wredis: 1, status: "UP", hrsp_2xx: 800, hrsp_4xx: 30, hrsp_5xx: 10, rtime: 12 },
  }),
  row({ pxname: "globex.shop.api.8080", svname: "s1", status: "UP", weight: 1, addr: "10.2.0.7:8080" }),
  row({ pxname: "globex.shop.api.8080", svname: "BACKEND", stot: 5, hrsp_2xx: 5, status: "UP" }),
  row({ pxname: "kn.not-found", svname: "BACKEND", stot: 60, hrsp_4xx: 60, status: "UP" }),
  "",
].join("\n");

describe("route metrics", () => {
  it("reads each route backend's counters and the pods in rotation, not the platform's own backends", () => {
    const routes = parseRouteStats(STAT);
    expect(routes.map((r) => `${r.tenant}/${r.namespace}/${r.service}/${r.port}`)).toEqual([
      "acme/default/web/80",
      "globex/shop/api/8080",
    ]);
    expect(routes[0]).toMatchObject({
      responses: { "2xx": 800, "4xx": 30, "5xx": 10 },
      sessionsCurrent: 2,
      sessionsTotal: 840,
      bytesIn: 1000,
      bytesOut: 52000,
      connectionErrors: 1,
      responseErrors: 2,
      retries: 3,
      redispatches: 1,
      responseTimeMs: 12,
      serversUp: 1,
    });
    expect(routes[1]?.serversUp).toBe(1);
  });

  it("renders Prometheus text: all routes with their tenant for the operator, one tenant's own without", () => {
    const routes = parseRouteStats(STAT);
    const all = renderRouteMetrics(routes);
    expect(all).toContain("# TYPE kubernease_route_responses_total counter");
    expect(all).toContain(
      'kubernease_route_responses_total{tenant="acme",namespace="default",service="web",port="80",code="2xx"} 800',
    );
    expect(all).toContain(
      'kubernease_route_response_time_seconds{tenant="acme",namespace="default",service="web",port="80"} 0.012',
    );
    expect(all).toContain(
      'kubernease_route_endpoints_in_rotation{tenant="globex",namespace="shop",service="api",port="8080"} 1',
    );
    const acme = renderRouteMetrics(routes, "acme");
    expect(acme).toContain('kubernease_route_sessions{namespace="default",service="web",port="80"} 2');
    expect(acme).not.toContain("globex");
    expect(acme).not.toContain("tenant=");
    // Every sample line is `name{labels} number`.
    for (const line of all.split("\n").filter((l) => l && !l.startsWith("#"))) {
      expect(line).toMatch(/^[a-z_]+\{[^}]*\} -?\d+(\.\d+)?$/);
    }
  });
});
