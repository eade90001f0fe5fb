import { randomBytes } from "node:crypto";
import Docker from "dockerode";
import { afterAll, beforeAll, expect, it } from "vitest";
import { systemClock } from "../../src/core/clock.js";
import { DockerProvider, LABELS, tenantNetworkName } from "../../src/providers/docker/index.js";
import { claimVolumeName } from "../../src/providers/docker/spec.js";
import { createTestApi, type TestApi } from "../helpers/api.js";
import { DOCKER_SOCKET, describeDocker, isDockerReachable, removeOwned } from "../helpers/docker.js";

/**
 * A claim through the control plane on a real Engine: its pod writes to a named Docker volume that
 * outlives the pod; deleting the pod and the claim removes the volume (and the tenant's network
 * goes with its last pod).
 */
const reachable = await isDockerReachable();
const owner = `pvc-${randomBytes(4).toString("hex")}`;
const NODE = "docker-main";

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
  terminationGracePeriodSeconds: 1
  containers:
    - name: db
      image: kubernease-test/web:1
      command: [sh, -c, "echo kept > /data/file && exec httpd -f -p 8080 -h /www"]
      resources: { requests: { cpu: 100m, memory: 32Mi } }
      volumeMounts: [{ name: data, mountPath: /data }]
  volumes:
    - name: data
      persistentVolumeClaim: { claimName: data }
`;

describeDocker("a claim's Docker volume through the control plane", reachable, () => {
  const docker = new Docker({ socketPath: DOCKER_SOCKET });
  let api: TestApi<DockerProvider>;

  beforeAll(async () => {
    const provider = new DockerProvider({
      clock: systemClock,
      owner,
      hosts: [{ name: NODE, socketPath: DOCKER_SOCKET }],
    });
    api = await createTestApi({ provider });
  });

  afterAll(async () => {
    await api?.close();
    await removeOwned(docker, owner);
    if (api) {
      await docker
        .getNetwork(tenantNetworkName(api.tenant.id))
        .remove()
        .catch(() => {});
    }
  });

  const volumeExists = (name: string) =>
    docker
      .getVolume(name)
      .inspect()
      .then(
        () => true,
        () => false,
      );
  const networkExists = async (name: string) =>
    (await docker.listNetworks({ filters: JSON.stringify({ name: [name] }) })).some((n) => n.Name === name);

  it("keeps the volume while its pod runs, removes it once the pod and the claim are deleted", async () => {
    expect((await api.call("POST", "/v1/apply", { body: MANIFEST })).status).toBe(200);
    await api.until(async () => {
      const [pod] = await api.store.listPods({ tenantId: api.tenant.id, namespace: "default" });
      return pod?.phase === "Running";
    }, 90_000);
    const name = claimVolumeName({ tenantId: api.tenant.id, namespace: "default", claimName: "data" });
    expect((await docker.getVolume(name).inspect()).Labels?.[LABELS.owner]).toBe(owner);
    expect(await networkExists(tenantNetworkName(api.tenant.id))).toBe(true);

    expect((await api.call("DELETE", "/api/v1/namespaces/default/persistentvolumeclaims/data")).status).toBe(200);
    expect((await api.call("DELETE", "/api/v1/namespaces/default/pods/db")).status).toBe(200);
    await api.until(async () => !(await volumeExists(name)), 90_000);
    await api.until(async () => (await api.store.listObjects({ kind: "PersistentVolume" })).length === 0, 30_000);
    expect(await networkExists(tenantNetworkName(api.tenant.id))).toBe(false);
  }, 180_000);
});
