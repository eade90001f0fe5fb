import { X509Certificate } from "node:crypto";
import { describe, expect, it } from "vitest";
import { canonicalJson } from "../core/hash.js";
import { type Rng, seededRng } from "../core/rng.js";
import {
  backendName,
  buildRouteTable,
  type EndpointsInput,
  type IngressInput,
  type RouteTable,
  type RoutingInput,
  type SecretInput,
  type ServiceInput,
  tenantView,
} from "./table.js";

const svc = (
  tenant: string,
  name: string,
  ports: ServiceInput["spec"]["ports"],
  namespace = "default",
): ServiceInput => ({
  tenant,
  namespace,
  name,
  spec: { ports },
});

const eps = (
  tenant: string,
  name: string,
  ports: { name?: string; port: number }[],
  ready: string[],
  notReady: string[] = [],
  namespace = "default",
): EndpointsInput => ({
  tenant,
  namespace,
  name,
  subsets: [
    {
      addresses: ready.map((ip, i) => ({ ip, targetRef: { name: `${name}-r${i}` } })),
      notReadyAddresses: notReady.map((ip, i) => ({ ip, targetRef: { name: `${name}-n${i}` } })),
      ports,
    },
  ],
});

// A self-signed pair for shop.acme.apps.example and *.shop.acme.apps.example (openssl, valid a century), and
// another key: the table checks pairs and names, not issuers; dates only when it is given the time (nowMs).
const SHOP_CERT = [
  "-----BEGIN CERTIFICATE-----",
  "MIIB1zCCAX6gAwIBAgIUaQunWop6smpqGexcNKAFbDaW1BIwCgYIKoZIzj0EAwIw",
  "ITEfMB0GA1UEAwwWc2hvcC5hY21lLmFwcHMuZXhhbXBsZTAgFw0yNjEyMDQxMzUz",
  "NDZaGA8yMTI2MTExMDEzNTM0NlowITEfMB0GA1UEAwwWc2hvcC5hY21lLmFwcHMu",
  "ZXhhbXBsZTBZMBMGByqGSM49AgEGCCqGSM49AwEHA0IABPEToOAUz8wT8hL9d27t",
  "xD992BxpaUyDyPKD/uwWS9JH/jdNxosK4B53z9WDPnvWANpyNu7oFpYVdd5O3wn2",
  "JrujgZEwgY4wHQYDVR0OBBYEFAslUpluHyfR49lOFLeJboEsXEvQMB8GA1UdIwQY",
  "MBaAFAslUpluHyfR49lOFLeJboEsXEvQMA8GA1UdEwEB/wQFMAMBAf8wOwYDVR0R",
  "BDQwMoIWc2hvcC5hY21lLmFwcHMuZXhhbXBsZYIYKi5zaG9wLmFjbWUuYXBwcy5l",
  "eGFtcGxlMAoGCCqGSM49BAMCA0cAMEQCIBGTZCd4+EFWyBEDEQENlnJwOtFsvDME",
  "N+UJvNC604SEAiBWd6Cn7mxpt+LkBu5XRqTwEO1ZqdXKIEkaOZdlCS3bKA==",
  "-----END CERTIFICATE-----",
].join("\n");
const SHOP_KEY = [
  "-----BEGIN PRIVATE KEY-----",
  "MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgXG9l1grw4u2vKsH9",
  "HK5CtvknkVvYdz3VALKjWfGXnVGhRANCAATxE6DgFM/ME/IS/Xdu7cQ/fdgcaWlM",
  "g8jyg/7sFkvSR/43TcaLCuAed8/Vgz571gDacjbu6BaWFXXeTt8J9ia7",
  "-----END PRIVATE KEY-----",
].join("\n");
const OTHER_KEY = [
  "-----BEGIN PRIVATE KEY-----",
  "MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgzMMqfsq7PHB8rpNX",
  "NVo3akTPasStKJ3svdyO9TSR1F6hRANCAASm1WzsrAmeVfxRn+D8wfKputWTjB09",
  "3PVl5gCq9AHzquQta0hsYJKwZBYjhItFzN0BWhaILIFGYm+0wBL+KPoX",
  "-----END PRIVATE KEY-----",
].join("\n");
const SHOP_FINGERPRINT =
  "FB:14:1F:87:7F:D0:CF:69:44:98:0D:1E:5B:FC:4B:23:20:81:70:7F:87:FA:B6:9B:55:EF:3A:C8:03:45:37:89";
const b64 = (text: string) => Buffer.from(text, "utf8").toString("base64");
const tlsSecret = (tenant: string, name: string, cert: string, key: string, namespace = "default"): SecretInput => ({
  tenant,
  namespace,
  name,
  type: "kubernetes.io/tls",
  data: { "tls.crt": b64(cert), "tls.key": b64(key) },
});

const backend = (name: string, port: { number?: number; name?: string }) => ({ service: { name, port } });

const ing = (tenant: string, name: string, spec: IngressInput["spec"], namespace = "default"): IngressInput => ({
  tenant,
  namespace,
  name,
  spec,
});

const rule = (host: string, paths: { path?: string; pathType: string; service: string; port: number | string }[]) => ({
  host,
  http: {
    paths: paths.map((p) => ({
      ...(p.path !== undefined ? { path: p.path } : {}),
      pathType: p.pathType,
      backend: backend(p.service, typeof p.port === "number" ? { number: p.port } : { name: p.port }),
    })),
  },
});

describe("route table rules", () => {
  it("a named Ingress port resolves to the Service port of that name, and its servers to the endpoint port", () => {
    const table = buildRouteTable({
      ingresses: [
        ing("acme", "web", {
          rules: [rule("web.acme.apps.example", [{ path: "/", pathType: "Prefix", service: "web", port: "http" }])],
        }),
      ],
      services: [
        svc("acme", "web", [
          { name: "admin", port: 9000 },
          { name: "http", port: 80, targetPort: "web" },
        ]),
      ],
      endpoints: [
        eps(
          "acme",
          "web",
          [
            { name: "admin", port: 9001 },
            { name: "http", port: 8080 },
          ],
          ["10.0.0.2", "10.0.0.1"],
        ),
      ],
    });
    expect(table.frontends).toHaveLength(1);
    expect(table.frontends[0]?.routes[0]).toMatchObject({
      path: "/",
      pathType: "Prefix",
      backend: "acme.default.web.80",
    });
    expect(table.backends).toEqual([
      {
        name: "acme.default.web.80",
        tenant: "acme",
        namespace: "default",
        service: "web",
        port: 80,
        servers: [
          { name: "web-r1", address: "10.0.0.1", port: 8080, state: "ready" },
          { name: "web-r0", address: "10.0.0.2", port: 8080, state: "ready" },
        ],
      },
    ]);
  });

  it("a port number names the Service port; a missing port or Service leaves the route without a backend, with a reason", () => {
    const table = buildRouteTable({
      ingresses: [
        ing("acme", "web", {
          rules: [
            rule("web.acme.apps.example", [
              { path: "/a", pathType: "Prefix", service: "web", port: 81 },
              { path: "/b", pathType: "Prefix", service: "gone", port: 80 },
              { path: "/c", pathType: "Prefix", service: "web", port: "nope" },
            ]),
          ],
        }),
      ],
      services: [svc("acme", "web", [{ port: 80 }])],
      endpoints: [],
    });
    const routes = table.frontends[0]?.routes ?? [];
    expect(routes.map((r) => [r.path, r.backend, r.reason])).toEqual([
      ["/a", null, 'service "web" has no port 81'],
      ["/b", null, 'service "gone" not found'],
      ["/c", null, 'service "web" has no port named "nope"'],
    ]);
    expect(table.backends).toEqual([]);
  });

  it("a Service of another tenant or namespace is not found", () => {
    const table = buildRouteTable({
      ingresses: [
        ing("acme", "web", {
          rules: [rule("a.acme.apps.example", [{ pathType: "Prefix", path: "/", service: "web", port: 80 }])],
        }),
      ],
      services: [svc("globex", "web", [{ port: 80 }]), svc("acme", "web", [{ port: 80 }], "other")],
      endpoints: [],
    });
    expect(table.frontends[0]?.routes[0]?.reason).toBe('service "web" not found');
  });

  it("Exact before Prefix, the longest path first, the default backend last; ImplementationSpecific is a prefix", () => {
    const table = buildRouteTable({
      ingresses: [
        ing("acme", "web", {
          defaultBackend: backend("web", { number: 80 }),
          rules: [
            rule("h.acme.apps.example", [
              { path: "/", pathType: "Prefix", service: "web", port: 80 },
              { path: "/api", pathType: "Prefix", service: "web", port: 80 },
              { path: "/api", pathType: "Exact", service: "web", port: 80 },
              { path: "/api/v1", pathType: "Prefix", service: "web", port: 80 },
              { path: "/x", pathType: "Exact", service: "web", port: 80 },
              { pathType: "ImplementationSpecific", service: "web", port: 80 },
            ]),
          ],
        }),
      ],
      services: [svc("acme", "web", [{ port: 80 }])],
      endpoints: [],
    });
    const routes = table.frontends[0]?.routes ?? [];
    expect(routes.map((r) => `${r.pathType} ${r.path}${r.default ? " (default)" : ""}`)).toEqual([
      "Exact /api",
      "Exact /x",
      "Prefix /api/v1",
      "Prefix /api",
      "Prefix /",
      "Prefix / (default)",
    ]);
    // The ImplementationSpecific "" is the same route as Prefix "/": the second is reported, not routed.
    expect(table.problems.map((p) => p.reason)).toEqual(["the same path is routed by Ingress default/web"]);
  });

  it("a defaultBackend serves the Ingress's own hosts only; a rule without a host is not routed", () => {
    const table = buildRouteTable({
      ingresses: [
        ing("acme", "catchall", {
          defaultBackend: backend("web", { number: 80 }),
          rules: [{ http: { paths: [{ path: "/", pathType: "Prefix", backend: backend("web", { number: 80 }) }] } }],
        }),
      ],
      services: [svc("acme", "web", [{ port: 80 }])],
      endpoints: [],
    });
    expect(table.frontends).toEqual([]);
    expect(table.backends).toEqual([]);
    expect(table.problems.map((p) => p.reason)).toEqual([
      "a defaultBackend is routed on the Ingress's own hosts, and it names none",
      "a rule without a host is not routed: name a host",
    ]);
  });

  it("wildcard hosts come after exact ones, the more specific first; TLS names the tenant's secret", () => {
    const paths = [{ path: "/", pathType: "Prefix", service: "web", port: 80 }];
    const table = buildRouteTable({
      ingresses: [
        ing("acme", "web", {
          tls: [{ hosts: ["shop.acme.apps.example"], secretName: "shop-cert" }, { hosts: ["*.acme.apps.example"] }],
          rules: [
            rule("*.acme.apps.example", paths),
            rule("*.eu.acme.apps.example", paths),
            rule("shop.acme.apps.example", paths),
            rule("a.acme.apps.example", paths),
          ],
        }),
      ],
      services: [svc("acme", "web", [{ port: 80 }])],
      endpoints: [],
    });
    expect(table.frontends.map((f) => [f.host, f.wildcard, f.tls, f.certificate])).toEqual([
      ["a.acme.apps.example", false, false, null],
      ["shop.acme.apps.example", false, true, "acme/default/shop-cert"],
      ["*.eu.acme.apps.example", true, false, null],
      ["*.acme.apps.example", true, true, null],
    ]);
  });

  it("not-ready endpoints are draining servers", () => {
    const table = buildRouteTable({
      ingresses: [
        ing("acme", "web", {
          rules: [rule("a.acme.apps.example", [{ path: "/", pathType: "Prefix", service: "web", port: 80 }])],
        }),
      ],
      services: [svc("acme", "web", [{ port: 80, targetPort: 8080 }])],
      endpoints: [eps("acme", "web", [{ port: 8080 }], ["10.0.0.1"], ["10.0.0.9"])],
    });
    expect(table.backends[0]?.servers.map((s) => [s.address, s.port, s.state])).toEqual([
      ["10.0.0.1", 8080, "ready"],
      ["10.0.0.9", 8080, "draining"],
    ]);
  });

  it("endpoints are reached as `reach` says: elsewhere, or left out when they cannot be", () => {
    const input: RoutingInput = {
      ingresses: [
        ing("acme", "web", {
          rules: [rule("a.acme.apps.example", [{ path: "/", pathType: "Prefix", service: "web", port: 80 }])],
        }),
      ],
      services: [svc("acme", "web", [{ port: 80, targetPort: 8080 }])],
      endpoints: [eps("acme", "web", [{ port: 8080 }], ["10.0.0.1", "10.0.0.2", "10.0.0.3"])],
    };
    const reached = buildRouteTable({
      ...input,
      reach: (source, address, port) => {
        expect(source).toMatchObject({ tenant: "acme", namespace: "default", name: "web" });
        if (address.ip === "10.0.0.2") return { address: "192.0.2.7", port: 31_002 };
        if (address.ip === "10.0.0.3") return undefined;
        return { address: address.ip, port };
      },
    });
    expect(reached.backends[0]?.servers.map((s) => [s.name, s.address, s.port])).toEqual([
      ["web-r0", "10.0.0.1", 8080],
      ["web-r1", "192.0.2.7", 31_002],
    ]);
    expect(reached.version).not.toBe(buildRouteTable(input).version);
  });

  it("a host is served for its claim holder only; unclaimed and named by two tenants, for neither", () => {
    const paths = [{ path: "/", pathType: "Prefix", service: "web", port: 80 }];
    const input: RoutingInput = {
      ingresses: [
        ing("acme", "web", { rules: [rule("shared.example", paths), rule("open.example", paths)] }),
        ing("globex", "web", { rules: [rule("shared.example", paths), rule("open.example", paths)] }),
      ],
      services: [svc("acme", "web", [{ port: 80 }]), svc("globex", "web", [{ port: 80 }])],
      endpoints: [],
      claims: { "shared.example": "globex" },
    };
    const table = buildRouteTable(input);
    expect(table.frontends.map((f) => [f.host, f.tenant, f.routes.map((r) => r.backend)])).toEqual([
      ["shared.example", "globex", ["globex.default.web.80"]],
    ]);
    expect(table.backends.map((b) => b.name)).toEqual(["globex.default.web.80"]);
    expect(table.problems.filter((p) => p.ingress.tenant === "acme").map((p) => p.host)).toEqual([
      "open.example",
      "shared.example",
    ]);
    const acme = tenantView(table, "acme");
    expect(acme.frontends).toEqual([]);
    expect(acme.problems).toHaveLength(2);
    expect(tenantView(table, "globex").frontends).toHaveLength(1);
  });

  it("backend names are safe for HAProxy and unambiguous", () => {
    expect(backendName("acme", "my-ns", "web-1", 8080)).toMatch(/^[A-Za-z0-9_.:-]+$/);
    expect(backendName("a", "b-c", "d", 1)).not.toBe(backendName("a-b", "c", "d", 1));
  });

  it("the version changes with the content and only with it", () => {
    const input: RoutingInput = {
      ingresses: [
        ing("acme", "web", {
          rules: [rule("a.acme.apps.example", [{ path: "/", pathType: "Prefix", service: "web", port: 80 }])],
        }),
      ],
      services: [svc("acme", "web", [{ port: 80 }])],
      endpoints: [eps("acme", "web", [{ port: 80 }], ["10.0.0.1"])],
    };
    const before = buildRouteTable(input);
    expect(buildRouteTable(structuredClone(input)).version).toBe(before.version);
    const churned = buildRouteTable({ ...input, endpoints: [eps("acme", "web", [{ port: 80 }], ["10.0.0.2"])] });
    expect(churned.version).not.toBe(before.version);
  });
});

function shuffle<T>(items: readonly T[], rng: Rng): T[] {
  const out = [...items];
  for (let i = out.length - 1; i > 0; i--) {
    const j = rng.int(i + 1);
    [out[i], out[j]] = [out[j] as T, out[i] as T];
  }
  return out;
}

/** A random world of tenants, Services with named and numbered ports, endpoints, and Ingresses that overlap. */
function randomInput(rng: Rng): RoutingInput {
  const tenants = ["acme", "globex", "initech"];
  const services: ServiceInput[] = [];
  const endpoints: EndpointsInput[] = [];
  const ingresses: IngressInput[] = [];
  for (const tenant of tenants) {
    for (let s = 0; s < 3; s++) {
      services.push(
        svc(tenant, `svc${s}`, [
          { name: "http", port: 80 },
          { name: "admin", port: 9000 + s },
        ]),
      );
      const ips = Array.from({ length: rng.int(4) }, () => `10.${rng.int(4)}.0.${rng.int(250)}`);
      endpoints.push(
        eps(
          tenant,
          `svc${s}`,
          [
            { name: "http", port: 8080 },
            { name: "admin", port: 9090 },
          ],
          ips,
          ips.slice(0, 1),
        ),
      );
    }
    for (let i = 0; i < 4; i++) {
      const rules = Array.from({ length: 1 + rng.int(3) }, () =>
        rule(rng.int(3) === 0 ? "shared.example" : `h${rng.int(4)}.${tenant}.apps.example`, [
          {
            path: ["/", "/api", "/api/v1", "/x"][rng.int(4)] as string,
            pathType: ["Exact", "Prefix", "ImplementationSpecific"][rng.int(3)] as string,
            service: `svc${rng.int(4)}`,
            port: rng.int(2) === 0 ? "http" : 80,
          },
        ]),
      );
      ingresses.push(
        ing(tenant, `ing${i}`, {
          rules,
          ...(rng.int(2) === 0 ? { defaultBackend: backend("svc0", { name: "admin" }) } : {}),
          ...(rng.int(2) === 0 ? { tls: [{ secretName: `cert${i}` }] } : {}),
        }),
      );
    }
  }
  return { ingresses, services, endpoints, claims: { "shared.example": tenants[rng.int(3)] as string } };
}

/** The same objects in another order: lists shuffled, and the addresses inside each endpoints subset too. */
function reordered(input: RoutingInput, rng: Rng): RoutingInput {
  return {
    ingresses: shuffle(input.ingresses, rng),
    services: shuffle(input.services, rng),
    endpoints: shuffle(input.endpoints, rng).map((e) => ({
      ...e,
      subsets: e.subsets.map((s) => ({
        ...s,
        addresses: shuffle(s.addresses ?? [], rng),
        notReadyAddresses: shuffle(s.notReadyAddresses ?? [], rng),
      })),
    })),
    claims: Object.fromEntries(shuffle(Object.entries(input.claims ?? {}), rng)),
  };
}

describe("route table properties (seeded)", () => {
  it.each([1, 2, 3, 4, 5, 6, 7, 8])("seed %i: the order of the inputs never changes the table", (seed) => {
    const rng = seededRng(`routing-${seed}`);
    const input = randomInput(rng.fork("world"));
    const expected = canonicalJson(buildRouteTable(input));
    const shuffler = rng.fork("shuffle");
    for (let round = 0; round < 20; round++) {
      expect(canonicalJson(buildRouteTable(reordered(input, shuffler))), `seed ${seed}, round ${round}`).toBe(expected);
    }
  });

  it.each([11, 12, 13, 14])("seed %i: every frontend's routes are in match order and every backend is used", (seed) => {
    const table = buildRouteTable(randomInput(seededRng(`routing-${seed}`)));
    const used = new Set(table.frontends.flatMap((f) => f.routes.map((r) => r.backend)));
    expect(table.backends.every((b) => used.has(b.name))).toBe(true);
    for (const frontend of table.frontends) {
      const ranks = frontend.routes.map((r) => [r.default ? 1 : 0, r.pathType === "Exact" ? 0 : 1, -r.path.length]);
      const sorted = [...ranks].sort(
        (a, b) => (a[0] ?? 0) - (b[0] ?? 0) || (a[1] ?? 0) - (b[1] ?? 0) || (a[2] ?? 0) - (b[2] ?? 0),
      );
      expect(ranks).toEqual(sorted);
      // One tenant per host.
      expect(new Set(frontend.routes.map((r) => r.ingress.tenant))).toEqual(new Set([frontend.tenant]));
    }
  });
});

describe("tenant certificates", () => {
  const paths = [{ path: "/", pathType: "Prefix", service: "web", port: 80 }];
  const secured = (hosts: string[], secrets: SecretInput[], namespace = "default", nowMs?: number) =>
    buildRouteTable({
      ...(nowMs !== undefined ? { nowMs } : {}),
      ingresses: [
        ing(
          "acme",
          "web",
          { tls: [{ hosts, secretName: "shop-cert" }], rules: hosts.map((h) => rule(h, paths)) },
          namespace,
        ),
      ],
      services: [svc("acme", "web", [{ port: 80 }], namespace)],
      endpoints: [],
      secrets,
    });
  const certOf = (table: RouteTable) =>
    table.frontends.map((f) => [f.host, f.certificate, f.certificateFingerprint ?? null, f.certificateProblem ?? null]);

  it("vouches for a Secret whose key matches and whose names cover the host, by fingerprint only", () => {
    const table = secured(
      ["shop.acme.apps.example", "x.shop.acme.apps.example"],
      [tlsSecret("acme", "shop-cert", SHOP_CERT, SHOP_KEY)],
    );
    expect(certOf(table)).toEqual([
      ["x.shop.acme.apps.example", "acme/default/shop-cert", SHOP_FINGERPRINT, null],
      ["shop.acme.apps.example", "acme/default/shop-cert", SHOP_FINGERPRINT, null],
    ]);
    // The table is printed to the operator: no key material in it.
    expect(canonicalJson(table)).not.toContain("PRIVATE KEY");
    expect(canonicalJson(table)).not.toContain(b64(SHOP_KEY).slice(0, 40));
  });

  it("serves the platform's certificate instead of one expired or not yet valid, when judged by date", () => {
    const judged = (at: string) =>
      certOf(
        secured(
          ["shop.acme.apps.example"],
          [tlsSecret("acme", "shop-cert", SHOP_CERT, SHOP_KEY)],
          "default",
          Date.parse(at),
        ),
      )[0];
    const cert = new X509Certificate(SHOP_CERT);
    expect(judged("2027-01-01T00:00:00Z")).toEqual([
      "shop.acme.apps.example",
      "acme/default/shop-cert",
      SHOP_FINGERPRINT,
      null,
    ]);
    expect(judged("2127-01-01T00:00:00Z")?.slice(2)).toEqual([null, `the certificate expired on ${cert.validTo}`]);
    expect(judged("2026-01-01T00:00:00Z")?.slice(2)).toEqual([
      null,
      `the certificate is valid only from ${cert.validFrom}`,
    ]);
  });

  it("says why the platform's certificate is served: missing, another tenant's, wrong key, names, type", () => {
    const problem = (hosts: string[], secrets: SecretInput[]) => certOf(secured(hosts, secrets))[0]?.[3];
    const shop = ["shop.acme.apps.example"];
    expect(problem(shop, [])).toBe("the secret was not found");
    // Same name, another tenant or namespace: never used.
    expect(problem(shop, [tlsSecret("globex", "shop-cert", SHOP_CERT, SHOP_KEY)])).toBe("the secret was not found");
    expect(problem(shop, [tlsSecret("acme", "shop-cert", SHOP_CERT, SHOP_KEY, "other")])).toBe(
      "the secret was not found",
    );
    expect(problem(shop, [tlsSecret("acme", "shop-cert", SHOP_CERT, OTHER_KEY)])).toBe(
      "tls.key does not match tls.crt",
    );
    expect(problem(shop, [tlsSecret("acme", "shop-cert", SHOP_CERT, "not a key")])).toBe(
      "tls.key is not a PEM private key",
    );
    expect(problem(shop, [tlsSecret("acme", "shop-cert", "garbage", SHOP_KEY)])).toBe(
      "tls.crt is not a PEM certificate",
    );
    expect(problem(["a.b.shop.acme.apps.example"], [tlsSecret("acme", "shop-cert", SHOP_CERT, SHOP_KEY)])).toBe(
      "the certificate does not name a.b.shop.acme.apps.example",
    );
    expect(problem(shop, [{ ...tlsSecret("acme", "shop-cert", SHOP_CERT, SHOP_KEY), type: "Opaque" }])).toBe(
      "the secret is of type Opaque, not kubernetes.io/tls",
    );
    expect(certOf(secured(shop, []))[0]?.[2]).toBeNull();
  });

  it("changes the version when the tenant's certificate changes", () => {
    const shop = ["shop.acme.apps.example"];
    const good = secured(shop, [tlsSecret("acme", "shop-cert", SHOP_CERT, SHOP_KEY)]);
    const bad = secured(shop, [tlsSecret("acme", "shop-cert", SHOP_CERT, OTHER_KEY)]);
    expect(good.version).not.toBe(bad.version);
  });
});
