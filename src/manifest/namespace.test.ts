import { describe, expect, it } from "vitest";
import { namespaceDoc, withField } from "./fixtures.js";
import { errorsOf, manifestOfKind } from "./testing.js";

const namespaceOf = (doc: unknown) => manifestOfKind(doc, "Namespace");

describe("Namespace", () => {
  it("validates, labelled with its name as Kubernetes does", () => {
    const namespace = namespaceOf(withField(namespaceDoc(), "metadata.labels", { team: "shop" }));
    expect(namespace.metadata.labels).toEqual({ team: "shop", "kubernetes.io/metadata.name": "shop" });
    expect(namespaceOf(withField(namespaceDoc(), "spec.finalizers", ["kubernetes"])).spec).toEqual({
      finalizers: ["kubernetes"],
    });
  });

  it("takes a DNS label as its name, and not a reserved one", () => {
    expect(errorsOf(withField(namespaceDoc(), "metadata.name", "shop.eu"))[0]?.path).toBe("metadata.name");
    expect(errorsOf(withField(namespaceDoc(), "metadata.name", "kube-system"))).toEqual([
      { path: "metadata.name", message: "is reserved for the platform" },
    ]);
  });

  it("is not inside a namespace", () => {
    expect(errorsOf(withField(namespaceDoc(), "metadata.namespace", "default"))).toEqual([
      { path: "metadata.namespace", message: "may not be set: a Namespace is not inside a namespace" },
    ]);
  });

  it("reports unknown fields", () => {
    expect(errorsOf(withField(namespaceDoc(), "spec.finalizer", []))).toEqual([
      { path: "spec.finalizer", message: 'unknown field "finalizer"' },
    ]);
  });
});
