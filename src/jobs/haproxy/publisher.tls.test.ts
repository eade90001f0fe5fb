/**
 * HTTPS through a real haproxy: certificates by SNI from the platform CA or a tenant's Secret,
 * the default certificate, redirects, HSTS, and which certificate changes reload.
 * Traffic goes to 127.0.0.1 only; clients verify against the test's own CA.
 */
import { mkdtempSync, readdirSync, rmSync, statSync } from "node:fs";
import type { IncomingHttpHeaders } from "node:http";
import { request } from "node:https";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { TLSSocket } from "node:tls";
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
import { type Clock, systemClock } from "../../core/clock.js";
import type { HaproxyLayout, TlsLayout } from "../../routing/haproxy.js";
import { buildRouteTable, type RouteTable, type SecretInput } from "../../routing/table.js";
import { type CertificatePems, DAY_MS, generateCa, HOST_CERTIFICATE_DAYS, issueCertificate } from "./certs.js";
import { HaproxyPublisher } from "./publisher.js";

const available = await isHaproxyAvailable();

interface Answer {
  status: number;
  body: string;
  headers: IncomingHttpHeaders;
  fingerprint: string;
  subject: string;
  issuer: string;
  /** Whether the certificate verified against the given CA for the SNI name. */
  authorized: boolean;
}

/** GET https://127.0.0.1:<port><path> with SNI and Host `servername`, trusting only `ca`; never follows redirects. */
function httpsGet(port: number, servername: string, ca: string, path = "/"): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: "127.0.0.1",
        port,
        path,
        servername,
        headers: { host: servername },
        ca,
        // Checked below instead, so that a test can look at a certificate the CA did not sign.
        rejectUnauthorized: false,
        agent: false,
        timeout: 10_000,
      },
      (res) => {
        const socket = res.socket as TLSSocket;
        const peer = socket.getPeerCertificate();
        let body = "";
        res.setEncoding("utf8");
        res.on("data", (chunk: string) => {
          body += chunk;
        });
        res.on("end", () =>
          resolve({
            status: res.statusCode ?? 0,
            body,
            headers: res.headers,
            fingerprint: peer.fingerprint256,
            subject: String(peer.subject?.CN ?? ""),
            issuer: String(peer.issuer?.CN ?? ""),
            authorized: socket.authorized,
          }),
        );
      },
    );
    req.on("timeout", () => req.destroy(new Error("timeout")));
    req.on("error", reject);
    req.end();
  });
}

/** A plain HTTP GET that reports the Location header too. */
function httpGet(port: number, host: string, path: string): Promise<{ status: number; location?: string }> {
  return import("node:http").then(
    ({ request: plain }) =>
      new Promise((resolve, reject) => {
        const req = plain(
          { host: "127.0.0.1", port, path, headers: { host }, agent: false, timeout: 10_000 },
          (res) => {
            res.resume();
            res.on("end", () =>
              resolve({
                status: res.statusCode ?? 0,
                ...(res.headers.location ? { location: res.headers.location } : {}),
              }),
            );
          },
        );
        req.on("error", reject);
        req.end();
      }),
  );
}

const b64 = (text: string) => Buffer.from(text, "utf8").toString("base64");
const tlsSecret = (name: string, pems: CertificatePems): SecretInput => ({
  tenant: "acme",
  namespace: "default",
  name,
  type: "kubernetes.io/tls",
  data: { "tls.crt": b64(pems.cert), "tls.key": b64(pems.key) },
});

interface Host {
  host: string;
  service: string;
  ports: number[];
  /** Listed under the Ingress's `tls`, with this Secret name when given. */
  tls?: { secretName?: string };
}

function tableOf(hosts: Host[], secrets: SecretInput[] = []): RouteTable {
  return buildRouteTable({
    ingresses: hosts.map((h) => ({
      tenant: "acme",
      namespace: "default",
      name: h.service,
      spec: {
        ...(h.tls ? { tls: [{ hosts: [h.host], ...h.tls }] } : {}),
        rules: [
          {
            host: h.host,
            http: {
              paths: [
                { path: "/", pathType: "Prefix", backend: { service: { name: h.service, port: { number: 80 } } } },
              ],
            },
          },
        ],
      },
    })),
    services: hosts.map((h) => ({
      tenant: "acme",
      namespace: "default",
      name: h.service,
      spec: { ports: [{ port: 80 }] },
    })),
    // One subset per endpoint: the endpoints are local servers on distinct ports.
    endpoints: hosts.map((h) => ({
      tenant: "acme",
      namespace: "default",
      name: h.service,
      subsets: h.ports.map((port) => ({
        addresses: [{ ip: "127.0.0.1", targetRef: { name: `pod-${port}` } }],
        ports: [{ port }],
      })),
    })),
    secrets,
  });
}

describeHaproxy("HaproxyPublisher over TLS against a real haproxy", available, () => {
  let dir: string;
  let httpPort: number;
  let httpsPort: number;
  let ca: CertificatePems;
  let endpoints: Endpoint[];
  let publisher: HaproxyPublisher | undefined;
  let secrets: Map<string, SecretInput>;

  beforeEach(async () => {
    dir = mkdtempSync(join(tmpdir(), "kn-haproxy-tls-"));
    httpPort = await freePort();
    httpsPort = await freePort();
    ca = await generateCa(Date.now());
    secrets = new Map();
    endpoints = await Promise.all(["e0", "e1", "e2"].map((name) => startEndpoint(name)));
  });

  afterEach(async () => {
    await publisher?.stop();
    publisher = undefined;
    await stopEndpoints(endpoints);
    rmSync(dir, { recursive: true, force: true });
  });

  const layoutWith = (tls: Partial<TlsLayout> = {}): HaproxyLayout => ({
    dir,
    bind: `127.0.0.1:${httpPort}`,
    tls: { bind: `127.0.0.1:${httpsPort}`, certificateDir: join(dir, "certs"), ...tls },
  });
  const port = (i: number) => (endpoints[i] as Endpoint).port;
  const start = (table: RouteTable, layout = layoutWith(), clock: Clock = systemClock) =>
    HaproxyPublisher.start(
      {
        layout,
        clock,
        ca,
        tenantSecret: async (ref) => {
          const s = secrets.get(ref);
          return s ? { type: s.type, data: s.data } : undefined;
        },
      },
      table,
    );
  const withSecret = (name: string, pems: CertificatePems) => {
    const secret = tlsSecret(name, pems);
    secrets.set(`acme/default/${name}`, secret);
    return secret;
  };

  it("answers HTTPS for a platform-certified host from every replica in turn; unknown SNI gets the default", async () => {
    const table = tableOf([
      { host: "web.acme.apps.test", service: "web", ports: [port(0), port(1), port(2)], tls: {} },
      { host: "*.w.acme.apps.test", service: "any", ports: [port(0)] },
    ]);
    publisher = await start(table);
    // A wildcard host gets a wildcard certificate.
    expect(await httpsGet(httpsPort, "x.w.acme.apps.test", ca.cert)).toMatchObject({
      status: 200,
      body: "e0",
      authorized: true,
      subject: "*.w.acme.apps.test",
    });
    const bodies: string[] = [];
    for (let i = 0; i < 6; i++) {
      const answer = await httpsGet(httpsPort, "web.acme.apps.test", ca.cert);
      expect(answer).toMatchObject({ status: 200, authorized: true, subject: "web.acme.apps.test" });
      bodies.push(answer.body);
    }
    expect(new Set(bodies)).toEqual(new Set(["e0", "e1", "e2"]));
    const unknown = await httpsGet(httpsPort, "nobody.apps.test", ca.cert);
    expect(unknown).toMatchObject({ status: 404, subject: "default.kubernease.invalid", authorized: false });
    // Host certificate files hold a private key: readable by the owner only.
    const certs = readdirSync(join(dir, "certs"));
    expect(certs.sort()).toEqual(["default.pem", "platform__.w.acme.apps.test.pem", "platform_web.acme.apps.test.pem"]);
    for (const file of certs) expect(statSync(join(dir, "certs", file)).mode & 0o077).toBe(0);
  });

  it("serves a tenant's Secret certificate for its host; a bad key falls back to the platform's and says why", async () => {
    const tenantCa = await generateCa(Date.now());
    const own = await issueCertificate(tenantCa, { dns: ["shop.acme.apps.test"] }, Date.now(), 30);
    const stray = await issueCertificate(tenantCa, { dns: ["bad.acme.apps.test"] }, Date.now(), 30);
    const mismatched = { cert: stray.cert, key: own.key };
    const table = tableOf(
      [
        { host: "shop.acme.apps.test", service: "shop", ports: [port(0)], tls: { secretName: "shop-tls" } },
        { host: "bad.acme.apps.test", service: "bad", ports: [port(1)], tls: { secretName: "bad-tls" } },
      ],
      [withSecret("shop-tls", own), withSecret("bad-tls", mismatched)],
    );
    const bad = table.frontends.find((f) => f.host === "bad.acme.apps.test");
    expect(bad?.certificateProblem).toBe("tls.key does not match tls.crt");
    publisher = await start(table);
    const shop = await httpsGet(httpsPort, "shop.acme.apps.test", tenantCa.cert);
    expect(shop).toMatchObject({ status: 200, body: "e0", authorized: true });
    expect(shop.fingerprint).toBe(
      table.frontends.find((f) => f.host === "shop.acme.apps.test")?.certificateFingerprint,
    );
    const fallback = await httpsGet(httpsPort, "bad.acme.apps.test", ca.cert);
    expect(fallback).toMatchObject({ status: 200, body: "e1", authorized: true, subject: "bad.acme.apps.test" });
  });

  it("falls back when a tenant's Secret changed after the table was built, and takes it on the next table", async () => {
    const tenantCa = await generateCa(Date.now());
    const first = await issueCertificate(tenantCa, { dns: ["shop.acme.apps.test"] }, Date.now(), 30);
    const second = await issueCertificate(tenantCa, { dns: ["shop.acme.apps.test"] }, Date.now(), 30);
    const hosts: Host[] = [
      { host: "shop.acme.apps.test", service: "shop", ports: [port(0)], tls: { secretName: "s" } },
    ];
    publisher = await start(tableOf(hosts));
    const stale = tableOf(hosts, [withSecret("s", first)]);
    withSecret("s", second);
    // The certificate the table vouches for cannot be written: the platform's stays (no reload needed).
    const result = await publisher.publish(stale);
    expect(result).toMatchObject({ ok: true, mode: "runtime", version: stale.version });
    expect(result.certificateFallbacks).toEqual([
      "shop.acme.apps.test: the secret changed since the route table was built",
    ]);
    expect(await httpsGet(httpsPort, "shop.acme.apps.test", ca.cert)).toMatchObject({ authorized: true });
    const fresh = tableOf(hosts, [tlsSecret("s", second)]);
    expect(await publisher.publish(fresh)).toMatchObject({ ok: true, mode: "reload" });
    const answer = await httpsGet(httpsPort, "shop.acme.apps.test", tenantCa.cert);
    expect(answer.fingerprint).toBe(fresh.frontends[0]?.certificateFingerprint);
    expect(answer.authorized).toBe(true);
  });

  it("redirects plain HTTP of a tls host to https with path and query kept; other hosts stay plain", async () => {
    const table = tableOf([
      { host: "secure.acme.apps.test", service: "secure", ports: [port(0)], tls: {} },
      { host: "open.acme.apps.test", service: "open", ports: [port(1)] },
    ]);
    publisher = await start(table);
    expect(await httpGet(httpPort, "secure.acme.apps.test:8080", "/a/b?c=1&d")).toEqual({
      status: 308,
      location: `https://secure.acme.apps.test:${httpsPort}/a/b?c=1&d`,
    });
    expect(await get(httpPort, "open.acme.apps.test", "/x")).toEqual({ status: 200, body: "e1" });
    // Every host is served over HTTPS, listed under tls or not.
    expect(await httpsGet(httpsPort, "open.acme.apps.test", ca.cert)).toMatchObject({ status: 200, authorized: true });
  });

  it("sends HSTS on HTTPS answers of tls hosts only when the operator configured it", async () => {
    const hosts: Host[] = [
      { host: "secure.acme.apps.test", service: "secure", ports: [port(0)], tls: {} },
      { host: "open.acme.apps.test", service: "open", ports: [port(1)] },
    ];
    publisher = await start(tableOf(hosts));
    expect((await httpsGet(httpsPort, "secure.acme.apps.test", ca.cert)).headers["strict-transport-security"]).toBe(
      undefined,
    );
    await publisher.stop();
    publisher = await start(
      tableOf(hosts),
      layoutWith({ hsts: { maxAgeSeconds: 31_536_000, includeSubDomains: true } }),
    );
    const secure = await httpsGet(httpsPort, "secure.acme.apps.test", ca.cert);
    expect(secure).toMatchObject({ status: 200, body: "e0" });
    expect(secure.headers["strict-transport-security"]).toBe("max-age=31536000; includeSubDomains");
    const open = await httpsGet(httpsPort, "open.acme.apps.test", ca.cert);
    expect(open.headers["strict-transport-security"]).toBe(undefined);
  });

  it("reloads for a changed tenant certificate, not for an endpoint change", async () => {
    const tenantCa = await generateCa(Date.now());
    const a = await issueCertificate(tenantCa, { dns: ["shop.acme.apps.test"] }, Date.now(), 30);
    const b = await issueCertificate(tenantCa, { dns: ["shop.acme.apps.test"] }, Date.now(), 30);
    const hosts = (ports: number[]): Host[] => [
      { host: "shop.acme.apps.test", service: "shop", ports, tls: { secretName: "s" } },
    ];
    publisher = await start(tableOf(hosts([port(0)]), [withSecret("s", a)]));
    const before = await publisher.reloadCounter();
    const moved = await publisher.publish(tableOf(hosts([port(1)]), [withSecret("s", a)]));
    expect(moved).toMatchObject({ ok: true, mode: "runtime" });
    expect(await publisher.reloadCounter()).toEqual(before);
    const renewed = tableOf(hosts([port(1)]), [withSecret("s", b)]);
    expect(await publisher.publish(renewed)).toMatchObject({ ok: true, mode: "reload" });
    expect(await publisher.reloadCounter()).toEqual({ reloads: (before?.reloads ?? 0) + 1, failed: 0 });
    const answer = await httpsGet(httpsPort, "shop.acme.apps.test", tenantCa.cert);
    expect(answer).toMatchObject({ status: 200, body: "e1", authorized: true });
    expect(answer.fingerprint).toBe(renewed.frontends[0]?.certificateFingerprint);
    // The file of the replaced certificate is gone; the new one is in place.
    expect(readdirSync(join(dir, "certs")).filter((f) => f.startsWith("tenant_"))).toHaveLength(1);
  });

  it("renews a platform certificate within 30 days of its end, with a reload", async () => {
    let offsetMs = 0;
    const clock: Clock = { now: () => Date.now() + offsetMs, setTimer: systemClock.setTimer };
    const table = tableOf([{ host: "web.acme.apps.test", service: "web", ports: [port(0)], tls: {} }]);
    publisher = await start(table, layoutWith(), clock);
    const first = await httpsGet(httpsPort, "web.acme.apps.test", ca.cert);
    const before = await publisher.reloadCounter();
    offsetMs = (HOST_CERTIFICATE_DAYS - 40) * DAY_MS;
    expect(await publisher.publish(table)).toMatchObject({ ok: true, mode: "unchanged" });
    offsetMs = (HOST_CERTIFICATE_DAYS - 20) * DAY_MS;
    const renewed = await publisher.publish(table);
    expect(renewed).toMatchObject({ ok: true, mode: "reload" });
    expect(renewed.reason).toMatch(/issued or renewed/);
    expect(await publisher.reloadCounter()).toEqual({ reloads: (before?.reloads ?? 0) + 1, failed: 0 });
    // Issued on the moved clock, so not yet valid for a client on real time: compare issuer and fingerprint.
    const second = await httpsGet(httpsPort, "web.acme.apps.test", ca.cert);
    expect(second).toMatchObject({ status: 200, subject: "web.acme.apps.test", issuer: "kubernease local CA" });
    expect(second.fingerprint).not.toBe(first.fingerprint);
  });
});
