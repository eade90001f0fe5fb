import { readFileSync } from "node:fs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTestApi, type TestApi } from "../helpers/api.js";

const WEB = readFileSync(new URL("../fixtures/web.yaml", import.meta.url), "utf8");
const [DEPLOYMENT, SERVICE] = WEB.split(/^---$/m) as [string, string];
const DEP = "/apis/apps/v1/namespaces/default/deployments";
const SVC = "/api/v1/namespaces/default/services";

let api: TestApi;
beforeAll(async () => {
  api = await createTestApi();
});
afterAll(() => api.close());

async function readyPods(selector = "app=web"): Promise<number> {
  const pods = await api.call("GET", `/api/v1/namespaces/default/pods?labelSelector=${encodeURIComponent(selector)}`);
  return pods.body.items.filter(
    (p: any) =>
      !p.metadata.deletionTimestamp && p.status.conditions?.some((c: any) => c.type === "Ready" && c.status === "True"),
  ).length;
}

describe("Kubernetes REST paths: deployments and services", () => {
  it("POST creates a deployment (201) in Kubernetes shape with defaults, and the namespace on first use", async () => {
    const res = await api.call("POST", DEP, { body: DEPLOYMENT });
    expect(res.status).toBe(201);
    expect(res.body).toMatchObject({
      apiVersion: "apps/v1",
      kind: "Deployment",
      metadata: { name: "web", namespace: "default", generation: 1, labels: { app: "web" } },
      spec: {
        replicas: 2,
        strategy: { type: "RollingUpdate", rollingUpdate: { maxSurge: "25%", maxUnavailable: "25%" } },
      },
    });
    expect(res.body.metadata.uid).toMatch(/^[0-9a-f-]{36}$/);
    expect(await api.store.listNamespaces(api.tenant.id)).toMatchObject([{ name: "default" }]);
  });

  it("reports status as pods come up: 2 ready replicas, Available and Progressing conditions", async () => {
    const status = await api.until(async () => {
      const res = await api.call("GET", `${DEP}/web`);
      return res.body.status?.readyReplicas === 2 && res.body.status;
    });
    expect(status).toMatchObject({ replicas: 2, updatedReplicas: 2, availableReplicas: 2, observedGeneration: 1 });
    expect(status.conditions.map((c: any) => [c.type, c.status, c.reason])).toEqual([
      ["Available", "True", "MinimumReplicasAvailable"],
      ["Progressing", "True", "NewReplicaSetAvailable"],
    ]);
  });

  it("lists per namespace, across namespaces, and by label selector", async () => {
    expect((await api.call("GET", DEP)).body).toMatchObject({
      kind: "DeploymentList",
      items: [{ metadata: { name: "web" } }],
    });
    expect((await api.call("GET", "/apis/apps/v1/deployments")).body.items).toHaveLength(1);
    expect((await api.call("GET", `${DEP}?labelSelector=app%3Dother`)).body.items).toHaveLength(0);
  });

  it("pods are read-only Kubernetes pods owned by their deployment, with no node in sight", async () => {
    const res = await api.call("GET", "/api/v1/namespaces/default/pods");
    expect(res.body.items).toHaveLength(2);
    const pod = res.body.items[0];
    expect(pod.metadata.ownerReferences).toMatchObject([
      {
        apiVersion: "apps/v1",
        kind: "ReplicaSet",
        name: `web-${pod.metadata.labels["pod-template-hash"]}`,
        controller: true,
      },
    ]);
    expect(pod.metadata.labels["pod-template-hash"]).toMatch(/^[a-z0-9]+$/);
    expect(pod.status.phase).toBe("Running");
    expect(pod.spec.nodeName).toBeUndefined();
    const one = await api.call("GET", `/api/v1/namespaces/default/pods/${pod.metadata.name}`);
    expect(one.body.metadata.uid).toBe(pod.metadata.uid);
    expect((await api.call("GET", "/api/v1/pods")).body.items).toHaveLength(2);
  });

  it("a service gets a cluster IP and endpoints for the ready pods, by named target port", async () => {
    const res = await api.call("POST", SVC, { body: SERVICE });
    expect(res.status).toBe(201);
    expect(res.body.spec).toMatchObject({ type: "ClusterIP", clusterIP: expect.stringMatching(/^10\.96\./) });
    const endpoints = await api.until(async () => {
      const ep = await api.call("GET", "/api/v1/namespaces/default/endpoints/web");
      return ep.body?.subsets?.[0]?.addresses?.length === 2 && ep.body;
    });
    expect(endpoints.subsets[0].ports).toEqual([{ name: "http", port: 80, protocol: "TCP" }]);
  });

  it("PUT replaces with the current resourceVersion and keeps the cluster IP", async () => {
    const current = (await api.call("GET", `${SVC}/web`)).body;
    const changed = { ...current, metadata: { ...current.metadata, labels: { team: "a" } } };
    const res = await api.call("PUT", `${SVC}/web`, { body: changed });
    expect(res.status).toBe(200);
    expect(res.body.metadata.labels).toEqual({ team: "a" });
    expect(res.body.spec.clusterIP).toBe(current.spec.clusterIP);
    expect(res.body.metadata.resourceVersion).not.toBe(current.metadata.resourceVersion);
    expect(res.body.metadata.generation).toBe(1);
  });

  it("scale reads and sets replicas, and the deployment converges up and down", async () => {
    const scale = await api.call("GET", `${DEP}/web/scale`);
    expect(scale.body).toMatchObject({
      kind: "Scale",
      apiVersion: "autoscaling/v1",
      spec: { replicas: 2 },
      status: { selector: "app=web" },
    });
    const up = await api.call("PUT", `${DEP}/web/scale`, { body: { ...scale.body, spec: { replicas: 4 } } });
    expect(up.body.spec.replicas).toBe(4);
    await api.until(async () => (await readyPods()) === 4);
    const down = await api.call("PATCH", `${DEP}/web/scale`, {
      body: { spec: { replicas: 1 } },
      contentType: "application/merge-patch+json",
    });
    expect(down.body.spec.replicas).toBe(1);
    await api.until(async () => (await api.store.listPods({ tenantId: api.tenant.id })).length === 1);
  });

  it("PATCH with a merge patch and a JSON patch; a new template replaces every pod", async () => {
    const merged = await api.call("PATCH", `${DEP}/web`, {
      body: { spec: { replicas: 2 } },
      contentType: "application/merge-patch+json",
    });
    expect(merged.status).toBe(200);
    expect(merged.body.spec.replicas).toBe(2);
    const patched = await api.call("PATCH", `${DEP}/web`, {
      body: [{ op: "replace", path: "/spec/template/spec/containers/0/image", value: "nginx:1.28" }],
      contentType: "application/json-patch+json",
    });
    const generation = patched.body.metadata.generation;
    expect(generation).toBe(merged.body.metadata.generation + 1);
    const hash = await api.until(async () => {
      const pods = (await api.call("GET", "/api/v1/namespaces/default/pods")).body.items;
      const images = new Set(pods.map((p: any) => p.spec.containers[0].image));
      const ready = pods.filter((p: any) =>
        p.status.conditions?.some((c: any) => c.type === "Ready" && c.status === "True"),
      );
      return (
        pods.length === 2 &&
        images.size === 1 &&
        images.has("nginx:1.28") &&
        ready.length === 2 &&
        pods[0].metadata.labels["pod-template-hash"]
      );
    });
    const status = await api.until(async () => {
      const d = (await api.call("GET", `${DEP}/web`)).body;
      return d.status.observedGeneration === generation && d.status.updatedReplicas === 2 && d.status;
    });
    expect(status.replicas).toBe(2);
    expect(hash).toBeTruthy();
  });

  it("DELETE removes the deployment and its pods, and the service and its endpoints", async () => {
    const res = await api.call("DELETE", `${DEP}/web`);
    expect(res.body).toMatchObject({ kind: "Status", status: "Success", details: { name: "web" } });
    expect((await api.call("GET", `${DEP}/web`)).status).toBe(404);
    await api.until(async () => (await api.store.listPods({ tenantId: api.tenant.id })).length === 0);
    expect((await api.call("DELETE", `${SVC}/web`)).status).toBe(200);
    await api.until(async () => (await api.call("GET", "/api/v1/namespaces/default/endpoints/web")).status === 404);
  });

  it("GET /healthz answers without a key", async () => {
    const res = await api.call("GET", "/healthz", { key: null });
    expect(res.status).toBe(200);
  });
});
