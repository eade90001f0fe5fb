import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { systemClock } from "../../src/core/clock.js";
import { SYSTEM_TENANT } from "../../src/core/tenancy.js";
import { ENDPOINT_KIND, loadEndpoints } from "../../src/providers/docker/endpoints.js";
import { DockerProvider } from "../../src/providers/docker/index.js";
import { ADMIN_KEY, createTestApi, type TestApi } from "../helpers/api.js";

/**
 * `POST /v1/admin/nodes` and `DELETE /v1/admin/nodes/{name}` without a live Engine: validation,
 * duplicates, an Engine that does not answer, `?wait=false`, redaction and unregistering.
 * test/docker/register.test.ts runs the same routes against a real extra dockerd.
 */
const NODES = "/v1/admin/nodes";
const PEM = (what: string) => `-----BEGIN ${what}-----\nMIIBfake${what.replace(/ /g, "")}\n-----END ${what}-----\n`;
const KEY = PEM("PRIVATE KEY");
const TLS = { ca: PEM("CERTIFICATE"), cert: PEM("CERTIFICATE"), key: KEY };
/** Nothing listens on these: the tests never reach beyond 127.0.0.1. */
const NO_SOCKET = "/tmp/kn-register-test-none.sock";
const NO_PORT = 1;

let sim: TestApi;
let api: TestApi<DockerProvider>;

beforeAll(async () => {
  sim = await createTestApi({ nodes: 1 });
  api = await createTestApi({
    provider: new DockerProvider({
      clock: systemClock,
      owner: "register-test",
      pingTimeoutMs: 300,
      hosts: [{ name: "configured-1", socketPath: NO_SOCKET }],
    }),
    controlPlane: { heartbeatMs: 200, nodeMonitorMs: 200, nodeGracePeriodMs: 60_000 },
  });
});
afterAll(async () => {
  await sim?.close();
  await api?.close();
});

const admin = (t: TestApi<any>, method: string, path: string, body?: object) =>
  t.call(method, path, { key: ADMIN_KEY, ...(body ? { body } : {}) });

async function storedEndpoints(t: TestApi<any>) {
  const system = await t.store.getTenantByName(SYSTEM_TENANT);
  return t.store.listObjects({ kind: ENDPOINT_KIND, tenantId: system?.id as string });
}

async function nodeNamed(name: string) {
  const res = await admin(api, "GET", "/api/v1/nodes");
  return res.body.items.find((n: { metadata: { name: string } }) => n.metadata.name === name);
}

describe("a platform of simulated nodes", () => {
  it("refuses to register or unregister a Docker host, saying why (409)", async () => {
    const post = await admin(sim, "POST", NODES, { name: "edge-1", socketPath: "/var/run/docker.sock" });
    expect(post.status).toBe(409);
    expect(post.body.error.code).toBe("CONFLICT");
    expect(post.body.error.message).toMatch(/runs simulated nodes; Docker hosts cannot be registered/);
    const del = await admin(sim, "DELETE", `${NODES}/sim-default-1`);
    expect(del.status).toBe(409);
    expect(del.body.error.message).toMatch(/simulated nodes/);
    expect(await storedEndpoints(sim)).toEqual([]);
  });
});

describe("registering a Docker host", () => {
  it.each([
    ["a missing name", { socketPath: NO_SOCKET }, "name"],
    ["a name that is no DNS label", { name: "Edge_1", socketPath: NO_SOCKET }, "name"],
    ["no endpoint", { name: "e1" }, "socketPath"],
    ["a relative socket path", { name: "e1", socketPath: "docker.sock" }, "socketPath"],
    ["a socket and a host", { name: "e1", socketPath: NO_SOCKET, host: "127.0.0.1", port: 2375 }, "host"],
    ["a host without a port", { name: "e1", host: "127.0.0.1" }, "port"],
    ["a port out of range", { name: "e1", host: "127.0.0.1", port: 70_000 }, "port"],
    ["a port with a socket", { name: "e1", socketPath: NO_SOCKET, port: 2375 }, "port"],
    ["TLS on a socket", { name: "e1", socketPath: NO_SOCKET, tls: { ca: TLS.ca } }, "tls"],
    ["a client certificate without its key", { name: "e1", host: "h", port: 2376, tls: { cert: TLS.cert } }, "tls.key"],
    ["a path instead of PEM", { name: "e1", host: "h", port: 2376, tls: { ca: "/etc/docker/ca.pem" } }, "tls.ca"],
    ["an unknown TLS field", { name: "e1", host: "h", port: 2376, tls: { ca: TLS.ca, password: "x" } }, "tls.password"],
    ["a cpu that is no quantity", { name: "e1", socketPath: NO_SOCKET, cpu: "lots" }, "cpu"],
    ["a negative memory", { name: "e1", socketPath: NO_SOCKET, memory: "-1Gi" }, "memory"],
    ["no room for pods", { name: "e1", socketPath: NO_SOCKET, maxPods: 0 }, "maxPods"],
    ["a bad label key", { name: "e1", socketPath: NO_SOCKET, labels: { "bad key!": "x" } }, "labels.bad key!"],
    [
      "the hostname label",
      { name: "e1", socketPath: NO_SOCKET, labels: { "kubernetes.io/hostname": "x" } },
      "labels.kubernetes.io/hostname",
    ],
    ["an address that is no host", { name: "e1", socketPath: NO_SOCKET, address: "http://x/" }, "address"],
    ["an unknown field", { name: "e1", socketPath: NO_SOCKET, colour: "red" }, "colour"],
  ])("%s → 422 naming %s", async (_why, body, path) => {
    const res = await admin(api, "POST", `${NODES}?wait=false`, body);
    expect(res.status).toBe(422);
    expect(res.body.error.code).toBe("INVALID");
    expect(res.body.error.message).toContain(`${path}: `);
    expect(api.provider.hasHost("e1")).toBe(false);
    expect(await storedEndpoints(api)).toEqual([]);
  });

  it("a body that is not JSON, or a wait that is not a boolean, is 400", async () => {
    const text = await api.call("POST", NODES, { key: ADMIN_KEY, body: "name: e1", contentType: "application/json" });
    expect(text.status).toBe(400);
    const wait = await admin(api, "POST", `${NODES}?wait=maybe`, { name: "e1", socketPath: NO_SOCKET });
    expect(wait.status).toBe(400);
    expect(wait.body.error.message).toMatch(/^wait: /);
  });

  it("an Engine that does not answer /_ping is refused (422) naming the endpoint, and nothing is kept", async () => {
    const res = await admin(api, "POST", NODES, { name: "silent", socketPath: NO_SOCKET });
    expect(res.status).toBe(422);
    expect(res.body.error.message).toContain(`socketPath: the Docker Engine at unix://${NO_SOCKET} did not answer`);
    expect(res.body.error.message).toContain("?wait=false");
    const tcp = await admin(api, "POST", NODES, { name: "silent", host: "127.0.0.1", port: NO_PORT });
    expect(tcp.status).toBe(422);
    expect(tcp.body.error.message).toContain(`host: the Docker Engine at tcp://127.0.0.1:${NO_PORT} did not answer`);
    expect(api.provider.hasHost("silent")).toBe(false);
    expect(await storedEndpoints(api)).toEqual([]);
  });

  it("with ?wait=false it is kept with its key as data, shown NotReady after its first heartbeat, the key never returned", async () => {
    const body = {
      name: "edge-tls",
      host: "127.0.0.1",
      port: NO_PORT,
      tls: TLS,
      labels: { "topology.kubernetes.io/zone": "edge" },
      cpu: "2",
      memory: "4Gi",
      maxPods: 20,
    };
    const res = await admin(api, "POST", `${NODES}?wait=false`, body);
    expect(res.status).toBe(201);
    expect(res.body).toMatchObject({
      name: "edge-tls",
      endpoint: `tcp://127.0.0.1:${NO_PORT}`,
      address: "127.0.0.1",
      tls: { ca: TLS.ca, cert: TLS.cert, key: "[redacted]" },
      cpu: "2000m",
      maxPods: 20,
    });
    expect(res.text).not.toContain("PRIVATEKEY");
    expect(api.provider.hasHost("edge-tls")).toBe(true);

    const [stored] = await storedEndpoints(api);
    expect(stored?.name).toBe("edge-tls");
    expect(stored?.namespace).toBe("");
    expect(JSON.stringify(stored?.spec)).not.toContain("PRIVATEKEY");
    const [loaded] = await loadEndpoints(api.store);
    expect(loaded).toMatchObject({ name: "edge-tls", protocol: "https", key: KEY, cpuMillis: 2000, maxPods: 20 });

    const node = await api.until(async () => nodeNamed("edge-tls"));
    expect(node.status.conditions[0]).toMatchObject({ type: "Ready", status: "False" });
    expect(node.status.capacity).toMatchObject({ cpu: "2000m", memory: `${4 * 1024 * 1024}Ki`, pods: "20" });
    expect(node.metadata.labels).toMatchObject({
      "kubernetes.io/hostname": "edge-tls",
      "topology.kubernetes.io/zone": "edge",
    });
  });

  it("a name already known — registered, configured or any node's — is 409, and nothing changes", async () => {
    for (const name of ["edge-tls", "configured-1"]) {
      const res = await admin(api, "POST", `${NODES}?wait=false`, { name, socketPath: NO_SOCKET });
      expect(res.status, name).toBe(409);
      expect(res.body.error.code).toBe("ALREADY_EXISTS");
      expect(res.body.error.message).toBe(`node "${name}" already exists`);
    }
    await api.store.upsertNode(
      {
        name: "elsewhere",
        provider: "other",
        address: "127.0.0.1",
        labels: {},
        cpuMillis: 1000,
        memoryBytes: 2 ** 30,
        maxPods: 10,
        ready: false,
        unschedulable: false,
        lastHeartbeatAt: null,
      },
      Date.now(),
    );
    expect((await admin(api, "POST", `${NODES}?wait=false`, { name: "elsewhere", socketPath: NO_SOCKET })).status).toBe(
      409,
    );
    expect(api.provider.hasHost("elsewhere")).toBe(false);
    expect((await storedEndpoints(api)).map((o) => o.name)).toEqual(["edge-tls"]);
  });
});

describe("unregistering a Docker host", () => {
  it("an unknown node is 404; a configured one is 409, pointing at the configuration", async () => {
    expect((await admin(api, "DELETE", `${NODES}/nope`)).status).toBe(404);
    const configured = await admin(api, "DELETE", `${NODES}/configured-1`);
    expect(configured.status).toBe(409);
    expect(configured.body.error.message).toMatch(/not registered .*--docker/);
    expect(api.provider.hasHost("configured-1")).toBe(true);
  });

  it("a registered node with no pods goes: forgotten by the provider, its record deleted, its node row gone", async () => {
    await api.until(async () => nodeNamed("edge-tls"));
    const res = await admin(api, "DELETE", `${NODES}/edge-tls`);
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ node: "edge-tls", endpoint: `tcp://127.0.0.1:${NO_PORT}`, unregistered: true });
    expect(api.provider.hasHost("edge-tls")).toBe(false);
    expect(await storedEndpoints(api)).toEqual([]);
    await api.until(async () => (await nodeNamed("edge-tls")) === undefined);
    expect((await admin(api, "DELETE", `${NODES}/edge-tls`)).status).toBe(404);
  });
});
