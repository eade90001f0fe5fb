import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ADMIN_KEY, createTestApi, type TestApi } from "../helpers/api.js";

const APP = (replicas: number) => `apiVersion: apps/v1
kind: Deployment
metadata: { name: web }
spec:
  replicas: ${replicas}
  selector: { matchLabels: { app: web } }
  template:
    metadata: { labels: { app: web } }
    spec:
      containers: [{ name: web, image: web:1, resources: { requests: { cpu: 100m, memory: 64Mi } } }]
---
apiVersion: policy/v1
kind: PodDisruptionBudget
metadata: { name: web }
spec:
  maxUnavailable: 1
  selector: { matchLabels: { app: web } }
`;

let api: TestApi;
beforeAll(async () => {
  api = await createTestApi({ nodes: 3 });
});
afterAll(() => api.close());

const admin = (path: string) => api.call("POST", path, { key: ADMIN_KEY, body: {} });
const live = async () =>
  (await api.store.listPods({ tenantId: api.tenant.id })).filter((p) => p.deletionRequestedAt === null);

describe("cordon, uncordon and drain (operator only)", () => {
  it("refuse a tenant (403) and a missing key (401); an unknown node is 404", async () => {
    for (const verb of ["cordon", "uncordon", "drain"]) {
      expect((await api.call("POST", `/v1/admin/nodes/sim-default-1/${verb}`, { body: {} })).status).toBe(403);
      expect((await api.call("POST", `/v1/admin/nodes/sim-default-1/${verb}`, { body: {}, key: null })).status).toBe(
        401,
      );
    }
    expect((await admin("/v1/admin/nodes/nope/cordon")).status).toBe(404);
  });

  it("a cordoned node takes no new pods; uncordoned, it does again", async () => {
    const res = await admin("/v1/admin/nodes/sim-default-1/cordon");
    expect(res.body.spec).toEqual({ unschedulable: true });
    await api.call("POST", "/v1/apply", { body: APP(6) });
    await api.until(async () => (await live()).filter((p) => p.ready).length === 6);
    expect((await live()).filter((p) => p.nodeName === "sim-default-1")).toEqual([]);
    expect((await admin("/v1/admin/nodes/sim-default-1/uncordon")).body.spec).toEqual({});
  });

  it("drain moves every pod off the node, never more at once than the disruption budget allows", async () => {
    const onNode = (await live()).filter((p) => p.nodeName === "sim-default-2");
    expect(onNode.length).toBeGreaterThanOrEqual(2);
    const first = await admin("/v1/admin/nodes/sim-default-2/drain");
    expect(first.status).toBe(200);
    expect(first.body.evicted).toHaveLength(1);
    expect(first.body.blocked.length).toBe(onNode.length - 1);
    expect(first.body.blocked[0].budgets).toEqual(["web"]);
    const result = await api.until(async () => {
      await api.until(async () => (await live()).filter((p) => p.ready).length === 6);
      const again = await admin("/v1/admin/nodes/sim-default-2/drain");
      return again.body.done && again.body;
    }, 30_000);
    expect(result.blocked).toEqual([]);
    await api.until(async () => (await live()).filter((p) => p.ready).length === 6);
    expect((await live()).filter((p) => p.nodeName === "sim-default-2")).toEqual([]);
    const node = (await api.call("GET", "/api/v1/nodes/sim-default-2", { key: ADMIN_KEY })).body;
    expect(node.spec.unschedulable).toBe(true);
  });
});
