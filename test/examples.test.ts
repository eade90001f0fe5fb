import { readdirSync, readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { parseManifests } from "../src/manifest/index.js";

const dir = new URL("../examples/", import.meta.url);

describe("examples/ (what the README tour applies)", () => {
  it.each(readdirSync(dir).filter((f) => f.endsWith(".yaml") && f !== "typo.yaml"))("%s is valid", (file) => {
    const parsed = parseManifests(readFileSync(new URL(file, dir), "utf8"), "yaml");
    expect(parsed.ok ? [] : parsed.errors).toEqual([]);
  });

  it("typo.yaml is refused with the path of the misspelt field", () => {
    const parsed = parseManifests(readFileSync(new URL("typo.yaml", dir), "utf8"), "yaml");
    expect(parsed.ok).toBe(false);
    if (!parsed.ok) expect(parsed.errors.map((e) => e.path)).toContain("spec.template.spec.containers[0].imag");
  });
});
