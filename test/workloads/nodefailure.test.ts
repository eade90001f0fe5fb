import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { openStore } from "../../src/db/index.js";
import type { PodRecord } from "../../src/db/types.js";
import { ADMIN_KEY, createTestApi, type TestApi } from "../helpers/api.js";
import { checkedStore } from "../helpers/invariants.js";

const GRACE_MS = 1_000;

const APP = `apiVersion: apps/v1
kind: Deployment
metadata: { name: web }
spec:
  replicas: 6
  selector: { matchLabels: { app: web } }
  template:
    metadata: { labels: { app: web } }
    spec:
      containers: [{ name: web, image: web:1, resources: { requests: { cpu: 100m, memory: 64Mi } } }]
`;

/** The most live pods of the deployment the store ever held at once, seen after every pod write. */
const seen = { maxLive: 0 };
function observe(pods: PodRecord[]): void {
  const live = pods.filter((p) => p.labels.app === "web" && p.deletionRequestedAt === null && p.phase !== "Failed");
  seen.maxLive = Math.max(seen.maxLive, live.length);
}

let api: TestApi;
beforeAll(async () => {
  api = await createTestApi({
    store: checkedStore(await openStore({ memory: true }), observe),
    nodes: 3,
    controlPlane: { nodeGracePeriodMs: GRACE_MS, heartbeatMs: 100, nodeMonitorMs: 100 },
  });
});
afterAll(() => api.close());

const live = async () =>
  (await api.store.listPods({ tenantId: api.tenant.id })).filter((p) => p.deletionRequestedAt === null);
const readyOn = async (node?: string) =>
  (await live()).filter((p) => p.ready && (node === undefined || p.nodeName === node));

describe("node failure", () => {
  it("a silent node goes NotReady after the grace period and its pods are replaced elsewhere; back, it runs no stale pod", async () => {
    await api.call("POST", "/v1/apply", { body: APP });
    await api.until(async () => (await readyOn()).length === 6);
    const lostNode = (await readyOn())[0]?.nodeName as string;
    const onIt = (await readyOn(lostNode)).length;
    expect(onIt).toBeGreaterThan(0);

    const silentAt = Date.now();
    api.provider.setNodeReady(lostNode, false);
    // The node stays Ready within its grace period: a short silence is not a failure.
    await new Promise((r) => setTimeout(r, GRACE_MS / 2));
    expect((await api.store.getNode(lostNode))?.ready).toBe(true);

    await api.until(async () => {
      const ready = await readyOn();
      return ready.length === 6 && ready.every((p) => p.nodeName !== lostNode);
    }, 30_000);
    // The grace period counts from the node's last heartbeat: no pod was declared lost before it ran out.
    const lastHeartbeat = (await api.store.getNode(lostNode))?.lastHeartbeatAt as number;
    expect(lastHeartbeat).toBeLessThanOrEqual(silentAt);
    const lost = (await api.store.listEvents({ tenantId: api.tenant.id })).filter((e) => e.reason === "NodeLost");
    expect(lost.length).toBeGreaterThan(0);
    expect(Math.min(...lost.map((e) => e.firstSeenAt)) - lastHeartbeat).toBeGreaterThanOrEqual(GRACE_MS);
    expect((await api.store.getNode(lostNode))?.ready).toBe(false);
    const node = (await api.call("GET", `/api/v1/nodes/${lostNode}`, { key: ADMIN_KEY })).body;
    expect(node.status.conditions[0]).toMatchObject({ type: "Ready", status: "False" });
    const events = (await api.call("GET", "/api/v1/namespaces/default/events")).body.items;
    expect(events.some((e: any) => e.reason === "NodeLost")).toBe(true);

    api.provider.setNodeReady(lostNode, true);
    await api.until(async () => (await api.store.getNode(lostNode))?.ready === true);
    await api.until(async () => (await api.provider.listPods(lostNode)).length === 0, 30_000);
    expect((await live()).filter((p) => p.phase !== "Failed")).toHaveLength(6);
    expect(seen.maxLive).toBeLessThanOrEqual(6 + 2);
  });
});
