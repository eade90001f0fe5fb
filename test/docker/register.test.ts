import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { serveConfig } from "../../src/cli/config.js";
import { type Platform, startPlatform } from "../../src/cli/platform.js";
import { ENDPOINT_KIND } from "../../src/providers/docker/endpoints.js";
import { LABELS } from "../../src/providers/docker/index.js";
import { type DockerNode, describeDocker, isDockerReachable, startDockerNodes, waitFor } from "../helpers/docker.js";

/**
 * A Docker host registered at run time, end to end: the platform of `kubernease serve --provider docker`
 * (in-process, PGlite in a data folder) with no configured Engine, and one extra dockerd (node 7,
 * test/helpers/docker.ts) registered at `POST /v1/admin/nodes`, kept across a restart, then unregistered.
 */
const reachable = await isDockerReachable();
const ADMIN = "kn_test_admin_key_for_the_register_suite_0123456789";
/** `serve` labels what it creates with the default owner; node 7 is this suite's alone. */
const OWNER = "kubernease";

const DEPLOYMENT = `apiVersion: apps/v1
kind: Deployment
metadata: { name: web }
spec:
  replicas: 1
  selector: { matchLabels: { app: web } }
  template:
    metadata: { labels: { app: web } }
    spec:
      terminationGracePeriodSeconds: 2
      containers:
        - name: web
          image: kubernease-test/web:1
          ports: [{ containerPort: 8080 }]
          resources: { requests: { cpu: 100m, memory: 32Mi } }
`;

describe("serve --provider", () => {
  it("chooses Docker with no configured Engine, or the simulated nodes; anything else is refused", () => {
    expect(serveConfig({ provider: "docker" }, {}).provider).toBe("docker");
    expect(serveConfig({}, { KUBERNEASE_PROVIDER: "simulated" }).provider).toBe("simulated");
    expect(serveConfig({}, {}).provider).toBeUndefined();
    expect(() => serveConfig({ provider: "kvm" }, {})).toThrow(/--provider must be docker or simulated/);
  });
});

describeDocker("Docker hosts registered at run time", reachable, () => {
  let node: DockerNode;
  let platform: Platform | undefined;
  let dataDir: string;
  let tenantKey: string;

  const start = async () => {
    platform = await startPlatform({
      host: "127.0.0.1",
      port: 0,
      dataDir,
      adminKey: ADMIN,
      insecureHttp: true,
      seed: "register",
      nodes: { count: 1, cpuMillis: 1000, memoryBytes: 2 ** 30 },
      provider: "docker",
    });
    return platform;
  };

  async function call(method: string, path: string, body?: string | object, key = ADMIN) {
    const json = typeof body === "object";
    const res = await fetch(`${platform?.url}${path}`, {
      method,
      headers: {
        authorization: `Bearer ${key}`,
        ...(body !== undefined ? { "content-type": json ? "application/json" : "application/yaml" } : {}),
      },
      body: json ? JSON.stringify(body) : body,
    });
    return { status: res.status, body: (await res.json()) as any };
  }

  const nodeView = async () =>
    (await call("GET", "/api/v1/nodes")).body.items.find((n: any) => n.metadata.name === node.name);
  const isReady = (view: any) => view?.status.conditions[0].status === "True";

  /** Our containers on the node's Engine (all of them, or one pod's). */
  async function containersOnNode(podId?: string) {
    const label = [`${LABELS.owner}=${OWNER}`, ...(podId ? [`${LABELS.pod}=${podId}`] : [])];
    return node.client().listContainers({ all: true, filters: JSON.stringify({ label }) });
  }

  async function removeOurs(): Promise<void> {
    const docker = node.client();
    await Promise.all((await containersOnNode()).map((c) => docker.getContainer(c.Id).remove({ force: true })));
    const networks = await docker.listNetworks({ filters: JSON.stringify({ label: [`${LABELS.owner}=${OWNER}`] }) });
    await Promise.all(
      networks.map((n) =>
        docker
          .getNetwork(n.Id)
          .remove()
          .catch(() => {}),
      ),
    );
  }

  beforeAll(async () => {
    [node] = (await startDockerNodes(7, 1)) as [DockerNode];
    await removeOurs();
    dataDir = await mkdtemp(join(tmpdir(), "kn-register-"));
    tenantKey = (await start()).bootstrap.firstTenant?.key as string;
  }, 120_000);

  afterAll(async () => {
    await platform?.stop();
    if (node && (await node.ping())) await removeOurs();
    await node?.stop();
    if (dataDir) await rm(dataDir, { recursive: true, force: true });
  }, 120_000);

  it("registered over HTTP, the Engine becomes a Ready node and a pod scheduled there runs on it", async () => {
    expect((await call("GET", "/api/v1/nodes")).body.items).toEqual([]);
    const res = await call("POST", "/v1/admin/nodes", {
      name: node.name,
      socketPath: node.socketPath,
      labels: { "topology.kubernetes.io/zone": "zone-r" },
    });
    expect(res.status).toBe(201);
    expect(res.body).toMatchObject({ name: node.name, endpoint: `unix://${node.socketPath}`, address: "127.0.0.1" });
    expect(await waitFor(async () => isReady(await nodeView()), 30_000)).toBe(true);
    expect((await nodeView()).metadata.labels["topology.kubernetes.io/zone"]).toBe("zone-r");

    expect((await call("POST", "/v1/apply", DEPLOYMENT, tenantKey)).status).toBe(200);
    const running = async () => {
      const [pod] = await (platform as Platform).store.listPods({});
      if (pod?.nodeName !== node.name || pod.phase !== "Running") return false;
      const apps = (await containersOnNode(pod.id)).filter((c) => c.Labels[LABELS.role] !== "sandbox");
      return apps.length === 1 && apps[0]?.State === "running";
    };
    expect(await waitFor(running, 60_000)).toBe(true);
  });

  it("unregistering is refused while a pod runs there, and the node stays", async () => {
    const res = await call("DELETE", `/v1/admin/nodes/${node.name}`);
    expect(res.status).toBe(409);
    expect(res.body.error.message).toMatch(/still runs 1 pod\(s\) other than daemon pods .*drain it first/);
    expect(isReady(await nodeView())).toBe(true);
  });

  it("after a restart of the control plane on the same store the node is still known and heartbeats", async () => {
    const stoppedAt = Date.now();
    await platform?.stop();
    platform = undefined;
    await start();
    const endpoints = await (platform as unknown as Platform).store.listObjects({ kind: ENDPOINT_KIND });
    expect(endpoints.map((o) => o.name)).toEqual([node.name]);
    const beat = async () => {
      const view = await nodeView();
      return isReady(view) && Date.parse(view.status.conditions[0].lastHeartbeatTime) > stoppedAt;
    };
    expect(await waitFor(beat, 30_000)).toBe(true);
    const [pod] = await (platform as unknown as Platform).store.listPods({});
    expect(pod?.nodeName).toBe(node.name);
    expect(pod?.deletionRequestedAt).toBeNull();
  });

  it("after a drain it is unregistered: the provider forgets it and the node goes, for good", async () => {
    const drained = await call("POST", `/v1/admin/nodes/${node.name}/drain`, {});
    expect(drained.body.evicted).toHaveLength(1);
    let status = 0;
    const accepted = async () => {
      const res = await call("DELETE", `/v1/admin/nodes/${node.name}`);
      status = res.status;
      if (res.status === 409) expect(res.body.error.message).toMatch(/terminating after the drain|drain it first/);
      return res.status === 200;
    };
    expect(await waitFor(accepted, 60_000), `last status ${status}`).toBe(true);
    expect(await waitFor(async () => (await nodeView()) === undefined, 30_000)).toBe(true);
    // The evicted pod's containers went before the node did; its replacement waits, with nowhere to go.
    expect(await containersOnNode()).toEqual([]);
    await platform?.stop();
    platform = undefined;
    await start();
    expect(await (platform as unknown as Platform).store.listObjects({ kind: ENDPOINT_KIND })).toEqual([]);
  });
});
