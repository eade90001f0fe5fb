import { describe, expect, it } from "vitest";
import { allowanceFor, describeAllowance, hostsOf, isAllowed, isDomainPattern, ruleHosts } from "./hosts.js";

describe("host allowance", () => {
  const acme = allowanceFor("acme", "apps.example", ["shop.example.com", "*.example.org"]);

  it("the tenant's own suffix, at any depth, wildcards included", () => {
    for (const host of ["acme.apps.example", "a.acme.apps.example", "x.y.acme.apps.example", "*.acme.apps.example"]) {
      expect(isAllowed(host, acme), host).toBe(true);
    }
  });

  it("never another tenant's suffix, the base domain, or a look-alike", () => {
    for (const host of [
      "globex.apps.example",
      "a.globex.apps.example",
      "apps.example",
      "*.apps.example",
      "xacme.apps.example",
      "acme.apps.example.evil",
    ]) {
      expect(isAllowed(host, acme), host).toBe(false);
    }
  });

  it("approved domains: an exact one allows itself only; a wildcard one allows the names under it, not itself", () => {
    expect(isAllowed("shop.example.com", acme)).toBe(true);
    expect(isAllowed("a.shop.example.com", acme)).toBe(false);
    expect(isAllowed("a.example.org", acme)).toBe(true);
    expect(isAllowed("*.example.org", acme)).toBe(true);
    expect(isAllowed("example.org", acme)).toBe(false);
  });

  it("is described with the suffix, for the refusal", () => {
    expect(describeAllowance(acme)).toBe(
      "*.acme.apps.example (or acme.apps.example itself), shop.example.com, *.example.org",
    );
    expect(describeAllowance(allowanceFor("acme", undefined, []))).toContain("no domain");
  });

  it("hosts of an Ingress spec, with the paths of their fields", () => {
    const spec = { rules: [{ host: "a.example" }, { http: {} }, { host: "b.example" }, { host: "a.example" }] };
    expect(ruleHosts(spec)).toEqual([
      { host: "a.example", path: "spec.rules[0].host" },
      { host: "b.example", path: "spec.rules[2].host" },
      { host: "a.example", path: "spec.rules[3].host" },
    ]);
    expect(hostsOf(spec)).toEqual(["a.example", "b.example"]);
    expect(hostsOf(undefined)).toEqual([]);
  });

  it("domain patterns", () => {
    expect(isDomainPattern("shop.example.com")).toBe(true);
    expect(isDomainPattern("*.example.org")).toBe(true);
    for (const bad of ["", "*.", "Shop.example", "a..b", "-a.example", "a_b.example", "*.*.example", "1.2.3.4.5/x"]) {
      expect(isDomainPattern(bad), bad).toBe(false);
    }
  });
});
