import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { openStore } from "../../src/db/index.js";
import type { PodRecord } from "../../src/db/types.js";
import { createTestApi, type TestApi } from "../helpers/api.js";
import { checkedStore } from "../helpers/invariants.js";

function app(image: string, extraAnnotations = ""): string {
  return `apiVersion: apps/v1
kind: Deployment
metadata:
  name: shop
${extraAnnotations}spec:
  replicas: 4
  progressDeadlineSeconds: 2
  selector: { matchLabels: { app: shop } }
  template:
    metadata: { labels: { app: shop } }
    spec:
      containers:
        - name: web
          image: ${image}
          ports: [{ name: http, containerPort: 8080 }]
          readinessProbe: { httpGet: { path: /_health, port: http }, periodSeconds: 1 }
          resources: { requests: { cpu: 50m, memory: 32Mi } }
---
apiVersion: v1
kind: Service
metadata: { name: shop }
spec:
  selector: { app: shop }
  ports: [{ name: http, port: 80, targetPort: http }]
`;
}

/** The fewest Ready pods behind the Service while watched, seen after every pod write. */
const seen = { watching: false, minReady: Number.POSITIVE_INFINITY };
function observe(pods: PodRecord[]): void {
  if (!seen.watching) return;
  const ready = pods.filter((p) => p.labels.app === "shop" && p.ready && p.deletionRequestedAt === null).length;
  seen.minReady = Math.min(seen.minReady, ready);
}

let api: TestApi;
beforeAll(async () => {
  api = await createTestApi({
    store: checkedStore(await openStore({ memory: true }), observe),
    images: { "shop:bad": { readiness: "fail" } },
    probeTickMs: 50,
  });
});
afterAll(() => api.close());

const images = async () => {
  const pods = await api.store.listPods({ tenantId: api.tenant.id, namespace: "default" });
  const live = pods.filter((p) => p.labels.app === "shop" && p.deletionRequestedAt === null);
  return {
    ready: live.filter((p) => p.ready).length,
    all: new Set(live.map((p) => (p.spec.containers as { image: string }[])[0]?.image)),
  };
};
const endpoints = async () =>
  (await api.call("GET", "/api/v1/namespaces/default/endpoints/shop")).body.subsets?.[0]?.addresses?.length ?? 0;

describe("automatic rollback", () => {
  it("a bad image misses its progress deadline and rolls back, the Service never below replicas - maxUnavailable", async () => {
    expect((await api.call("POST", "/v1/apply", { body: app("shop:1") })).status).toBe(200);
    await api.until(async () => (await images()).ready === 4 && (await endpoints()) === 4);
    seen.watching = true;
    expect((await api.call("POST", "/v1/apply", { body: app("shop:bad") })).status).toBe(200);
    const events = await api.until(async () => {
      const list = (await api.call("GET", "/api/v1/namespaces/default/events?fieldSelector=involvedObject.name=shop"))
        .body.items;
      return list.find((e: any) => e.reason === "RolledBack") && list;
    }, 30_000);
    expect(events.find((e: any) => e.reason === "RolledBack").message).toBe(
      "Rolled back to revision 1: the rollout missed its progress deadline",
    );
    await api.until(async () => {
      const now = await images();
      return now.ready === 4 && now.all.size === 1 && now.all.has("shop:1");
    }, 30_000);
    seen.watching = false;
    expect(seen.minReady).toBeGreaterThanOrEqual(3);
    const dep = (await api.call("GET", "/apis/apps/v1/namespaces/default/deployments/shop")).body;
    expect(dep.spec.template.spec.containers[0].image).toBe("shop:1");
  });

  it("with auto-rollback off, the rollout stops at the deadline and says so", async () => {
    const optOut = `  annotations: { kubernease.dev/auto-rollback: "false" }\n`;
    expect((await api.call("POST", "/v1/apply", { body: app("shop:bad", optOut) })).status).toBe(200);
    const progressing = await api.until(async () => {
      const dep = (await api.call("GET", "/apis/apps/v1/namespaces/default/deployments/shop")).body;
      const c = dep.status?.conditions?.find((x: any) => x.type === "Progressing");
      return c?.reason === "ProgressDeadlineExceeded" && c;
    }, 30_000);
    expect(progressing).toMatchObject({
      status: "False",
      message: expect.stringContaining("has timed out progressing"),
    });
    const dep = (await api.call("GET", "/apis/apps/v1/namespaces/default/deployments/shop")).body;
    expect(dep.spec.template.spec.containers[0].image).toBe("shop:bad");
    expect((await images()).ready).toBeGreaterThanOrEqual(3);
  });
});
