import { describe, expect, it } from "vitest";
import { blockingBudgets, disruptionStatus } from "./disruption.js";
import { testPod } from "./testkit.js";
import type { PodView } from "./types.js";

const pod = (name: string, ready = true, labels: Record<string, string> = { app: "web" }): PodView =>
  testPod({ id: name, name, labels, phase: "Running", ready });

describe("disruption budgets", () => {
  const pods = [pod("a"), pod("b"), pod("c"), pod("d", false), pod("x", true, { app: "other" })];

  it("counts covered, healthy and allowed disruptions for minAvailable and maxUnavailable (numbers and percentages)", () => {
    const selector = { matchLabels: { app: "web" } };
    expect(disruptionStatus({ name: "p", spec: { selector, minAvailable: 2 } }, pods)).toEqual({
      expectedPods: 4,
      currentHealthy: 3,
      desiredHealthy: 2,
      disruptionsAllowed: 1,
    });
    expect(disruptionStatus({ name: "p", spec: { selector, maxUnavailable: 1 } }, pods).disruptionsAllowed).toBe(0);
    expect(disruptionStatus({ name: "p", spec: { selector, minAvailable: "50%" } }, pods).desiredHealthy).toBe(2);
  });

  it("refuses to evict a ready pod the budget cannot spare, but never an unready one or an uncovered one", () => {
    const tight = [{ name: "tight", spec: { selector: { matchLabels: { app: "web" } }, minAvailable: 3 } }];
    expect(blockingBudgets(pods[0] as PodView, tight, pods)).toEqual(["tight"]);
    expect(blockingBudgets(pods[3] as PodView, tight, pods)).toEqual([]);
    expect(blockingBudgets(pods[4] as PodView, tight, pods)).toEqual([]);
  });

  it("counts a pod being stopped as expected but not healthy, so back-to-back evictions cannot both pass", () => {
    const selector = { matchLabels: { app: "web" } };
    const leaving = { ...pod("a"), deleting: true };
    const status = disruptionStatus({ name: "p", spec: { selector, maxUnavailable: 1 } }, [
      leaving,
      pod("b"),
      pod("c"),
    ]);
    expect(status).toEqual({ expectedPods: 3, currentHealthy: 2, desiredHealthy: 2, disruptionsAllowed: 0 });
  });
});
