import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createServer as createNetServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, expect, it } from "vitest";
import {
  describeHaproxy,
  type Endpoint,
  freePort,
  get,
  isHaproxyAvailable,
  startEndpoint,
  stopEndpoints,
} from "../../../test/helpers/haproxy.js";
import { systemClock } from "../../core/clock.js";
import type { HaproxyLayout } from "../../routing/haproxy.js";
import { buildRouteTable, type EndpointsInput, type IngressInput, type RouteTable } from "../../routing/table.js";
import { combinedPem, generateCa, issueCertificate } from "./certs.js";
import { HaproxyPublisher } from "./publisher.js";

const available = await isHaproxyAvailable();

interface Site {
  host: string;
  service: string;
  /** Endpoint ports on 127.0.0.1, and whether each is ready. */
  endpoints: { port: number; ready: boolean }[];
  tls?: boolean;
}

/** The route table of some sites, each a host routed to a Service whose endpoints are local HTTP servers. */
function tableOf(sites: Site[]): RouteTable {
  const ingresses: IngressInput[] = sites.map((s) => ({
    tenant: "acme",
    namespace: "default",
    name: s.service,
    spec: {
      ...(s.tls ? { tls: [{ hosts: [s.host], secretName: "cert" }] } : {}),
      rules: [
        {
          host: s.host,
          http: {
            paths: [{ path: "/", pathType: "Prefix", backend: { service: { name: s.service, port: { number: 80 } } } }],
          },
        },
      ],
    },
  }));
  const endpoints: EndpointsInput[] = sites.map((s) => ({
    tenant: "acme",
    namespace: "default",
    name: s.service,
    subsets: s.endpoints.map((e) => ({
      [e.ready ? "addresses" : "notReadyAddresses"]: [{ ip: "127.0.0.1", targetRef: { name: `pod-${e.port}` } }],
      ports: [{ port: e.port }],
    })),
  }));
  const services = sites.map((s) => ({
    tenant: "acme",
    namespace: "default",
    name: s.service,
    spec: { ports: [{ port: 80 }] },
  }));
  return buildRouteTable({ ingresses, services, endpoints });
}

describeHaproxy("HaproxyPublisher against a real haproxy", available, () => {
  let dir: string;
  let port: number;
  let layout: HaproxyLayout;
  let endpoints: Endpoint[];
  let publisher: HaproxyPublisher | undefined;

  beforeEach(async () => {
    dir = mkdtempSync(join(tmpdir(), "kn-haproxy-"));
    port = await freePort();
    layout = { dir, bind: `127.0.0.1:${port}` };
    endpoints = await Promise.all(["e0", "e1", "e2", "e3", "e4", "e5"].map((name) => startEndpoint(name, 3_000)));
  });

  afterEach(async () => {
    await publisher?.stop();
    publisher = undefined;
    await stopEndpoints(endpoints);
    rmSync(dir, { recursive: true, force: true });
  });

  const site = (host: string, service: string, indexes: number[], notReady: number[] = []): Site => ({
    host,
    service,
    endpoints: [
      ...indexes.map((i) => ({ port: (endpoints[i] as Endpoint).port, ready: true })),
      ...notReady.map((i) => ({ port: (endpoints[i] as Endpoint).port, ready: false })),
    ],
  });

  it("validates and serves a host through the map to its endpoints, 404 for other hosts", async () => {
    const table = tableOf([site("a.test", "web", [0, 1])]);
    publisher = await HaproxyPublisher.start({ layout, clock: systemClock }, table);
    expect(publisher.configVersion()).toBe(table.version);
    expect(readFileSync(join(dir, "exact.map"), "utf8") + readFileSync(join(dir, "prefix.map"), "utf8")).toContain(
      "a.test/ acme.default.web.80",
    );
    const bodies = new Set<string>();
    for (let i = 0; i < 6; i++) {
      const res = await get(port, "A.test:80", "/some/path");
      expect(res.status).toBe(200);
      bodies.add(res.body);
    }
    expect(bodies).toEqual(new Set(["e0", "e1"]));
    expect((await get(port, "b.test", "/")).status).toBe(404);
    const first = await publisher.publish(table);
    expect(first).toMatchObject({ ok: true, mode: "unchanged", version: table.version, mismatches: [] });
  });

  it("routes by path inside a host (Exact, Prefix by path element, longest first) and by wildcard host", async () => {
    const ingress = { tenant: "acme", namespace: "default", name: "ing" };
    const server = (i: number) => ({ name: `e${i}`, address: "127.0.0.1", port: (endpoints[i] as Endpoint).port });
    const backend = (name: string, i: number) => ({
      name,
      tenant: "acme",
      namespace: "default",
      service: name,
      port: 80,
      servers: [{ ...server(i), state: "ready" as const }],
    });
    const table: RouteTable = {
      version: "paths-1",
      frontends: [
        {
          host: "a.test",
          tenant: "acme",
          wildcard: false,
          tls: false,
          certificate: null,
          routes: [
            { path: "/exact", pathType: "Exact", backend: "b0", ingress },
            { path: "/api/v1", pathType: "Prefix", backend: "b1", ingress },
            { path: "/api", pathType: "Prefix", backend: "b2", ingress },
            { path: "/", pathType: "Prefix", backend: "b3", ingress },
          ],
        },
        {
          host: "*.w.test",
          tenant: "acme",
          wildcard: true,
          tls: false,
          certificate: null,
          routes: [{ path: "/", pathType: "Prefix", backend: "b4", ingress }],
        },
      ],
      backends: [backend("b0", 0), backend("b1", 1), backend("b2", 2), backend("b3", 3), backend("b4", 4)],
      problems: [],
    };
    publisher = await HaproxyPublisher.start({ layout, clock: systemClock }, table);
    const cases: [string, string, string | number][] = [
      ["a.test", "/exact", "e0"],
      ["a.test", "/exact/more", "e3"],
      ["a.test", "/api/v1", "e1"],
      ["a.test", "/api/v1/users?x=1", "e1"],
      ["a.test", "/api/v10", "e2"],
      ["a.test", "/api", "e2"],
      ["a.test", "/apix", "e3"],
      ["a.test", "/", "e3"],
      ["x.w.test", "/any", "e4"],
      ["y.x.w.test", "/any", 404],
      ["w.test", "/", 404],
    ];
    for (const [host, path, want] of cases) {
      const res = await get(port, host, path);
      expect(typeof want === "number" ? res.status : res.body, `${host}${path}`).toBe(want);
    }
  });

  it("takes 100 endpoint changes through the runtime API: no reload, readback matches the table after each", async () => {
    // Six endpoints at the start: eight slots, which every later step fits in.
    const start = tableOf([site("a.test", "web", [0, 1, 2, 3, 4, 5])]);
    publisher = await HaproxyPublisher.start({ layout, clock: systemClock }, start);
    const before = await publisher.reloadCounter();
    expect(before).not.toBeNull();
    let runtime = 0;
    for (let i = 0; i < 100; i++) {
      // A different set each step: endpoints come and go, some not ready, never more than six.
      const ready = [0, 1, 2, 3, 4, 5].filter((e) => ((i * 7 + e * 3) % 5) % 2 === 0 || e === i % 6);
      const notReady = [0, 1, 2, 3, 4, 5].filter((e) => !ready.includes(e) && (i + e) % 4 === 0);
      const table = tableOf([site("a.test", "web", ready, notReady)]);
      const result = await publisher.publish(table);
      expect(result.mismatches, `step ${i}`).toEqual([]);
      expect(result.ok, `step ${i}: ${result.error ?? ""}`).toBe(true);
      expect(["runtime", "unchanged"], `step ${i}: ${result.reason ?? ""}`).toContain(result.mode);
      if (result.mode === "runtime") runtime++;
      expect(result.version).toBe(table.version);
      const res = await get(port, "a.test", "/");
      expect(res.status, `step ${i}`).toBe(200);
      expect(ready.map((e) => `e${e}`)).toContain(res.body);
    }
    expect(runtime).toBeGreaterThan(50);
    expect(await publisher.reloadCounter()).toEqual(before);
    // The files follow the runtime changes, so a restart would serve the last table.
    expect(publisher.configVersion()).toBe(publisher.version);
  });

  it("reloads exactly once for a new host and backend, and keeps serving through it", async () => {
    publisher = await HaproxyPublisher.start({ layout, clock: systemClock }, tableOf([site("a.test", "web", [0])]));
    const before = await publisher.reloadCounter();
    let stop = false;
    const statuses: number[] = [];
    const traffic = (async () => {
      for (let i = 0; i < 10_000 && !stop; i++) statuses.push((await get(port, "a.test", "/")).status);
    })();
    const next = tableOf([site("a.test", "web", [0]), site("b.test", "api", [1])]);
    const result = await publisher.publish(next);
    stop = true;
    await traffic;
    expect(result).toMatchObject({ ok: true, mode: "reload", version: next.version, mismatches: [] });
    expect(await publisher.reloadCounter()).toEqual({ reloads: (before?.reloads ?? 0) + 1, failed: 0 });
    expect(statuses.length).toBeGreaterThan(0);
    expect(statuses.filter((s) => s !== 200)).toEqual([]);
    expect(await get(port, "b.test", "/")).toEqual({ status: 200, body: "e1" });
    expect(await get(port, "a.test", "/")).toEqual({ status: 200, body: "e0" });
  });

  it("refuses a configuration haproxy -c rejects, keeps the old one serving and reports the failure", async () => {
    // The operator's default certificate turns to garbage after the start: the running proxy holds
    // the one it loaded, and a reload must not be tried with a file haproxy cannot read.
    const ca = await generateCa(Date.now());
    const operatorFile = join(dir, "operator.pem");
    writeFileSync(operatorFile, combinedPem(await issueCertificate(ca, { dns: ["op.test"] }, Date.now(), 30)));
    const tls = {
      bind: `127.0.0.1:${await freePort()}`,
      certificateDir: join(dir, "certs"),
      defaultCertificate: operatorFile,
    };
    const events: string[] = [];
    const good = tableOf([site("a.test", "web", [0])]);
    publisher = await HaproxyPublisher.start(
      { layout: { ...layout, tls }, ca, clock: systemClock, onEvent: (e) => events.push(e.reason) },
      good,
    );
    const before = await publisher.reloadCounter();
    const config = readFileSync(join(dir, "haproxy.cfg"), "utf8");
    writeFileSync(operatorFile, "not a certificate\n");
    const bad = tableOf([site("a.test", "web", [0]), site("s.test", "secure", [1])]);
    const result = await publisher.publish(bad);
    expect(result).toMatchObject({ ok: false, mode: "failed", version: good.version });
    expect(result.error).toMatch(/haproxy -c refused/);
    expect(result.error).toMatch(/operator\.pem/);
    expect(events).toEqual(["PublishFailed"]);
    expect(readFileSync(join(dir, "haproxy.cfg"), "utf8")).toBe(config);
    expect(await publisher.reloadCounter()).toEqual(before);
    expect(await get(port, "a.test", "/")).toEqual({ status: 200, body: "e0" });
    expect((await get(port, "s.test", "/")).status).toBe(404);
    // Once the file is good again, the next table is taken.
    writeFileSync(operatorFile, combinedPem(await issueCertificate(ca, { dns: ["op.test"] }, Date.now(), 30)));
    const next = tableOf([site("a.test", "web", [1])]);
    expect(await publisher.publish(next)).toMatchObject({ ok: true, version: next.version });
  });

  it("attaches to a running haproxy: the first publish reloads, later ones use the runtime API", async () => {
    publisher = await HaproxyPublisher.start({ layout, clock: systemClock }, tableOf([site("a.test", "web", [0, 1])]));
    const attached = await HaproxyPublisher.attach({ layout, clock: systemClock });
    const before = await attached.reloadCounter();
    const first = await attached.publish(tableOf([site("a.test", "web", [0, 1, 2])]));
    expect(first).toMatchObject({ ok: true, mode: "reload", mismatches: [] });
    const second = await attached.publish(tableOf([site("a.test", "web", [2])]));
    expect(second).toMatchObject({ ok: true, mode: "runtime", mismatches: [] });
    expect(await attached.reloadCounter()).toEqual({ reloads: (before?.reloads ?? 0) + 1, failed: 0 });
    expect(await get(port, "a.test", "/")).toEqual({ status: 200, body: "e2" });
  });

  it("says why a haproxy would not start, in haproxy's own words: here, its port is taken", async () => {
    const taken = createNetServer();
    await new Promise<void>((resolve) => taken.listen(port, "127.0.0.1", resolve));
    try {
      const start = HaproxyPublisher.start({ layout, clock: systemClock }, tableOf([site("a.test", "web", [0])]));
      await expect(start).rejects.toThrow(/exited with code \d+ at start: .*(cannot bind|Address already in use)/s);
    } finally {
      await new Promise<void>((resolve) => taken.close(() => resolve()));
    }
  });

  it("restarts the haproxy it started when it has died, from the last good files", async () => {
    const events: string[] = [];
    const table = tableOf([site("a.test", "web", [0])]);
    publisher = await HaproxyPublisher.start(
      { layout, clock: systemClock, onEvent: (e) => events.push(e.reason) },
      table,
    );
    publisher.kill();
    // The port can stop answering before Node reports the process's exit: wait (bounded) for both.
    let down = false;
    for (let i = 0; i < 100 && !(down && events.length > 0); i++) {
      down = (await get(port, "a.test", "/", 1_000)).status === 0;
      if (!(down && events.length > 0)) await new Promise((r) => setTimeout(r, 50));
    }
    expect(down).toBe(true);
    expect(events).toEqual(["ProxyExited"]);
    const next = tableOf([site("a.test", "web", [1])]);
    expect(await publisher.publish(next)).toMatchObject({ ok: true, version: next.version, mismatches: [] });
    expect(await get(port, "a.test", "/")).toEqual({ status: 200, body: "e1" });
  });

  it("drains a server: resolves once its in-flight request is done, or false at the timeout", async () => {
    publisher = await HaproxyPublisher.start({ layout, clock: systemClock }, tableOf([site("a.test", "web", [0])]));
    const server = { address: "127.0.0.1", port: (endpoints[0] as Endpoint).port };
    const backend = "acme.default.web.80";
    const slow = get(port, "a.test", "/slow");
    // Wait (bounded) until HAProxy counts the request as a session of the server.
    let busy = false;
    for (let i = 0; i < 100 && !busy; i++) {
      busy = (await publisher.readBack()).servers.length > 0 && !(await publisher.drain(backend, server, 0));
      if (!busy) await new Promise((r) => setTimeout(r, 20));
    }
    expect(busy).toBe(true);
    expect(await publisher.drain(backend, server, 200)).toBe(false);
    expect(await publisher.drain(backend, server, 30_000)).toBe(true);
    expect(await slow).toEqual({ status: 200, body: "e0" });
    const served = await publisher.readBack();
    expect(served.servers.find((s) => s.slot === "s1")?.state).toBe("draining");
  });
});
