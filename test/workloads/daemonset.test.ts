import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ADMIN_KEY, createTestApi, type TestApi } from "../helpers/api.js";

const DAEMON = `apiVersion: apps/v1
kind: DaemonSet
metadata: { name: node-agent, namespace: agents }
spec:
  selector: { matchLabels: { app: node-agent } }
  template:
    metadata: { labels: { app: node-agent } }
    spec:
      containers:
        - name: agent
          image: agent:1
          resources: { requests: { cpu: 50m, memory: 32Mi } }
`;

let api: TestApi;
beforeAll(async () => {
  api = await createTestApi({ nodes: 3 });
});
afterAll(() => api.close());

const daemonPods = async () => {
  const system = await api.store.getTenantByName("system");
  const pods = await api.store.listPods({ tenantId: system?.id, namespace: "agents" });
  return pods
    .filter((p) => p.deletionRequestedAt === null && p.ready)
    .map((p) => p.nodeName)
    .sort();
};

describe("DaemonSets", () => {
  it("are the operator's: a tenant gets 403, in an apply and on the REST path, and nothing is written", async () => {
    const apply = await api.call("POST", "/v1/apply", { body: DAEMON });
    expect(apply.status).toBe(403);
    expect(apply.body.error.message).toMatch(/DaemonSet is an operator capability/);
    const post = await api.call("POST", "/apis/apps/v1/namespaces/agents/daemonsets", { body: DAEMON });
    expect(post.status).toBe(403);
    expect(await api.store.listObjects({ kind: "DaemonSet" })).toEqual([]);
  });

  it("run one pod on every node, following a node added and a node removed", async () => {
    const res = await api.call("POST", "/v1/apply", { body: DAEMON, key: ADMIN_KEY });
    expect(res.status).toBe(200);
    await api.until(async () => (await daemonPods()).length === 3);
    expect(await daemonPods()).toEqual(["sim-default-1", "sim-default-2", "sim-default-3"]);
    api.provider.addNode({ name: "sim-extra-1", cpuMillis: 4000, memoryBytes: 8 * 2 ** 30 });
    await api.until(async () => (await daemonPods()).includes("sim-extra-1"), 30_000);
    api.provider.removeNode("sim-default-2");
    await api.until(async () => {
      const nodes = await daemonPods();
      return nodes.length === 3 && !nodes.includes("sim-default-2");
    }, 30_000);
    const status = await api.until(async () => {
      const path = "/apis/apps/v1/namespaces/agents/daemonsets/node-agent";
      const ds = (await api.call("GET", path, { key: ADMIN_KEY })).body;
      return ds.status?.numberReady === 3 && ds.status?.desiredNumberScheduled === 3 && ds.status;
    });
    expect(status).toMatchObject({ desiredNumberScheduled: 3, currentNumberScheduled: 3, numberMisscheduled: 0 });
  });
});
