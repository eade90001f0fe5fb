import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { openStore } from "../../src/db/index.js";
import type { PodRecord } from "../../src/db/types.js";
import { createTestApi, type TestApi } from "../helpers/api.js";
import { checkedStore } from "../helpers/invariants.js";

const DEP = "/apis/apps/v1/namespaces/default/deployments";

function manifest(name: string, image: string, replicas: number, extra = ""): string {
  return `apiVersion: apps/v1
kind: Deployment
metadata:
  name: ${name}
${extra}spec:
  replicas: ${replicas}
  selector: { matchLabels: { app: ${name} } }
  template:
    metadata: { labels: { app: ${name} } }
    spec:
      containers:
        - name: web
          image: ${image}
          resources: { requests: { cpu: 50m, memory: 32Mi } }
`;
}

/** What the checker saw of one deployment's pods while a rollout was watched. */
const seen = { watching: "", maxLive: 0, minReady: Number.POSITIVE_INFINITY };
function observe(pods: PodRecord[]): void {
  if (!seen.watching) return;
  const live = pods.filter((p) => p.ownerName?.startsWith(`${seen.watching}-`) && p.deletionRequestedAt === null);
  seen.maxLive = Math.max(seen.maxLive, live.length);
  seen.minReady = Math.min(seen.minReady, live.filter((p) => p.ready).length);
}

let api: TestApi;
beforeAll(async () => {
  api = await createTestApi({ store: checkedStore(await openStore({ memory: true }), observe), nodes: 4 });
});
afterAll(() => api.close());

const images = async (name: string) => {
  const pods = await api.store.listPods({ tenantId: api.tenant.id, namespace: "default" });
  const mine = pods.filter((p) => p.ownerName?.startsWith(`${name}-`) && p.deletionRequestedAt === null);
  return {
    count: mine.length,
    ready: mine.filter((p) => p.ready).length,
    images: new Set(mine.map((p) => (p.spec.containers as { image: string }[])[0]?.image)),
  };
};

const replicaSets = async (name: string) =>
  (await api.store.listObjects({ kind: "ReplicaSet", tenantId: api.tenant.id, namespace: "default" }))
    .filter((rs) => rs.ownerName === name)
    .map((rs) => ({
      revision: rs.annotations["deployment.kubernetes.io/revision"],
      replicas: rs.spec.replicas,
      image: (rs.spec.template as any).spec.containers[0].image as string,
    }))
    .sort((a, b) => Number(a.revision) - Number(b.revision));

describe("rollouts through the API on simulated nodes", () => {
  it("a rolling update of 10 replicas never exceeds replicas + maxSurge pods nor drops below replicas - maxUnavailable ready", async () => {
    await api.call("POST", "/v1/apply", { body: manifest("web", "web:1", 10) });
    await api.until(async () => (await images("web")).ready === 10);
    seen.watching = "web";
    await api.call("POST", "/v1/apply", { body: manifest("web", "web:2", 10) });
    await api.until(async () => {
      const now = await images("web");
      return now.ready === 10 && now.count === 10 && now.images.size === 1 && now.images.has("web:2");
    });
    seen.watching = "";
    expect(seen.maxLive).toBeLessThanOrEqual(13);
    expect(seen.minReady).toBeGreaterThanOrEqual(8);
    expect(seen.maxLive).toBeGreaterThan(10);
    expect(await replicaSets("web")).toEqual([
      { revision: "1", replicas: 0, image: "web:1" },
      { revision: "2", replicas: 10, image: "web:2" },
    ]);
    const status = await api.until(async () => {
      const d = (await api.call("GET", `${DEP}/web`)).body;
      return (
        d.status.conditions?.find((c: any) => c.type === "Progressing")?.reason === "NewReplicaSetAvailable" && d.status
      );
    });
    expect(status).toMatchObject({ replicas: 10, updatedReplicas: 10, availableReplicas: 10 });
  });

  it("rolls back on request to the previous revision, which becomes the newest", async () => {
    const res = await api.call("POST", `${DEP}/web/rollback`, { body: {} });
    expect(res.status).toBe(200);
    expect(res.body.spec.template.spec.containers[0].image).toBe("web:1");
    expect(res.body.spec.template.metadata.labels).toEqual({ app: "web" });
    await api.until(async () => {
      const now = await images("web");
      return now.ready === 10 && now.count === 10 && now.images.size === 1 && now.images.has("web:1");
    });
    expect(await replicaSets("web")).toEqual([
      { revision: "2", replicas: 0, image: "web:2" },
      { revision: "3", replicas: 10, image: "web:1" },
    ]);
    const events = await api.call("GET", "/api/v1/namespaces/default/events?fieldSelector=involvedObject.name=web");
    expect(events.body.items.map((e: any) => e.reason)).toContain("DeploymentRollback");
    expect((await api.call("POST", `${DEP}/web/rollback`, { body: { revision: 9 } })).status).toBe(422);
    expect((await api.call("POST", `${DEP}/web/rollback`, { body: { revision: 2 }, key: api.other.key })).status).toBe(
      404,
    );
  });

  it("deleting the deployment removes its ReplicaSets and their pods", async () => {
    expect((await api.call("DELETE", `${DEP}/web`)).status).toBe(200);
    await api.until(async () => (await images("web")).count === 0 && (await replicaSets("web")).length === 0);
  });
});
