import { describe, expect, it } from "vitest";
import { ManualClock } from "../core/clock.js";
import type { PodRecord } from "../db/types.js";
import type { JobContext } from "./context.js";
import { msUntilDrained } from "./rotation.js";
import type { PodRotation } from "./routing.js";

/** A deleted pod `web-1` (deleted at 1 s, now 2 s), its Endpoints, and how the RoutingStatus says the proxy serves it. */
function deleted(listedReady: boolean, served: PodRotation | undefined, nowMs = 2_000) {
  const pod = { name: "web-1", tenantId: "t1", namespace: "default", deletionRequestedAt: 1_000 } as PodRecord;
  const address = { ip: "10.0.0.1", targetRef: { kind: "Pod", name: "web-1" } };
  const store = {
    listObjects: async () => [
      { spec: { subsets: [listedReady ? { addresses: [address] } : { notReadyAddresses: [address] }] } },
    ],
    getTenantByName: async () => ({ id: "sys", name: "system" }),
    getObject: async () => ({ spec: { pods: served ? { "acme/default/web-1": served } : {} } }),
    getTenant: async () => ({ id: "t1", name: "acme" }),
  };
  const ctx = { routing: { drainTimeoutMs: 20_000 }, clock: new ManualClock(nowMs), store } as unknown as JobContext;
  return msUntilDrained(ctx, pod);
}

const drained: PodRotation = { state: "draining", sinceMs: 0, drainedAtMs: 500 };

describe("msUntilDrained", () => {
  it("stops a pod the proxy drained, or never served, once no Endpoints lists it as ready", async () => {
    expect(await deleted(false, drained)).toBe(0);
    expect(await deleted(false, undefined)).toBe(0);
  });

  it("waits while an Endpoints still lists the pod as ready: the next table would put it in rotation", async () => {
    expect(await deleted(true, drained)).toBeGreaterThan(0);
    expect(await deleted(true, undefined)).toBeGreaterThan(0);
  });

  it("waits while the pod is in rotation or a table putting it there is being published", async () => {
    expect(await deleted(false, { state: "ready", sinceMs: 0 })).toBeGreaterThan(0);
    expect(await deleted(false, { state: "ready", sinceMs: 0, publishing: true })).toBeGreaterThan(0);
    expect(await deleted(false, { state: "draining", sinceMs: 0 })).toBeGreaterThan(0);
  });

  it("stops it anyway once the drain bound has passed", async () => {
    expect(await deleted(true, { state: "ready", sinceMs: 0 }, 21_000)).toBe(0);
  });
});
