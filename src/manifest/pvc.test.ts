import { describe, expect, it } from "vitest";
import { pvcDoc, withField } from "./fixtures.js";
import { errorsOf, manifestOfKind } from "./testing.js";

const claimOf = (doc: unknown) => manifestOfKind(doc, "PersistentVolumeClaim");

describe("PersistentVolumeClaim", () => {
  it("validates with the platform's defaults", () => {
    expect(claimOf(pvcDoc()).spec).toEqual({
      accessModes: ["ReadWriteOnce"],
      resources: { requests: { storage: "5Gi" } },
      storageClassName: "local",
      volumeMode: "Filesystem",
    });
  });

  it("keeps a given class and mode", () => {
    let doc = withField(pvcDoc(), "spec.storageClassName", "network");
    doc = withField(doc, "spec.volumeMode", "Block");
    expect(claimOf(doc).spec).toMatchObject({ storageClassName: "network", volumeMode: "Block" });
  });

  it("refuses a storage class the platform does not have, listing those it has", () => {
    for (const name of ["fast", "", "standard"]) {
      expect(errorsOf(withField(pvcDoc(), "spec.storageClassName", name))).toEqual([
        {
          path: "spec.storageClassName",
          message: `storage class ${JSON.stringify(name)} does not exist; the platform's storage classes are "local" and "network"`,
        },
      ]);
    }
  });

  it("requires access modes, at least one, each a known one", () => {
    expect(errorsOf(withField(pvcDoc(), "spec.accessModes", undefined))).toEqual([
      { path: "spec.accessModes", message: "required" },
    ]);
    expect(errorsOf(withField(pvcDoc(), "spec.accessModes", []))).toEqual([
      { path: "spec.accessModes", message: "must name at least one access mode" },
    ]);
    expect(errorsOf(withField(pvcDoc(), "spec.accessModes", ["ReadWriteAll"]))[0]?.path).toBe("spec.accessModes[0]");
    expect(errorsOf(withField(pvcDoc(), "spec.accessModes", ["ReadWriteOncePod", "ReadOnlyMany"]))).toEqual([
      { path: "spec.accessModes", message: "ReadWriteOncePod may not be combined with other access modes" },
    ]);
  });

  it("requires a positive storage request within its limit", () => {
    expect(errorsOf(withField(pvcDoc(), "spec.resources.requests", {}))).toEqual([
      { path: "spec.resources.requests.storage", message: "required" },
    ]);
    expect(errorsOf(withField(pvcDoc(), "spec.resources.requests.storage", "0"))).toEqual([
      { path: "spec.resources.requests.storage", message: "must be greater than 0" },
    ]);
    expect(errorsOf(withField(pvcDoc(), "spec.resources.requests.storage", "lots"))[0]?.message).toMatch(/quantity/);
    expect(errorsOf(withField(pvcDoc(), "spec.resources.limits.storage", "1Gi"))).toEqual([
      { path: "spec.resources.requests.storage", message: "must be less than or equal to the storage limit (1Gi)" },
    ]);
  });

  it("reports unknown fields at their path", () => {
    expect(errorsOf(withField(pvcDoc(), "spec.resources.requests.cpu", "1"))).toEqual([
      { path: "spec.resources.requests.cpu", message: 'unknown field "cpu"' },
    ]);
    expect(errorsOf(withField(pvcDoc(), "spec.storageClass", "local"))).toEqual([
      { path: "spec.storageClass", message: 'unknown field "storageClass"' },
    ]);
  });

  it("accepts a selector, a volume name and data sources", () => {
    let doc = withField(pvcDoc(), "spec.selector", { matchLabels: { tier: "db" } });
    doc = withField(doc, "spec.volumeName", "pv-1");
    doc = withField(doc, "spec.dataSource", { kind: "PersistentVolumeClaim", name: "seed" });
    doc = withField(doc, "spec.dataSourceRef", { kind: "PersistentVolumeClaim", name: "seed", namespace: "shop" });
    expect(claimOf(doc).spec.volumeName).toBe("pv-1");
    expect(errorsOf(withField(pvcDoc(), "spec.dataSource", { name: "seed" }))).toEqual([
      { path: "spec.dataSource.kind", message: "required" },
    ]);
  });
});
