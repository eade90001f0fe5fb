import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { openStore } from "../../src/db/index.js";
import type { PodRecord } from "../../src/db/types.js";
import { createTestApi, type TestApi } from "../helpers/api.js";
import { checkedStore } from "../helpers/invariants.js";

const GRACE_MS = 1_000;

const FILE = `apiVersion: v1
kind: Service
metadata: { name: db }
spec:
  selector: { app: db }
  ports: [{ port: 5432 }]
---
apiVersion: apps/v1
kind: StatefulSet
metadata: { name: db }
spec:
  serviceName: db
  replicas: 2
  selector: { matchLabels: { app: db } }
  template:
    metadata: { labels: { app: db } }
    spec:
      containers: [{ name: db, image: db:1, resources: { requests: { cpu: 100m, memory: 64Mi } } }]
  volumeClaimTemplates:
    - metadata: { name: data }
      spec:
        accessModes: [ReadWriteOnce]
        storageClassName: network
        resources: { requests: { storage: 1Gi } }
---
apiVersion: apps/v1
kind: Deployment
metadata: { name: web }
spec:
  replicas: 3
  selector: { matchLabels: { app: web } }
  template:
    metadata: { labels: { app: web } }
    spec:
      containers: [{ name: web, image: web:1, resources: { requests: { cpu: 100m, memory: 64Mi } } }]
`;

/** The most live rows db-0 ever had at once in the store, seen after every pod write. */
const seen = { maxDb0: 0 };
function observe(pods: PodRecord[]): void {
  const db0 = pods.filter((p) => p.name === "db-0" && p.deletionRequestedAt === null && p.phase !== "Failed");
  seen.maxDb0 = Math.max(seen.maxDb0, db0.length);
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

const pod = async (name: string) => (await api.store.getPodByName(api.tenant.id, "default", name)) as PodRecord;
const webReadyOff = async (node: string) => {
  const web = (await api.store.listPods({ tenantId: api.tenant.id, ownerKind: "ReplicaSet" })).filter(
    (p) => p.deletionRequestedAt === null && p.ready,
  );
  return web.length === 3 && web.every((p) => p.nodeName !== node);
};
const dbEndpoints = async () =>
  (await api.call("GET", "/api/v1/namespaces/default/endpoints/db")).body.subsets?.[0]?.addresses?.length ?? 0;
/** How many copies of the pod the nodes run, across every node. */
const copiesRunning = async (podId: string) => (await api.provider.listPods()).filter((p) => p.podId === podId).length;
const wait = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe("fencing a StatefulSet replica on a silent node", () => {
  it("keeps the replica, not ready, while its node is only silent; it resumes when the node is back", async () => {
    expect((await api.call("POST", "/v1/apply", { body: FILE })).status).toBe(200);
    await api.until(async () => (await pod("db-1"))?.ready && (await webReadyOff("none")));
    const before = await pod("db-0");
    const node = before.nodeName as string;

    api.provider.setNodeReady(node, false);
    // The Deployment's pods on that node are replaced at once (after the grace period)...
    await api.until(() => webReadyOff(node), 30_000);
    await api.until(async () => (await pod("db-0")).phase === "Unknown", 10_000);
    // ...but the replica waits: its node may still run it, and two copies of one ordinal must never run.
    await wait(3 * GRACE_MS);
    const fenced = await pod("db-0");
    expect(fenced).toMatchObject({ uid: before.uid, nodeName: node, phase: "Unknown", ready: false });
    expect(fenced.status.reason).toBe("NodeLost");
    expect(await copiesRunning(before.id)).toBe(1);
    // Only the replicas on answering nodes receive traffic.
    expect(await dbEndpoints()).toBe((await pod("db-1")).nodeName === node ? 0 : 1);
    const events = (await api.call("GET", "/api/v1/namespaces/default/events")).body.items;
    expect(events.some((e: any) => e.involvedObject.name === "db-0" && e.reason === "NodeLost")).toBe(true);

    api.provider.setNodeReady(node, true);
    await api.until(async () => (await pod("db-0")).ready, 10_000);
    expect(await pod("db-0")).toMatchObject({ uid: before.uid, nodeName: node, phase: "Running" });
    await api.until(async () => (await dbEndpoints()) === 2);
  });

  it("replaces the replica elsewhere once its node is confirmed gone, never running two copies", async () => {
    const before = await pod("db-0");
    const node = before.nodeName as string;
    api.provider.setNodeReady(node, false);
    await api.until(async () => (await pod("db-0")).phase === "Unknown", 10_000);
    expect((await pod("db-0")).uid).toBe(before.uid);

    api.provider.removeNode(node);
    const after = await api.until(async () => {
      const current = await pod("db-0");
      return current && current.uid !== before.uid && current.ready ? current : undefined;
    }, 30_000);
    expect(after.nodeName).not.toBe(node);
    expect(await copiesRunning(before.id)).toBe(0);
    expect(await copiesRunning(after.id)).toBe(1);
    expect(seen.maxDb0).toBe(1);
  });
});
