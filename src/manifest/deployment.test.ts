import { describe, expect, it } from "vitest";
import { deploymentDoc, withField } from "./fixtures.js";
import { validateManifest } from "./validate.js";

function errorsOf(doc: unknown) {
  const result = validateManifest(doc);
  if (result.ok) throw new Error("expected validation errors");
  return result.errors;
}

function deploymentOf(doc: unknown) {
  const result = validateManifest(doc);
  if (!result.ok) throw new Error(JSON.stringify(result.errors));
  if (result.manifest.kind !== "Deployment") throw new Error("expected a Deployment");
  return result.manifest;
}

describe("Deployment", () => {
  it("refuses a selector that does not match the template labels", () => {
    const doc = withField(deploymentDoc(), "spec.selector.matchLabels.app", "api");
    expect(errorsOf(doc)).toEqual([
      { path: "spec.template.metadata.labels", message: "selector does not match template labels" },
    ]);
  });

  it("matches selectors with expressions", () => {
    const selector = { matchExpressions: [{ key: "tier", operator: "In", values: ["frontend", "edge"] }] };
    expect(deploymentOf(withField(deploymentDoc(), "spec.selector", selector)).spec.selector).toEqual(selector);
    const missing = { matchExpressions: [{ key: "tier", operator: "In", values: ["backend"] }] };
    expect(errorsOf(withField(deploymentDoc(), "spec.selector", missing))[0]?.path).toBe(
      "spec.template.metadata.labels",
    );
  });

  it("refuses an empty selector", () => {
    expect(errorsOf(withField(deploymentDoc(), "spec.selector", {}))).toEqual([
      { path: "spec.selector", message: "must not be empty" },
    ]);
  });

  it("checks selector expressions", () => {
    const selector = { matchExpressions: [{ key: "tier", operator: "In" }] };
    expect(errorsOf(withField(deploymentDoc(), "spec.selector", selector))).toEqual([
      { path: "spec.selector.matchExpressions[0].values", message: "must be non-empty for operator In" },
    ]);
  });

  it("requires restartPolicy Always for its pods", () => {
    expect(errorsOf(withField(deploymentDoc(), "spec.template.spec.restartPolicy", "OnFailure"))).toEqual([
      { path: "spec.template.spec.restartPolicy", message: 'must be "Always" for a Deployment' },
    ]);
  });

  it("refuses rollingUpdate parameters on a Recreate strategy", () => {
    const strategy = { type: "Recreate", rollingUpdate: { maxSurge: 1 } };
    expect(errorsOf(withField(deploymentDoc(), "spec.strategy", strategy))).toEqual([
      { path: "spec.strategy.rollingUpdate", message: "may not be set when type is Recreate" },
    ]);
    expect(deploymentOf(withField(deploymentDoc(), "spec.strategy", { type: "Recreate" })).spec.strategy).toEqual({
      type: "Recreate",
    });
  });

  it("accepts counts and percentages for surge and unavailability", () => {
    const strategy = { type: "RollingUpdate", rollingUpdate: { maxSurge: 2, maxUnavailable: "0%" } };
    expect(deploymentOf(withField(deploymentDoc(), "spec.strategy", strategy)).spec.strategy).toEqual(strategy);
    const bad = { rollingUpdate: { maxSurge: "two", maxUnavailable: "150%" } };
    expect(errorsOf(withField(deploymentDoc(), "spec.strategy", bad))).toEqual([
      {
        path: "spec.strategy.rollingUpdate.maxSurge",
        message: 'must be a non-negative integer or a percentage such as "25%"',
      },
      { path: "spec.strategy.rollingUpdate.maxUnavailable", message: "must not be more than 100%" },
    ]);
  });

  it("refuses a rollout that can never progress", () => {
    const strategy = { rollingUpdate: { maxSurge: 0, maxUnavailable: "0%" } };
    expect(errorsOf(withField(deploymentDoc(), "spec.strategy", strategy))).toEqual([
      { path: "spec.strategy.rollingUpdate.maxUnavailable", message: "may not be 0 when maxSurge is 0" },
    ]);
  });

  it("wants the progress deadline after minReadySeconds, default included", () => {
    expect(errorsOf(withField(deploymentDoc(), "spec.minReadySeconds", 600))).toEqual([
      { path: "spec.progressDeadlineSeconds", message: "must be greater than minReadySeconds" },
    ]);
    const doc = withField(withField(deploymentDoc(), "spec.minReadySeconds", 30), "spec.progressDeadlineSeconds", 60);
    expect(deploymentOf(doc).spec.progressDeadlineSeconds).toBe(60);
  });

  it("refuses negative replicas", () => {
    expect(errorsOf(withField(deploymentDoc(), "spec.replicas", -1))).toEqual([
      { path: "spec.replicas", message: "must be greater than or equal to 0" },
    ]);
    expect(deploymentOf(withField(deploymentDoc(), "spec.replicas", 0)).spec.replicas).toBe(0);
  });
});
