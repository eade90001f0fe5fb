import { describe, expect, it } from "vitest";
import { ingressDoc, withField } from "./fixtures.js";
import { errorsOf, manifestOfKind } from "./testing.js";

const ingressOf = (doc: unknown) => manifestOfKind(doc, "Ingress");
const PATH = "spec.rules.0.http.paths.0";

describe("Ingress", () => {
  it("validates a host and path rule", () => {
    const { spec } = ingressOf(ingressDoc());
    expect(spec.rules?.[0]?.http?.paths[0]).toEqual({
      path: "/",
      pathType: "Prefix",
      backend: { service: { name: "web", port: { number: 80 } } },
    });
  });

  it("requires Exact and Prefix paths to start with a slash", () => {
    expect(errorsOf(withField(ingressDoc(), `${PATH}.path`, "api"))).toEqual([
      { path: "spec.rules[0].http.paths[0].path", message: 'must start with "/" for pathType Prefix' },
    ]);
    expect(errorsOf(withField(ingressDoc(), `${PATH}.path`, undefined))[0]?.path).toBe(
      "spec.rules[0].http.paths[0].path",
    );
    expect(errorsOf(withField(ingressDoc(), `${PATH}.path`, "/a//b"))).toEqual([
      { path: "spec.rules[0].http.paths[0].path", message: 'must not contain "//"' },
    ]);
  });

  it("lets ImplementationSpecific paths be empty or free-form after the slash", () => {
    let doc = withField(ingressDoc(), `${PATH}.pathType`, "ImplementationSpecific");
    expect(ingressOf(withField(doc, `${PATH}.path`, undefined)).kind).toBe("Ingress");
    doc = withField(doc, `${PATH}.path`, "/api(/|$)(.*)");
    expect(ingressOf(doc).spec.rules?.[0]?.http?.paths[0]?.path).toBe("/api(/|$)(.*)");
  });

  it("requires a pathType", () => {
    expect(errorsOf(withField(ingressDoc(), `${PATH}.pathType`, undefined))).toEqual([
      { path: "spec.rules[0].http.paths[0].pathType", message: "required" },
    ]);
  });

  it("takes DNS names as hosts, with a wildcard first label", () => {
    expect(ingressOf(withField(ingressDoc(), "spec.rules.0.host", "*.shop.example.com")).kind).toBe("Ingress");
    for (const host of ["shop.*.example.com", "Shop.example.com", "*", "10.0.0.1"]) {
      expect(errorsOf(withField(ingressDoc(), "spec.rules.0.host", host))[0]?.path).toBe("spec.rules[0].host");
    }
    expect(errorsOf(withField(ingressDoc(), "spec.rules.0.host", "10.0.0.1"))[0]?.message).toBe(
      "must be a DNS name, not an IP address",
    );
  });

  it("requires rules or a default backend", () => {
    const noRules = withField(ingressDoc(), "spec.rules", undefined);
    expect(errorsOf(noRules)).toEqual([{ path: "spec.rules", message: "required when there is no defaultBackend" }]);
    const backend = { service: { name: "web", port: { name: "http" } } };
    expect(ingressOf(withField(noRules, "spec.defaultBackend", backend)).spec.defaultBackend).toEqual(backend);
  });

  it("takes exactly one backend and one port form", () => {
    const both = { number: 80, name: "http" };
    expect(errorsOf(withField(ingressDoc(), `${PATH}.backend.service.port`, both))).toEqual([
      {
        path: "spec.rules[0].http.paths[0].backend.service.port",
        message: "must specify only one service port; found number, name",
      },
    ]);
    const resource = { apiGroup: "k8s.example.com", kind: "StorageBucket", name: "assets" };
    expect(ingressOf(withField(ingressDoc(), `${PATH}.backend`, { resource })).kind).toBe("Ingress");
    expect(errorsOf(withField(ingressDoc(), `${PATH}.backend`, {}))[0]?.message).toBe(
      "must specify one backend: service, resource",
    );
  });

  it("reports unknown fields at their path, and accepts TLS and a class", () => {
    expect(errorsOf(withField(ingressDoc(), `${PATH}.backend.service.port.numbr`, 80))).toContainEqual({
      path: "spec.rules[0].http.paths[0].backend.service.port.numbr",
      message: 'unknown field "numbr"',
    });
    let doc = withField(ingressDoc(), "spec.tls", [{ hosts: ["shop.example.com"], secretName: "shop-tls" }]);
    doc = withField(doc, "spec.ingressClassName", "public");
    expect(ingressOf(doc).spec.tls).toHaveLength(1);
  });

  it("takes only a Secret's name as a TLS secretName: it reaches the proxy's configuration", () => {
    const hostile = "shop-tls.pem\n  use_backend other\n#";
    const errors = errorsOf(
      withField(ingressDoc(), "spec.tls", [{ hosts: ["shop.example.com"], secretName: hostile }]),
    );
    expect(errors.map((e) => e.path)).toContain("spec.tls[0].secretName");
  });
});
