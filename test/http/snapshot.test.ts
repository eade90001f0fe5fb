/**
 * `GET /v1/admin/snapshot`: the live cluster as a scenario that `kubernease simulate` runs as it is.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parse } from "yaml";
import { runScenario } from "../../src/simulator/run.js";
import { parseScenario } from "../../src/simulator/scenario.js";
import { ADMIN_KEY, createTestApi, type TestApi } from "../helpers/api.js";

const FILE = (replicas: number) => `apiVersion: v1
kind: Secret
metadata: { name: creds }
stringData: { password: hunter2 }
---
apiVersion: apps/v1
kind: Deployment
metadata: { name: web }
spec:
  replicas: ${replicas}
  selector: { matchLabels: { app: web } }
  template:
    metadata: { labels: { app: web } }
    spec:
      containers:
        - name: web
          image: web:1
          env: [{ name: PASSWORD, valueFrom: { secretKeyRef: { name: creds, key: password } } }]
          resources: { requests: { cpu: 100m, memory: 64Mi } }
---
apiVersion: v1
kind: Service
metadata: { name: web }
spec:
  selector: { app: web }
  ports: [{ port: 80 }]
`;

let api: TestApi;
beforeAll(async () => {
  api = await createTestApi({ nodes: 3 });
});
afterAll(() => api.close());

describe("GET /v1/admin/snapshot", () => {
  it("gives the nodes as pools and every tenant's workloads, without Secret values, as a scenario that runs", async () => {
    expect((await api.call("POST", "/v1/apply", { body: FILE(3) })).status).toBe(200);
    expect((await api.call("POST", "/v1/apply", { body: FILE(2), key: api.other.key })).status).toBe(200);
    await api.until(async () => (await api.store.listPods({})).filter((p) => p.ready).length === 5, 30_000);

    const res = await api.call("GET", "/v1/admin/snapshot", { key: ADMIN_KEY });
    expect(res.status).toBe(200);
    expect(res.text).not.toContain("hunter2");
    expect(res.text).not.toContain(Buffer.from("hunter2").toString("base64"));
    const document = parse(res.text) as {
      cluster: { pools: { count: number; cpu: string }[] };
      manifests: { inline: string }[];
    };
    // One pool per node shape and zone: the three simulated nodes, one in each zone.
    expect(document.cluster.pools).toEqual(
      ["zone-a", "zone-b", "zone-c"].map((zone, i) => ({
        name: `pool-${i + 1}`,
        count: 1,
        cpu: "4000m",
        memory: "8192Mi",
        maxPods: 110,
        zones: [zone],
      })),
    );
    const manifests = document.manifests[0]?.inline ?? "";
    // Each tenant's namespace kept apart; the ReplicaSets and pods come back from their Deployments.
    expect(manifests).toContain("namespace: acme-default");
    expect(manifests).toContain("namespace: globex-default");
    expect(manifests).not.toContain("kind: ReplicaSet");

    const scenario = await parseScenario(res.text, "snapshot.yaml", () => {
      throw new Error("inline only");
    });
    const report = await runScenario(scenario, { seed: "1", source: "snapshot.yaml" });
    // The node crash of the first timeline, and every workload reconciled after it (the liveness invariant).
    expect(report.ok).toBe(true);
    expect(report.timeline.map((t) => t.kind)).toContain("crashNode");
  });
});
