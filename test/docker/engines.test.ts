import { randomBytes } from "node:crypto";
import Docker from "dockerode";
import { afterAll, describe, expect, it } from "vitest";
import { bootstrap } from "../../src/cli/bootstrap.js";
import { systemClock } from "../../src/core/clock.js";
import { newId, newUid } from "../../src/core/ids.js";
import { type Rng, seededRng } from "../../src/core/rng.js";
import { openStore } from "../../src/db/index.js";
import type { Store } from "../../src/db/types.js";
import { ENDPOINT_KIND, endpointSpec, followEndpoints, systemTenantId } from "../../src/providers/docker/endpoints.js";
import { EngineLogs } from "../../src/providers/docker/engineLogs.js";
import { DockerProvider } from "../../src/providers/docker/index.js";
import { LogsUnavailableError, type ProviderEvent } from "../../src/providers/types.js";
import { DOCKER_SOCKET, describeDocker, isDockerReachable, removeOwned, waitFor } from "../helpers/docker.js";

const reachable = await isDockerReachable();
const run = randomBytes(4).toString("hex");
const owner = `test-logs-${run}`;
const NODE = "docker-main";

/** Registers an Engine in the store, as `POST /v1/admin/nodes` does. */
async function register(store: Store, name: string, socketPath: string, rng: Rng): Promise<void> {
  await store.createObject({
    tenantId: await systemTenantId(store),
    kind: ENDPOINT_KIND,
    namespace: "",
    name,
    id: newId("obj", systemClock, rng),
    uid: newUid(rng),
    apiVersion: "kubernease.io/v1",
    labels: {},
    annotations: {},
    spec: endpointSpec({ name, socketPath }),
    createdAt: systemClock.now(),
  });
}

describe("a worker following the registered Engines", () => {
  it("adds the Engines registered in the store, forgets the unregistered ones, and leaves its configured ones alone", async () => {
    const store = await openStore({ memory: true });
    const rng = seededRng(`follow-${run}`);
    await bootstrap(store, { clock: systemClock, rng });
    const provider = new DockerProvider({ clock: systemClock, hosts: [{ name: "own", socketPath: "/run/own.sock" }] });
    const configured = new Set(["own"]);
    await register(store, "edge-1", "/run/edge-1.sock", rng);
    await register(store, "edge-2", "/run/edge-2.sock", rng);
    expect(await followEndpoints(provider, store, configured)).toEqual({ added: ["edge-1", "edge-2"], removed: [] });
    expect(await followEndpoints(provider, store, configured)).toEqual({ added: [], removed: [] });
    await store.deleteObject(
      { tenantId: await systemTenantId(store), kind: ENDPOINT_KIND, namespace: "", name: "edge-1" },
      { nowMs: systemClock.now() },
    );
    expect(await followEndpoints(provider, store, configured)).toEqual({ added: [], removed: ["edge-1"] });
    expect(provider.hostNames().sort()).toEqual(["edge-2", "own"]);
    await store.close();
  });
});

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
    // Not known yet: unavailable (503 at the route), naming no node.
    await expect(logs.logs(NODE, podId, "web")).rejects.toThrow(LogsUnavailableError);
    await register(store, NODE, DOCKER_SOCKET, rng);
    // An Engine that does not answer: unavailable too, not a 500.
    await register(store, "gone", "/run/kn-no-such-engine.sock", rng);
    await expect(logs.logs("gone", podId, "web")).rejects.toThrow("cannot be reached for logs now");
    let text = "";
    for await (const chunk of await logs.logs(NODE, podId, "web")) text += chunk;
    expect(text.split("\n").sort()).toEqual(["", "hello", "oops"]);
    await logs.close();
    await store.close();
  });
});
