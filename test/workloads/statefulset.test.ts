import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { openStore } from "../../src/db/index.js";
import type { PodRecord } from "../../src/db/types.js";
import { createTestApi, type TestApi } from "../helpers/api.js";
import { checkedStore } from "../helpers/invariants.js";

function statefulSet(name: string, image: string, storageClass = "local", replicas = 3): string {
  return `apiVersion: v1
kind: Service
metadata: { name: ${name} }
spec:
  clusterIP: None
  selector: { app: ${name} }
  ports: [{ port: 5432, name: db }]
---
apiVersion: apps/v1
kind: StatefulSet
metadata: { name: ${name} }
spec:
  serviceName: ${name}
  replicas: ${replicas}
  selector: { matchLabels: { app: ${name} } }
  template:
    metadata: { labels: { app: ${name} } }
    spec:
      containers:
        - name: db
          image: ${image}
          resources: { requests: { cpu: 100m, memory: 64Mi } }
          volumeMounts: [{ name: data, mountPath: /var/lib/db }]
  volumeClaimTemplates:
    - metadata: { name: data }
      spec:
        accessModes: [ReadWriteOnce]
        storageClassName: ${storageClass}
        resources: { requests: { storage: 1Gi } }
`;
}

/** Every deletion the platform asks for, in order, and the most ordinals unready at once — seen after each pod write. */
const seen = { deletions: [] as string[], maxUnready: 0, watching: "", twoPodsForOneOrdinal: 0 };
const deleting = new Set<string>();
function observe(pods: PodRecord[]): void {
  if (!seen.watching) return;
  const mine = pods.filter((p) => p.ownerName === seen.watching);
  for (const pod of mine) {
    if (pod.deletionRequestedAt !== null && !deleting.has(pod.uid)) {
      deleting.add(pod.uid);
      seen.deletions.push(pod.name);
    }
  }
  const names = new Set(mine.map((p) => p.name));
  const unready = ["0", "1", "2"].filter(
    (o) => !mine.some((p) => p.name.endsWith(`-${o}`) && p.ready && p.deletionRequestedAt === null),
  );
  seen.maxUnready = Math.max(seen.maxUnready, unready.length);
  const live = mine.filter((p) => p.deletionRequestedAt === null);
  if (new Set(live.map((p) => p.name)).size !== live.length) seen.twoPodsForOneOrdinal++;
  if (names.size !== mine.length) seen.twoPodsForOneOrdinal++;
}

let api: TestApi;
beforeAll(async () => {
  api = await createTestApi({ store: checkedStore(await openStore({ memory: true }), observe), nodes: 3 });
});
afterAll(() => api.close());

const pods = async (owner: string) =>
  (await api.store.listPods({ tenantId: api.tenant.id, namespace: "default" })).filter((p) => p.ownerName === owner);
const readyOrdinals = async (owner: string) =>
  (await pods(owner))
    .filter((p) => p.ready && p.deletionRequestedAt === null)
    .map((p) => p.name)
    .sort();
const claims = async () =>
  Object.fromEntries(
    ((await api.call("GET", "/api/v1/namespaces/default/persistentvolumeclaims")).body.items as any[]).map((c) => [
      c.metadata.name,
      { uid: c.metadata.uid, phase: c.status.phase, volume: c.status.volumeName },
    ]),
  );
const volumeNode = async (volumeName: string) => {
  const system = await api.store.getTenantByName("system");
  const volume = await api.store.getObject({
    tenantId: system?.id ?? "",
    kind: "PersistentVolume",
    namespace: "",
    name: volumeName,
  });
  return volume?.spec.nodeName as string | undefined;
};

describe("StatefulSets through the API", () => {
  it("creates db-0, db-1, db-2 in order, each with its own Bound claim", async () => {
    expect((await api.call("POST", "/v1/apply", { body: statefulSet("db", "pg:1") })).status).toBe(200);
    await api.until(async () => (await readyOrdinals("db")).length === 3);
    const order = (await pods("db")).sort((a, b) => a.createdAt - b.createdAt).map((p) => p.name);
    expect(order).toEqual(["db-0", "db-1", "db-2"]);
    const bound = await claims();
    expect(Object.keys(bound).sort()).toEqual(["data-db-0", "data-db-1", "data-db-2"]);
    expect(Object.values(bound).every((c: any) => c.phase === "Bound" && /^pvc-/.test(c.volume))).toBe(true);
    const pod = (await api.call("GET", "/api/v1/namespaces/default/pods/db-1")).body;
    expect(pod.spec).toMatchObject({ hostname: "db-1", subdomain: "db" });
    expect(pod.spec.volumes).toContainEqual({ name: "data", persistentVolumeClaim: { claimName: "data-db-1" } });
  });

  it("updates 2, 1, 0 one at a time, and each ordinal keeps its volume where it lives", async () => {
    const before = await claims();
    const nodesBefore = await Promise.all(Object.values(before).map((c: any) => volumeNode(c.volume)));
    expect(nodesBefore.every((n) => typeof n === "string")).toBe(true);
    seen.watching = "db";
    seen.maxUnready = 0;
    await api.call("POST", "/v1/apply", { body: statefulSet("db", "pg:2") });
    await api.until(async () => {
      const all = await pods("db");
      const images = all.map((p) => (p.spec.containers as { image: string }[])[0]?.image);
      return all.length === 3 && all.every((p) => p.ready) && images.every((i) => i === "pg:2");
    }, 30_000);
    seen.watching = "";
    expect(seen.deletions).toEqual(["db-2", "db-1", "db-0"]);
    expect(seen.maxUnready).toBeLessThanOrEqual(1);
    expect(seen.twoPodsForOneOrdinal).toBe(0);
    expect(await claims()).toEqual(before);
    expect(await Promise.all(Object.values(before).map((c: any) => volumeNode(c.volume)))).toEqual(nodesBefore);
    // The owner looks at its pods at most once a second while they keep changing (src/jobs/observe.ts):
    // its status follows the last change within that.
    const sts = await api.until(async () => {
      const body = (await api.call("GET", "/apis/apps/v1/namespaces/default/statefulsets/db")).body;
      return body.status?.readyReplicas === 3 && body;
    });
    expect(sts.status).toMatchObject({ replicas: 3, readyReplicas: 3, updatedReplicas: 3 });
    expect(sts.status.currentRevision).toBe(sts.status.updateRevision);
  });

  it("a network volume follows its ordinal to another node when its node is lost; the claim stays the same", async () => {
    await api.call("POST", "/v1/apply", { body: statefulSet("cache", "redis:7", "network", 1) });
    await api.until(async () => (await readyOrdinals("cache")).length === 1);
    const [claim] = Object.entries(await claims()).filter(([name]) => name === "data-cache-0");
    const volume = (claim?.[1] as { volume: string } | undefined)?.volume as string;
    const firstNode = (await pods("cache"))[0]?.nodeName as string;
    expect(await volumeNode(volume)).toBe(firstNode);
    api.provider.removeNode(firstNode);
    const moved = await api.until(async () => {
      const [pod] = await pods("cache");
      return pod?.ready && pod.nodeName !== firstNode && pod.nodeName;
    }, 30_000);
    expect(await volumeNode(volume)).toBe(moved);
    expect((await claims())["data-cache-0"]).toEqual(claim?.[1]);
  });

  it("deleting the StatefulSet stops its pods and keeps its claims (retention Retain)", async () => {
    expect((await api.call("DELETE", "/apis/apps/v1/namespaces/default/statefulsets/db")).status).toBe(200);
    await api.until(async () => (await pods("db")).length === 0);
    expect(Object.keys(await claims())).toContain("data-db-0");
  });
});
