import { afterAll, beforeAll, expect, it } from "vitest";
import { VOLUME_IN_USE_RETRY_MS } from "../../src/jobs/volumes.js";
import { createTestApi, type TestApi } from "../helpers/api.js";

/**
 * A deleted claim's data goes from its node (reclaim policy Delete) on the simulated nodes, through
 * the same control-plane path as on Docker: not while a pod still mounts it, then once it stops.
 */
const MANIFEST = `apiVersion: v1
kind: PersistentVolumeClaim
metadata: { name: data }
spec:
  accessModes: [ReadWriteOnce]
  resources: { requests: { storage: 1Gi } }
---
apiVersion: v1
kind: Pod
metadata: { name: db }
spec:
  terminationGracePeriodSeconds: 0
  containers:
    - name: db
      image: db:1
      resources: { requests: { cpu: 100m, memory: 64Mi } }
      volumeMounts: [{ name: data, mountPath: /data }]
  volumes:
    - name: data
      persistentVolumeClaim: { claimName: data }
`;

let api: TestApi;
beforeAll(async () => {
  api = await createTestApi({ nodes: 2 });
});
afterAll(() => api.close());

const volumeObjects = async () => (await api.store.listObjects({ kind: "PersistentVolume" })).map((v) => v.name);

it("removes a deleted claim's volume from its node once its pod is gone, and the volume object with it", async () => {
  expect((await api.call("POST", "/v1/apply", { body: MANIFEST })).status).toBe(200);
  const pod = await api.until(async () => {
    const [found] = await api.store.listPods({ tenantId: api.tenant.id, namespace: "default" });
    return found?.nodeName && found.phase === "Running" ? found : undefined;
  });
  const node = pod.nodeName as string;
  const key = `${api.tenant.id}/default/data`;
  expect(api.provider.volumesOn(node)).toEqual([key]);
  expect(await volumeObjects()).toHaveLength(1);

  // The claim goes while its pod still mounts the volume: the data stays, and so does the volume object.
  expect((await api.call("DELETE", "/api/v1/namespaces/default/persistentvolumeclaims/data")).status).toBe(200);
  await new Promise((resolve) => setTimeout(resolve, 2 * VOLUME_IN_USE_RETRY_MS));
  expect(api.provider.volumesOn(node)).toEqual([key]);
  expect(await volumeObjects()).toHaveLength(1);

  // Once the pod is gone, the claim's next look removes both.
  expect((await api.call("DELETE", "/api/v1/namespaces/default/pods/db")).status).toBe(200);
  await api.until(async () => api.provider.volumesOn(node).length === 0, 30_000);
  await api.until(async () => (await volumeObjects()).length === 0, 30_000);
});

it("removes a claim that never had a pod: no node holds data, only the volume object goes", async () => {
  const claim = MANIFEST.split("---")[0]?.replace("name: data", "name: unused") as string;
  expect((await api.call("POST", "/v1/apply", { body: claim })).status).toBe(200);
  await api.until(async () => (await volumeObjects()).length === 1);
  expect((await api.call("DELETE", "/api/v1/namespaces/default/persistentvolumeclaims/unused")).status).toBe(200);
  await api.until(async () => (await volumeObjects()).length === 0, 30_000);
});
