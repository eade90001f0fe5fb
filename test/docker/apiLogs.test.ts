import { randomBytes } from "node:crypto";
import Docker from "dockerode";
import { afterAll, expect, it } from "vitest";
import { bootstrap } from "../../src/cli/bootstrap.js";
import { systemClock } from "../../src/core/clock.js";
import { newId, newUid } from "../../src/core/ids.js";
import { seededRng } from "../../src/core/rng.js";
import { openStore } from "../../src/db/index.js";
import { ENDPOINT_KIND, endpointSpec, systemTenantId } from "../../src/providers/docker/endpoints.js";
import { EngineLogs } from "../../src/providers/docker/engineLogs.js";
import { DockerProvider } from "../../src/providers/docker/index.js";
import type { ProviderEvent } from "../../src/providers/types.js";
import { DOCKER_SOCKET, describeDocker, isDockerReachable, removeOwned, waitFor } from "../helpers/docker.js";

const reachable = await isDockerReachable();
const run = randomBytes(4).toString("hex");
const owner = `test-logs-${run}`;
const NODE = "docker-main";

describeDocker("pod logs for an API process, read from the Engines", reachable, () => {
  const docker = new Docker({ socketPath: DOCKER_SOCKET });
  afterAll(() => removeOwned(docker, owner));

  it("reads a pod's output from an Engine registered after the API started, known from the store", async () => {
    // The worker's side: a provider runs the pod.
    const worker = new DockerProvider({
      clock: systemClock,
      owner,
      hosts: [{ name: NODE, socketPath: DOCKER_SOCKET }],
    });
    const events: ProviderEvent[] = [];
    worker.subscribe((e) => events.push(e));
    const podId = `talk-${run}`;
    await worker.startPod({
      podId,
      uid: `uid-${run}`,
      tenantId: `t${run}`,
      namespace: "default",
      name: "talk",
      nodeName: NODE,
      spec: {
        containers: [
          { name: "web", image: "kubernease-test/web:1", command: ["sh", "-c", "echo hello; echo oops >&2"] },
        ],
      },
    });
    const ended = await waitFor(
      async () =>
        events.some(
          (e) => e.type === "pod" && e.pod.podId === podId && "terminated" in (e.pod.containers[0]?.state ?? {}),
        ),
      30_000,
    );
    expect(ended).toBe(true);
    await worker.close();

    // The API's side: it started knowing no Engine; the Engine is then registered (as POST /v1/admin/nodes does).
    const store = await openStore({ memory: true });
    const rng = seededRng(run);
    await bootstrap(store, { clock: systemClock, rng });
    const logs = new EngineLogs(store, { clock: systemClock, hosts: [], owner });
    await expect(logs.logs(NODE, podId, "web")).rejects.toThrow(`docker node ${NODE} is not configured`);
    await store.createObject({
      tenantId: await systemTenantId(store),
      kind: ENDPOINT_KIND,
      namespace: "",
      name: NODE,
      id: newId("obj", systemClock, rng),
      uid: newUid(rng),
      apiVersion: "kubernease.io/v1",
      labels: {},
      annotations: {},
      spec: endpointSpec({ name: NODE, socketPath: DOCKER_SOCKET }),
      createdAt: systemClock.now(),
    });
    let text = "";
    for await (const chunk of await logs.logs(NODE, podId, "web")) text += chunk;
    expect(text.split("\n").sort()).toEqual(["", "hello", "oops"]);
    await logs.close();
    await store.close();
  });
});
