import { describe, expect, it } from "vitest";
import { replicationControllerDoc, withField } from "./fixtures.js";
import { errorsOf, manifestOfKind } from "./testing.js";

const controllerOf = (doc: unknown) => manifestOfKind(doc, "ReplicationController");

describe("ReplicationController", () => {
  it("validates with Kubernetes' defaults", () => {
    const controller = controllerOf(replicationControllerDoc());
    expect(controller.spec.replicas).toBe(1);
    expect(controller.spec.selector).toEqual({ app: "web" });
    expect(controller.spec.template.spec.restartPolicy).toBe("Always");
  });

  it("takes the selector, and the object's labels, from the template when absent", () => {
    let doc = withField(replicationControllerDoc(), "spec.selector", undefined);
    doc = withField(doc, "spec.template.metadata.labels.tier", "frontend");
    const controller = controllerOf(doc);
    expect(controller.spec.selector).toEqual({ app: "web", tier: "frontend" });
    expect(controller.metadata.labels).toEqual({ app: "web", tier: "frontend" });
    const labelled = controllerOf(withField(doc, "metadata.labels", { team: "shop" }));
    expect(labelled.metadata.labels).toEqual({ team: "shop" });
  });

  it("takes a plain equality map, not matchLabels", () => {
    const doc = withField(replicationControllerDoc(), "spec.selector", { matchLabels: { app: "web" } });
    expect(errorsOf(doc)).toEqual([{ path: "spec.selector.matchLabels", message: "must be a string" }]);
  });

  it("refuses a selector that does not match the template labels", () => {
    expect(errorsOf(withField(replicationControllerDoc(), "spec.selector", { app: "api" }))).toEqual([
      { path: "spec.template.metadata.labels", message: "selector does not match template labels" },
    ]);
  });

  it("needs a selector from somewhere", () => {
    let doc = withField(replicationControllerDoc(), "spec.selector", undefined);
    doc = withField(doc, "spec.template.metadata", undefined);
    expect(errorsOf(doc)).toEqual([
      { path: "spec.selector", message: "required when the template has no labels to take it from" },
    ]);
  });

  it("reports unknown fields at their path", () => {
    expect(errorsOf(withField(replicationControllerDoc(), "spec.template.spec.containers.0.imag", "x"))).toEqual([
      { path: "spec.template.spec.containers[0].imag", message: 'unknown field "imag"' },
    ]);
  });
});
