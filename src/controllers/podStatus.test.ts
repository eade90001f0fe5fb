import { describe, expect, it } from "vitest";
import { type PodCondition, setCondition } from "./podStatus.js";

const at = (iso: string) => Date.parse(iso);

describe("setCondition", () => {
  const scheduled: PodCondition = {
    type: "PodScheduled",
    status: "True",
    lastTransitionTime: "2026-01-01T00:00:00.000Z",
  };
  const notReady: PodCondition = {
    type: "Ready",
    status: "False",
    reason: "ContainersNotReady",
    lastTransitionTime: "2026-01-01T00:00:01.000Z",
  };

  it("keeps the transition time while the status holds, and stamps a flip", () => {
    const ready = setCondition([scheduled, notReady], "Ready", true, at("2026-01-01T00:00:05.000Z"));
    expect(ready).toEqual([
      scheduled,
      { type: "Ready", status: "True", lastTransitionTime: "2026-01-01T00:00:05.000Z" },
    ]);
    const again = setCondition([scheduled, notReady], "Ready", false, at("2026-01-01T00:00:09.000Z"), {
      reason: "Unhealthy",
    });
    expect(again[1]).toEqual({ ...notReady, reason: "Unhealthy" });
  });

  it("answers the list itself when the condition already says just that, and a new list otherwise", () => {
    const conditions = [scheduled, notReady];
    const now = at("2026-01-01T00:00:09.000Z");
    expect(setCondition(conditions, "Ready", false, now, { reason: "ContainersNotReady" })).toBe(conditions);
    expect(setCondition(conditions, "PodScheduled", true, now)).toBe(conditions);
    // Another reason, a message, a field of another kind, or a list out of order: a new list.
    expect(setCondition(conditions, "Ready", false, now)).toEqual(
      [scheduled, { ...notReady, reason: undefined }].map(strip),
    );
    expect(setCondition(conditions, "Ready", false, now, { reason: "ContainersNotReady", message: "m" })).not.toBe(
      conditions,
    );
    const probed = [scheduled, { ...notReady, lastProbeTime: null } as PodCondition];
    expect(setCondition(probed, "Ready", false, now, { reason: "ContainersNotReady" })).toEqual(conditions);
    expect(setCondition([notReady, scheduled], "Ready", false, now, { reason: "ContainersNotReady" })).toEqual(
      conditions,
    );
  });
});

/** The condition without its undefined fields, as `setCondition` makes them. */
function strip(condition: PodCondition): PodCondition {
  return Object.fromEntries(Object.entries(condition).filter(([, v]) => v !== undefined)) as unknown as PodCondition;
}
