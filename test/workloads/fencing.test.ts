import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { PodRecord } from "../../src/db/types.js";
import { createTestApi, type TestApi } from "../helpers/api.js";

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

let api: TestApi;
/**
 * Sampled every few milliseconds: the most copies of db-0 the nodes ever ran at
 * once (by its name, whatever its pod id), and how often db-0 was seen ready on
 * a node the store holds not ready.
 */
const seen = { maxCopies: 0, readyOnSilentNode: 0 };
let sampler: ReturnType<typeof setInterval> | undefined;
beforeAll(async () => {
  api = await createTestApi({
    nodes: 3,
    // A quick resync asks the provider about every pod often, as a long partition would over time.
    controlPlane: { nodeGracePeriodMs: GRACE_MS, heartbeatMs: 100, nodeMonitorMs: 100, resyncMs: 300 },
  });
  sampler = setInterval(async () => {
    const running = await api.provider.listPods();
    const copies = running.filter((p) => api.provider.runtimeSpec(p.podId)?.name === "db-0").length;
    seen.maxCopies = Math.max(seen.maxCopies, copies);
    const db0 = await api.store.getPodByName(api.tenant.id, "default", "db-0");
    const node = db0?.nodeName ? await api.store.getNode(db0.nodeName) : undefined;
    if (db0?.ready && node?.ready === false) seen.readyOnSilentNode++;
  }, 5);
});
afterAll(async () => {
  clearInterval(sampler);
  await api.close();
});

const pod = async (name: string) => (await api.store.getPodByName(api.tenant.id, "default", name)) as PodRecord;
const webReadyOff = async (node: string) => {
  const web = (await api.store.listPods({ tenantId: api.tenant.id, ownerKind: "ReplicaSet" })).filter(
    (p) => p.deletionRequestedAt === null && p.ready,
  );
  return web.length === 3 && web.every((p) => p.nodeName !== node);
};
const dbEndpoints = async () =>
  (await api.call("GET", "/api/v1/namespaces/default/endpoints/db")).body.subsets?.[0]?.addresses?.length ?? 0;
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
    expect(seen.maxCopies).toBe(1);
    expect(seen.readyOnSilentNode).toBe(0);
  });
});
