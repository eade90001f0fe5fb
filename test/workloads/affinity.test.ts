import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ADMIN_KEY, createTestApi, type TestApi } from "../helpers/api.js";

const spreadOut = (replicas: number) => `apiVersion: apps/v1
kind: Deployment
metadata: { name: web }
spec:
  replicas: ${replicas}
  selector: { matchLabels: { app: web } }
  template:
    metadata: { labels: { app: web } }
    spec:
      affinity:
        podAntiAffinity:
          requiredDuringSchedulingIgnoredDuringExecution:
            - labelSelector: { matchLabels: { app: web } }
              topologyKey: kubernetes.io/hostname
      containers: [{ name: web, image: web:1, resources: { requests: { cpu: 100m, memory: 64Mi } } }]
`;

let api: TestApi;
beforeAll(async () => {
  api = await createTestApi({ nodes: 3 });
});
afterAll(() => api.close());

const pods = async () =>
  (await api.store.listPods({ tenantId: api.tenant.id })).filter((p) => p.deletionRequestedAt === null);

describe("placement constraints through the API", () => {
  it("'not all on the same server': required anti-affinity puts one replica per node; one too many waits with the whole answer", async () => {
    await api.call("POST", "/v1/apply", { body: spreadOut(4) });
    await api.until(async () => (await pods()).filter((p) => p.ready).length === 3);
    const nodes = new Set((await pods()).filter((p) => p.ready).map((p) => p.nodeName));
    expect(nodes.size).toBe(3);
    const pending = await api.until(async () => {
      const list = (await api.call("GET", "/api/v1/namespaces/default/pods")).body.items;
      const waiting = list.find((p: any) =>
        p.status.conditions?.some((c: any) => c.type === "PodScheduled" && c.status === "False"),
      );
      return waiting?.status.conditions.find((c: any) => c.type === "PodScheduled");
    });
    expect(pending.reason).toBe("Unschedulable");
    expect(pending.message).toMatch(/anti-affinity/);
    expect(pending.message).toMatch(/app=web/);
    expect(pending.message).not.toMatch(/sim-default|\d+\s*nodes?\b|\d+\s*\/\s*\d+/);
  });

  it("explains the waiting pod on request: every constraint for the tenant, the nodes for the operator only", async () => {
    const waiting = (await pods()).find((p) => p.nodeName === null);
    const path = `/api/v1/namespaces/default/pods/${waiting?.name}/explain`;
    const mine = await api.call("GET", path);
    expect(mine.body).toMatchObject({
      kind: "PodExplanation",
      state: "unschedulable",
      message: expect.stringMatching(/anti-affinity/),
    });
    expect(mine.body.constraints.length).toBeGreaterThan(0);
    expect(mine.body.operator).toBeUndefined();
    const operator = await api.call("GET", `${path}?tenant=acme`, { key: ADMIN_KEY });
    const ruledOut = new Set(operator.body.operator.flatMap((o: any) => o.nodes));
    expect([...ruledOut].sort()).toEqual(["sim-default-1", "sim-default-2", "sim-default-3"]);
    expect(operator.body.operator.every((o: any) => o.count === o.nodes.length)).toBe(true);
    expect((await api.call("GET", `${path}?tenant=acme`)).status).toBe(403);
    expect((await api.call("GET", path, { key: api.other.key })).status).toBe(404);
    expect((await api.call("GET", path, { key: null })).status).toBe(401);
    const placed = (await pods()).find((p) => p.nodeName !== null);
    const ok = await api.call("GET", `/api/v1/namespaces/default/pods/${placed?.name}/explain`);
    expect(ok.body).toMatchObject({ state: "placed" });
  });

  it("adding a node places the waiting replica there", async () => {
    api.provider.addNode({ name: "sim-extra-1", cpuMillis: 4000, memoryBytes: 8 * 2 ** 30 });
    await api.until(async () => (await pods()).filter((p) => p.ready).length === 4, 30_000);
    expect((await pods()).some((p) => p.nodeName === "sim-extra-1")).toBe(true);
  });
});
