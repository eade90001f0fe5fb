import { describe, expect, it } from "vitest";
import { applyDefaults } from "./defaults.js";
import * as fixtures from "./fixtures.js";
import { KINDS, kindInfo, OPERATOR_KINDS, SUPPORTED_KINDS } from "./kinds.js";
import { KIND_SCHEMAS } from "./schemas.js";
import { validateManifest } from "./validate.js";

const DOCS = Object.entries(fixtures)
  .filter(([name]) => name.endsWith("Doc"))
  .map(([name, make]) => [name, (make as () => Record<string, unknown>)()] as const);

describe("kind registry", () => {
  it("lists every kind that has a schema, once", () => {
    const kinds = KINDS.map((info) => info.kind);
    expect(new Set(kinds).size).toBe(kinds.length);
    expect([...kinds].sort()).toEqual(Object.keys(KIND_SCHEMAS).sort());
    expect(SUPPORTED_KINDS).toEqual(KINDS.map(({ kind, apiVersion }) => ({ kind, apiVersion })));
  });

  it("describes each kind as kubectl knows it", () => {
    expect(kindInfo("StatefulSet")).toEqual({
      kind: "StatefulSet",
      apiVersion: "apps/v1",
      plural: "statefulsets",
      shortNames: ["sts"],
      namespaced: true,
    });
    expect(kindInfo("App")).toMatchObject({ apiVersion: "kubernease.dev/v1", plural: "apps", namespaced: true });
    expect(kindInfo("Namespace")?.namespaced).toBe(false);
    expect(KINDS.filter((info) => !info.namespaced).map((info) => info.kind)).toEqual(["Namespace"]);
    expect(kindInfo("StorageClass")).toBeUndefined();
  });

  it("keeps plurals and short names unambiguous", () => {
    const names = KINDS.flatMap((info) => [info.plural, ...info.shortNames]);
    expect(new Set(names).size).toBe(names.length);
  });

  it("never both supports and refuses a kind", () => {
    expect(OPERATOR_KINDS.filter((kind) => kindInfo(kind))).toEqual([]);
  });
});

describe("every kind's fixture", () => {
  it("covers every supported kind", () => {
    expect(new Set(DOCS.map(([, doc]) => doc.kind))).toEqual(new Set(KINDS.map((info) => info.kind)));
  });

  it.each(DOCS)("%s validates, and its defaults are stable under a second validation", (_name, doc) => {
    const first = validateManifest(doc);
    if (!first.ok) throw new Error(JSON.stringify(first.errors));
    expect(applyDefaults(first.manifest)).toEqual(first.manifest);
    const second = validateManifest(first.manifest);
    expect(second.ok && second.manifest).toEqual(first.manifest);
  });

  it.each(DOCS)("%s reports an unknown top-level field at its path", (_name, doc) => {
    const result = validateManifest({ ...doc, extra: 1 });
    expect(!result.ok && result.errors).toEqual([{ path: "extra", message: 'unknown field "extra"' }]);
  });
});
