import { describe, expect, it } from "vitest";
import { replicaSetDoc, withField } from "./fixtures.js";
import { errorsOf, manifestOfKind } from "./testing.js";

const replicaSetOf = (doc: unknown) => manifestOfKind(doc, "ReplicaSet");

describe("ReplicaSet", () => {
  it("validates with Kubernetes' defaults", () => {
    const { spec } = replicaSetOf(replicaSetDoc());
    expect(spec.replicas).toBe(1);
    expect(spec.template.spec.terminationGracePeriodSeconds).toBe(30);
    expect(replicaSetOf(withField(replicaSetDoc(), "spec.replicas", 4)).spec.replicas).toBe(4);
  });

  it("reports unknown fields, such as a Deployment's strategy", () => {
    expect(errorsOf(withField(replicaSetDoc(), "spec.strategy", { type: "Recreate" }))).toEqual([
      { path: "spec.strategy", message: 'unknown field "strategy"' },
    ]);
  });

  it("refuses a selector that does not match the template labels", () => {
    const doc = withField(replicaSetDoc(), "spec.selector", {
      matchExpressions: [{ key: "app", operator: "NotIn", values: ["web"] }],
    });
    expect(errorsOf(doc)).toEqual([
      { path: "spec.template.metadata.labels", message: "selector does not match template labels" },
    ]);
  });

  it("requires a template and pods that restart", () => {
    expect(errorsOf(withField(replicaSetDoc(), "spec.template", undefined))).toEqual([
      { path: "spec.template", message: "required" },
    ]);
    expect(errorsOf(withField(replicaSetDoc(), "spec.template.spec.restartPolicy", "OnFailure"))[0]?.message).toBe(
      'must be "Always" for a ReplicaSet',
    );
  });
});
