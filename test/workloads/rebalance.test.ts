import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { openStore } from "../../src/db/index.js";
import type { PodRecord } from "../../src/db/types.js";
import { createTestApi, type TestApi } from "../helpers/api.js";
import { checkedStore } from "../helpers/invariants.js";

const GRACE_MS = 1_000;

const app = (replicas: number) => `apiVersion: apps/v1
kind: Deployment
metadata: { name: web }
spec:
  replicas: ${replicas}
  selector: { matchLabels: { app: web } }
  template:
    metadata: { labels: { app: web } }
    spec:
      topologySpreadConstraints:
        - maxSkew: 1
          topologyKey: topology.kubernetes.io/zone
          whenUnsatisfiable: ScheduleAnyway
          labelSelector: { matchLabels: { app: web } }
      containers: [{ name: web, image: web:1, resources: { requests: { cpu: 100m, memory: 64Mi } } }]
`;

/** While `watching`, the fewest ready replicas (not on their way out) the store ever held, seen after every pod write. */
const seen = { watching: false, minReady: Number.POSITIVE_INFINITY };
function observe(pods: PodRecord[]): void {
  if (!seen.watching) return;
  const ready = pods.filter((p) => p.labels.app === "web" && p.ready && p.deletionRequestedAt === null);
  seen.minReady = Math.min(seen.minReady, ready.length);
}

let api: TestApi;
beforeAll(async () => {
  api = await createTestApi({
    store: checkedStore(await openStore({ memory: true }), observe),
    nodes: 3,
    controlPlane: {
      nodeGracePeriodMs: GRACE_MS,
      heartbeatMs: 100,
      nodeMonitorMs: 100,
      rebalanceMs: 200,
    },
  });
});
afterAll(() => api.close());

/** Ready replicas per zone, in zone order. */
async function perZone(): Promise<number[]> {
  const zones = new Map((await api.store.listNodes()).map((n) => [n.name, n.labels["topology.kubernetes.io/zone"]]));
  const counts: Record<string, number> = { "zone-a": 0, "zone-b": 0, "zone-c": 0 };
  for (const pod of await api.store.listPods({ tenantId: api.tenant.id })) {
    if (!pod.ready || pod.deletionRequestedAt !== null || !pod.nodeName) continue;
    const zone = zones.get(pod.nodeName) as string;
    counts[zone] = (counts[zone] ?? 0) + 1;
  }
  return Object.keys(counts)
    .sort()
    .map((z) => counts[z] as number);
}
const skew = (counts: number[]) => Math.max(...counts) - Math.min(...counts);
const total = (counts: number[]) => counts.reduce((a, b) => a + b, 0);

describe("rebalancing", () => {
  it("spreads the replicas again once a lost zone's node returns, replacement first, never below the replicas", async () => {
    expect((await api.call("POST", "/v1/apply", { body: app(6) })).status).toBe(200);
    await api.until(async () => {
      const counts = await perZone();
      return total(counts) === 6 && skew(counts) <= 1;
    });
    const lost = (await api.store.listNodes()).find((n) => n.labels["topology.kubernetes.io/zone"] === "zone-c");
    api.provider.setNodeReady(lost?.name as string, false);
    // Replaced in the two zones left: 3 and 3, nothing in zone c.
    await api.until(async () => (await perZone()).join() === "3,3,0", 30_000);

    seen.watching = true;
    api.provider.setNodeReady(lost?.name as string, true);
    await api.until(async () => (await perZone()).join() === "2,2,2", 30_000);
    seen.watching = false;
    expect(seen.minReady).toBeGreaterThanOrEqual(6);
    const events = (await api.call("GET", "/api/v1/namespaces/default/events")).body.items;
    expect(events.filter((e: any) => e.reason === "Rebalancing").length).toBeGreaterThanOrEqual(2);
  });

  it("keeps the spread within maxSkew after a scale-down", async () => {
    expect((await api.call("POST", "/v1/apply", { body: app(3) })).status).toBe(200);
    await api.until(async () => (await perZone()).join() === "1,1,1", 30_000);
  });
});
