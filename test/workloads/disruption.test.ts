import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTestApi, type TestApi } from "../helpers/api.js";

const APP = `apiVersion: apps/v1
kind: Deployment
metadata: { name: web }
spec:
  replicas: 3
  selector: { matchLabels: { app: web } }
  template:
    metadata: { labels: { app: web } }
    spec:
      containers: [{ name: web, image: web:1, resources: { requests: { cpu: 50m, memory: 32Mi } } }]
---
apiVersion: policy/v1
kind: PodDisruptionBudget
metadata: { name: web }
spec:
  minAvailable: 2
  selector: { matchLabels: { app: web } }
`;

let api: TestApi;
beforeAll(async () => {
  api = await createTestApi();
});
afterAll(() => api.close());

const ready = async () =>
  (await api.store.listPods({ tenantId: api.tenant.id })).filter((p) => p.ready && p.deletionRequestedAt === null);

describe("PodDisruptionBudgets and evictions", () => {
  it("report how many pods may go, and refuse an eviction the budget cannot spare (429)", async () => {
    await api.call("POST", "/v1/apply", { body: APP });
    await api.until(async () => (await ready()).length === 3);
    const status = await api.until(async () => {
      const pdb = (await api.call("GET", "/apis/policy/v1/namespaces/default/poddisruptionbudgets/web")).body;
      return pdb.status?.currentHealthy === 3 && pdb.status;
    });
    expect(status).toMatchObject({ expectedPods: 3, currentHealthy: 3, desiredHealthy: 2, disruptionsAllowed: 1 });

    const [first, second] = await ready();
    const evict = (name: string | undefined) =>
      api.call("POST", `/api/v1/namespaces/default/pods/${name}/eviction`, {
        body: { apiVersion: "policy/v1", kind: "Eviction", metadata: { name } },
      });
    expect((await evict(first?.name)).status).toBe(201);
    const refused = await evict(second?.name);
    expect(refused.status).toBe(429);
    expect(refused.body).toMatchObject({
      reason: "TooManyRequests",
      message: expect.stringContaining('disruption budget: "web"'),
    });
    expect((await api.store.getPod(second?.id ?? ""))?.deletionRequestedAt).toBeNull();
    // Once the replacement is ready, the budget can spare one again.
    await api.until(async () => (await ready()).length === 3);
    expect((await evict(second?.name)).status).toBe(201);
    expect((await api.call("POST", "/api/v1/namespaces/default/pods/nope/eviction", { body: {} })).status).toBe(404);
    expect((await evict(second?.name)).status).not.toBe(429);
  });

  it("another tenant cannot evict my pods", async () => {
    const [pod] = await ready();
    const res = await api.call("POST", `/api/v1/namespaces/default/pods/${pod?.name}/eviction`, {
      body: {},
      key: api.other.key,
    });
    expect(res.status).toBe(404);
  });
});
