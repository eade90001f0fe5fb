import { describe, expect, it } from "vitest";
import type { PodRecord } from "../db/types.js";
import { stopOptions } from "./syncPod.js";

const pod = (spec: Record<string, unknown>, deletionRequestedAt: number | null) =>
  ({ spec, deletionRequestedAt }) as unknown as PodRecord;

describe("stopOptions", () => {
  const containers = [{ name: "web", lifecycle: { preStop: { exec: { command: ["drain"] } } } }, { name: "side" }];

  it("carries each container's preStop hook and the grace period left since the deletion", () => {
    expect(stopOptions(pod({ containers, terminationGracePeriodSeconds: 20 }, 1_000), 8_500)).toEqual({
      gracePeriodSeconds: 13,
      preStop: { web: { exec: { command: ["drain"] } } },
    });
  });

  it("takes Kubernetes' 30 s when none is given, leaves a second for SIGTERM, and keeps 0 as 0", () => {
    expect(stopOptions(pod({ containers: [{ name: "a" }] }, 0), 0)).toEqual({ gracePeriodSeconds: 30 });
    expect(stopOptions(pod({ terminationGracePeriodSeconds: 5 }, 0), 60_000).gracePeriodSeconds).toBe(1);
    expect(stopOptions(pod({ terminationGracePeriodSeconds: 0 }, 0), 0).gracePeriodSeconds).toBe(0);
  });
});
