import { describe, expect, it } from "vitest";
import {
  assignSlots,
  compareServed,
  DEFAULT_CERTIFICATE_NAME,
  expectedServed,
  type HaproxyLayout,
  mapEntries,
  parseCurrentSessions,
  parseMap,
  parseServersState,
  parseShowProc,
  planChange,
  renderHaproxy,
  slotCount,
  UNAVAILABLE_BACKEND,
} from "./haproxy.js";
import type { Backend, Frontend, Route, RouteTable, Server } from "./table.js";

const layout: HaproxyLayout = { dir: "/run/kn", bind: "127.0.0.1:8080" };
const source = { tenant: "t", namespace: "default", name: "ing" };
const route = (path: string, pathType: Route["pathType"], backend: string | null): Route => ({
  path,
  pathType,
  backend,
  ingress: source,
});
const frontend = (host: string, routes: Route[], tls = false): Frontend => ({
  host,
  tenant: "t",
  wildcard: host.startsWith("*."),
  tls,
  certificate: tls ? "t/default/cert" : null,
  routes,
});
const server = (address: string, port = 80, state: Server["state"] = "ready"): Server => ({
  name: `pod-${address}`,
  address,
  port,
  state,
});
const backend = (name: string, servers: Server[]): Backend => ({
  name,
  tenant: "t",
  namespace: "default",
  service: name,
  port: 80,
  servers,
});
let versions = 0;
const table = (frontends: Frontend[], backends: Backend[]): RouteTable => ({
  version: `v${++versions}`,
  frontends,
  backends,
  problems: [],
});

const web = (servers: Server[]) =>
  table([frontend("a.example", [route("/", "Prefix", "web")])], [backend("web", servers)]);

describe("slots", () => {
  it("sizes a backend to the next power of two of at least four", () => {
    expect([0, 1, 4, 5, 8, 9, 100].map(slotCount)).toEqual([4, 4, 4, 8, 8, 16, 128]);
  });

  it("keeps a server in its slot and puts a new one in a slot that was free before one just freed", () => {
    expect(assignSlots(["a", "b", null, null], ["b", "c"], 4)).toEqual([null, "b", "c", null]);
    expect(assignSlots(["a", "b", "c", "d"], ["b", "e"], 4)).toEqual(["e", "b", null, null]);
    expect(assignSlots(["a", "b", "c", "d"], ["a", "b", "c", "d", "e"], 4)).toBeNull();
  });
});

describe("renderHaproxy", () => {
  const t = table(
    [
      frontend("a.example", [route("/api", "Prefix", "api"), route("/", "Prefix", "web")]),
      frontend("*.b.example", [route("/x", "Exact", null)]),
    ],
    [backend("api", [server("10.0.0.1")]), backend("web", [server("10.0.0.2"), server("10.0.0.3", 80, "draining")])],
  );

  it("renders the global, defaults, frontend and one backend per table backend with power-of-two slots", () => {
    const { config, slots } = renderHaproxy(t, layout);
    expect(config).toContain("  master-worker\n");
    expect(config).toContain("  stats socket /run/kn/admin.sock level admin expose-fd listeners\n");
    expect(config).toContain("  retry-on conn-failure empty-response response-timeout\n");
    expect(config).toContain("  option redispatch\n");
    expect(config).toContain("  bind 127.0.0.1:8080\n");
    expect(config).toContain("map_str(/run/kn/exact.map)");
    expect(config).toContain("map_beg(/run/kn/prefix.map)");
    expect(config).toContain(
      "backend web\n  balance roundrobin\n  server s1 10.0.0.2:80\n  server s2 10.0.0.3:80 weight 0\n",
    );
    expect(config).toContain("  server s4 0.0.0.0:0 disabled\n");
    expect(slots).toEqual({ api: ["10.0.0.1:80", null, null, null], web: ["10.0.0.2:80", "10.0.0.3:80", null, null] });
  });

  it("is deterministic", () => {
    expect(renderHaproxy(t, layout)).toEqual(renderHaproxy(structuredClone(t), layout));
  });

  it("binds TLS for every host with a default certificate and a crt-list, only when the layout has TLS", () => {
    const tls = { bind: "127.0.0.1:8443", certificateDir: "/certs" };
    expect(renderHaproxy(t, layout).config).not.toContain("ssl");
    expect(renderHaproxy(t, layout).crtList).toBe("");
    const rendered = renderHaproxy(t, { ...layout, tls });
    expect(rendered.config).toContain(
      "  bind 127.0.0.1:8443 ssl crt /certs/default.pem crt-list /run/kn/crt-list.txt\n",
    );
    // A host whose Ingress does not list it under tls is still served over HTTPS, with a platform certificate.
    expect(rendered.crtList).toBe(
      "/certs/platform__.b.example.pem *.b.example\n/certs/platform_a.example.pem a.example\n",
    );
    expect(rendered.certificates).toEqual([
      { file: "/certs/default.pem", source: "platform", names: [DEFAULT_CERTIFICATE_NAME] },
      { file: "/certs/platform__.b.example.pem", source: "platform", names: ["*.b.example"] },
      { file: "/certs/platform_a.example.pem", source: "platform", names: ["a.example"] },
    ]);
    const operator = renderHaproxy(t, { ...layout, tls: { ...tls, defaultCertificate: "/etc/op.pem" } });
    expect(operator.config).toContain("ssl crt /etc/op.pem crt-list");
    expect(operator.certificates.map((c) => c.file)).toEqual([
      "/certs/platform__.b.example.pem",
      "/certs/platform_a.example.pem",
    ]);
    // The operator's wildcard covers `*.b.example` (the same wildcard) but not `a.example`: only the latter is issued.
    const covering = renderHaproxy(t, {
      ...layout,
      tls: { ...tls, defaultCertificate: "/etc/op.pem", defaultCertificateNames: ["*.b.example"] },
    });
    expect(covering.certificates.map((c) => c.file)).toEqual(["/certs/platform_a.example.pem"]);
    expect(covering.crtList).toBe("/certs/platform_a.example.pem a.example\n");
  });

  it("lists one crt-list line per certificate file with its SNI: a tenant's by fingerprint, else the platform's", () => {
    const tls = { bind: "127.0.0.1:8443", certificateDir: "/certs" };
    const r = [route("/", "Prefix", "web")];
    const tenant = (host: string, fingerprint?: string): Frontend => ({
      ...frontend(host, r, true),
      ...(fingerprint
        ? { certificateFingerprint: fingerprint }
        : { certificateProblem: "tls.key does not match tls.crt" }),
    });
    const rendered = renderHaproxy(
      table(
        [
          tenant("a.example", "AB:CD:EF:01:23:45:67:89:AA"),
          tenant("b.example", "AB:CD:EF:01:23:45:67:89:AA"),
          tenant("bad.example"),
          frontend("*.w.example", r, true),
        ],
        [backend("web", [])],
      ),
      { ...layout, tls },
    );
    expect(rendered.crtList).toBe(
      [
        "/certs/platform__.w.example.pem *.w.example",
        "/certs/platform_bad.example.pem bad.example",
        "/certs/tenant_t_default_cert_abcdef0123456789.pem a.example b.example",
        "",
      ].join("\n"),
    );
    expect(rendered.certificates).toContainEqual({
      file: "/certs/tenant_t_default_cert_abcdef0123456789.pem",
      source: "tenant",
      ref: "t/default/cert",
      fingerprint: "AB:CD:EF:01:23:45:67:89:AA",
      hosts: ["a.example", "b.example"],
    });
  });

  it("redirects plain HTTP of hosts listed under tls to HTTPS, and sends HSTS only when configured", () => {
    const tls = { bind: "127.0.0.1:8443", certificateDir: "/certs" };
    const r = [route("/", "Prefix", "web")];
    const mixed = table([frontend("a.example", r, true), frontend("b.example", r)], [backend("web", [])]);
    const plain = renderHaproxy(mixed, { ...layout, tls });
    expect(plain.hostsMap).toBe("a.example tls\nb.example plain\n");
    expect(plain.config).toContain(
      "  http-request redirect location https://%[var(txn.host)]:8443%[pathq] code 308 if !{ ssl_fc } { var(txn.tls) -m str tls }\n",
    );
    expect(plain.config).not.toContain("Strict-Transport-Security");
    const hsts = renderHaproxy(mixed, {
      ...layout,
      tls: { ...tls, httpsPort: 443, redirectCode: 301, hsts: { maxAgeSeconds: 600, includeSubDomains: true } },
    });
    expect(hsts.config).toContain("redirect location https://%[var(txn.host)]%[pathq] code 301 if");
    expect(hsts.config).toContain(
      '  http-response set-header Strict-Transport-Security "max-age=600; includeSubDomains" if { ssl_fc } { var(txn.tls) -m str tls }\n',
    );
  });

  it("maps Exact paths exactly and Prefix paths by path element, longest first, unresolved to 503", () => {
    const entries = mapEntries(
      table(
        [
          frontend("A.example", [
            route("/exact", "Exact", "e"),
            route("/api/v1/", "Prefix", "v1"),
            route("/api", "Prefix", "api"),
            route("/", "Prefix", "web"),
          ]),
          frontend("b.example", [route("/", "Prefix", null)]),
        ],
        [],
      ),
    );
    expect(entries.exact).toEqual([
      ["a.example/api/v1", "v1"],
      ["a.example/exact", "e"],
      ["a.example/api", "api"],
    ]);
    expect(entries.prefix).toEqual([
      ["a.example/api/v1/", "v1"],
      ["a.example/api/", "api"],
      ["a.example/", "web"],
      ["b.example/", UNAVAILABLE_BACKEND],
    ]);
  });

  it("gives a path routed as Exact and as Prefix to the Exact route, which comes first", () => {
    const entries = mapEntries(
      table([frontend("a.example", [route("/p", "Exact", "exact"), route("/p", "Prefix", "prefix")])], []),
    );
    expect(entries.exact).toEqual([["a.example/p", "exact"]]);
    expect(entries.prefix).toEqual([["a.example/p/", "prefix"]]);
  });
});

describe("planChange", () => {
  const from = web([server("10.0.0.1"), server("10.0.0.2")]);
  const slots = renderHaproxy(from, layout).slots;

  it("adds a server through the runtime API: address, then ready", () => {
    const plan = planChange(
      from,
      slots,
      web([server("10.0.0.1"), server("10.0.0.2"), server("10.0.0.9", 8080)]),
      layout,
    );
    expect(plan).toMatchObject({
      needsReload: false,
      commands: [
        "set server web/s3 addr 10.0.0.9 port 8080",
        "set server web/s3 state ready",
        "set server web/s3 weight 1",
      ],
    });
  });

  it("puts a server that goes into maintenance and drains one that is no longer ready", () => {
    const plan = planChange(from, slots, web([server("10.0.0.2", 80, "draining")]), layout);
    expect(plan).toMatchObject({
      needsReload: false,
      commands: ["set server web/s1 state maint", "set server web/s2 state drain"],
      slots: { web: [null, "10.0.0.2:80", null, null] },
    });
  });

  it("brings a new, not yet ready server in at weight 0", () => {
    const plan = planChange(
      from,
      slots,
      web([server("10.0.0.1"), server("10.0.0.2"), server("10.0.0.3", 80, "draining")]),
      layout,
    );
    expect(plan).toMatchObject({
      commands: [
        "set server web/s3 addr 10.0.0.3 port 80",
        "set server web/s3 weight 0",
        "set server web/s3 state ready",
      ],
    });
  });

  it("needs no command when nothing served changed", () => {
    expect(planChange(from, slots, web([server("10.0.0.2"), server("10.0.0.1")]), layout)).toMatchObject({
      needsReload: false,
      commands: [],
    });
  });

  it("needs a reload for a new backend, more servers than slots, a new path or host, and TLS", () => {
    const five = ["1", "2", "3", "4", "5"].map((i) => server(`10.0.1.${i}`));
    const withApi = table(
      [frontend("a.example", [route("/api", "Prefix", "api"), route("/", "Prefix", "web")])],
      [backend("api", []), backend("web", [])],
    );
    const newPath = table(
      [frontend("a.example", [route("/x", "Exact", "web"), route("/", "Prefix", "web")])],
      [backend("web", [])],
    );
    const newHost = table(
      [frontend("a.example", [route("/", "Prefix", "web")]), frontend("b.example", [route("/", "Prefix", "web")])],
      [backend("web", [])],
    );
    const tls = table([frontend("a.example", [route("/", "Prefix", "web")], true)], [backend("web", [])]);
    const tlsLayout = { ...layout, tls: { bind: "127.0.0.1:8443", certificateDir: "/certs" } };
    expect(planChange(from, slots, withApi, layout)).toMatchObject({ needsReload: true, reason: "new backend api" });
    expect(planChange(from, slots, web(five), layout)).toMatchObject({ needsReload: true });
    expect(planChange(from, slots, newPath, layout)).toMatchObject({ needsReload: true });
    expect(planChange(from, slots, newHost, layout)).toMatchObject({ needsReload: true });
    expect(planChange(from, slots, tls, tlsLayout)).toMatchObject({ needsReload: true });
  });

  it("needs a reload when a tenant certificate changes or falls back, not when only its servers change", () => {
    const tlsLayout = { ...layout, tls: { bind: "127.0.0.1:8443", certificateDir: "/certs" } };
    const secured = (fingerprint: string | undefined, servers: Server[]) =>
      table(
        [
          {
            ...frontend("a.example", [route("/", "Prefix", "web")], true),
            ...(fingerprint ? { certificateFingerprint: fingerprint } : {}),
          },
        ],
        [backend("web", servers)],
      );
    const start = secured("AA:01", [server("10.0.0.1")]);
    const startSlots = renderHaproxy(start, tlsLayout).slots;
    expect(planChange(start, startSlots, secured("AA:01", [server("10.0.0.2")]), tlsLayout)).toMatchObject({
      needsReload: false,
    });
    expect(planChange(start, startSlots, secured("BB:02", [server("10.0.0.1")]), tlsLayout)).toMatchObject({
      needsReload: true,
    });
    expect(planChange(start, startSlots, secured(undefined, [server("10.0.0.1")]), tlsLayout)).toMatchObject({
      needsReload: true,
    });
  });
});

describe("readback", () => {
  const serversState = [
    "1",
    "# be_id be_name srv_id srv_name srv_addr srv_op_state srv_admin_state srv_uweight srv_iweight srv_time_since_last_change srv_check_status srv_check_result srv_check_health srv_check_state srv_agent_state bk_f_forced_id srv_f_forced_id srv_fqdn srv_port srvrecord srv_use_ssl srv_check_port srv_check_addr srv_agent_addr srv_agent_port",
    "5 web 1 s1 10.0.0.1 2 0 1 1 2 1 0 2 0 0 0 0 - 80 - 0 0 - - 0",
    "5 web 2 s2 10.0.0.2 2 8 1 1 0 1 0 2 0 0 0 0 - 80 - 0 0 - - 0",
    "5 web 3 s3 127.0.0.1 2 4 0 1 0 1 0 0 8 0 0 0 - 19003 - 0 0 - - 0",
    "5 web 4 s4 0.0.0.0 0 5 1 1 2 1 0 0 8 0 0 0 - 0 - 0 0 - - 0",
    "",
  ].join("\n");

  it("parses show servers state: ready, drain flag, weight 0 and maintenance", () => {
    expect(parseServersState(serversState).map((s) => [s.slot, s.address, s.port, s.state])).toEqual([
      ["s1", "10.0.0.1", 80, "ready"],
      ["s2", "10.0.0.2", 80, "draining"],
      ["s3", "127.0.0.1", 19003, "draining"],
      ["s4", "0.0.0.0", 0, "maint"],
    ]);
  });

  it("parses show map, show proc and show stat", () => {
    expect(parseMap("0x5558bc846330 x.com/foo/ web\n0x5558bc8463c0 *.y.com/ api\n\n")).toEqual([
      ["x.com/foo/", "web"],
      ["*.y.com/", "api"],
    ]);
    const proc =
      "#<PID>          <type>          <reloads>       <uptime>        <version>\n27189           master          3 [failed: 1]   0d00h00m02s     2.6.12\n# workers\n27190           worker          0               0d00h00m02s     2.6.12\n";
    expect(parseShowProc(proc)).toEqual({ reloads: 3, failed: 1 });
    expect(parseShowProc("")).toBeNull();
    const stat = "# pxname,svname,qcur,qmax,scur,smax\nweb,s1,0,0,2,3\nweb,s2,0,0,0,1\n";
    expect(parseCurrentSessions(stat, "web", "s1")).toBe(2);
    expect(parseCurrentSessions(stat, "web", "s9")).toBeNull();
  });

  it("compares what is served with the table: state, address, maps; free slots by state only", () => {
    const t = web([server("10.0.0.1"), server("10.0.0.2", 80, "draining")]);
    const expected = expectedServed(t, renderHaproxy(t, layout).slots);
    const served = { servers: parseServersState(serversState), exactMap: [], prefixMap: expected.prefixMap };
    expect(compareServed(expected, served)).toEqual(["web/s3: draining, want maint"]);
    expect(compareServed(expected, { ...served, prefixMap: [] })).toContain("prefix.map differs");
  });
});
