import { describe, expect, it } from "vitest";
import { pdbDoc, withField } from "./fixtures.js";
import { errorsOf, manifestOfKind } from "./testing.js";

const budgetOf = (doc: unknown) => manifestOfKind(doc, "PodDisruptionBudget");

describe("PodDisruptionBudget", () => {
  it("validates a floor or a ceiling, as a count or a percentage", () => {
    expect(budgetOf(pdbDoc()).spec).toEqual({ minAvailable: 1, selector: { matchLabels: { app: "web" } } });
    let doc = withField(pdbDoc(), "spec.minAvailable", undefined);
    doc = withField(doc, "spec.maxUnavailable", "25%");
    doc = withField(doc, "spec.unhealthyPodEvictionPolicy", "AlwaysAllow");
    expect(budgetOf(doc).spec).toMatchObject({ maxUnavailable: "25%", unhealthyPodEvictionPolicy: "AlwaysAllow" });
  });

  it("refuses both minAvailable and maxUnavailable", () => {
    expect(errorsOf(withField(pdbDoc(), "spec.maxUnavailable", 1))).toEqual([
      { path: "spec.maxUnavailable", message: "may not be set together with minAvailable" },
    ]);
  });

  it("requires one of them", () => {
    expect(errorsOf(withField(pdbDoc(), "spec.minAvailable", undefined))).toEqual([
      { path: "spec", message: "must set one of minAvailable or maxUnavailable" },
    ]);
  });

  it("checks the values and names unknown fields", () => {
    expect(errorsOf(withField(pdbDoc(), "spec.minAvailable", "150%"))).toEqual([
      { path: "spec.minAvailable", message: "must not be more than 100%" },
    ]);
    expect(errorsOf(withField(pdbDoc(), "spec.minAvailable", -1))[0]?.path).toBe("spec.minAvailable");
    expect(errorsOf(withField(pdbDoc(), "spec.unhealthyPodEvictionPolicy", "Never"))[0]?.path).toBe(
      "spec.unhealthyPodEvictionPolicy",
    );
    expect(errorsOf(withField(pdbDoc(), "spec.minAvailble", 1))).toContainEqual({
      path: "spec.minAvailble",
      message: 'unknown field "minAvailble"',
    });
  });
});
