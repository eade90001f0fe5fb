import { describe, expect, it } from "vitest";
import { progressBar, rolloutState } from "./rollout.js";

const dep = (status: Record<string, unknown>, spec: Record<string, unknown> = {}) => ({
  metadata: { name: "web", generation: 2 },
  spec: { replicas: 4, ...spec },
  status: { observedGeneration: 2, ...status },
});

describe("rollout status", () => {
  it("draws a bar of the updated replicas", () => {
    expect(progressBar(1, 4)).toBe(`[${"#".repeat(8)}${" ".repeat(22)}] 1/4`);
    expect(progressBar(4, 4)).toBe(`[${"#".repeat(30)}] 4/4`);
  });

  it("follows a rollout through its stages to done", () => {
    expect(rolloutState(dep({ observedGeneration: 1 })).line).toBe("Waiting for the rollout to be observed...");
    expect(rolloutState(dep({ updatedReplicas: 2, replicas: 5 })).line).toMatch(
      /^Waiting: \[#+ +\] 2\/4 updated replicas$/,
    );
    expect(rolloutState(dep({ updatedReplicas: 4, replicas: 5, availableReplicas: 4 })).line).toMatch(
      /1 old replicas are pending termination/,
    );
    expect(rolloutState(dep({ updatedReplicas: 4, replicas: 4, availableReplicas: 3 })).line).toMatch(
      /3\/4\] updated replicas available|3\/4 updated replicas available/,
    );
    expect(rolloutState(dep({ updatedReplicas: 4, replicas: 4, availableReplicas: 4 }))).toEqual({
      line: 'deployment "web" successfully rolled out',
      done: true,
      failed: false,
    });
  });

  it("fails on a missed progress deadline and on a paused deployment", () => {
    const missed = dep({ conditions: [{ type: "Progressing", status: "False", reason: "ProgressDeadlineExceeded" }] });
    expect(rolloutState(missed)).toMatchObject({
      failed: true,
      line: 'deployment "web" exceeded its progress deadline',
    });
    expect(rolloutState(dep({}, { paused: true })).failed).toBe(true);
  });
});
