/**
 * The distributed control plane over Docker: an API and a `kubernease worker` as separate
 * processes, Engines of their own as nodes (`dockerd`s, test/helpers/docker.ts): one configured on
 * both, one registered through the API later. The worker runs the pods; the API, which runs
 * nothing, reads their output from the Engines for the log route.
 */
import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, expect, it } from "vitest";
import { type RunningProcess, startApi } from "../../src/cli/processes.js";
import { systemClock } from "../../src/core/clock.js";
import { seededRng } from "../../src/core/rng.js";
import { openStore } from "../../src/db/index.js";
import type { Store } from "../../src/db/types.js";
import { createTenantWithKey } from "../../src/http/routes/v1_admin_tenants.js";
import { createTestDatabase, isPostgresReachable } from "../helpers/db.js";
import { DockerNode, describeDocker, isDockerReachable, removeOurs } from "../helpers/docker.js";
import { type Child, spawnKubernease } from "../helpers/processes.js";
import { dropRedisPrefix, isRedisReachable, redisUrl } from "../helpers/redis.js";

const TEST_MS = 300_000;
const reachable = (await isDockerReachable()) && (await isPostgresReachable()) && (await isRedisReachable());
/** A node no other test uses: the worker owns every container labelled with the default owner there. */
const node = new DockerNode(11);
const registered = new DockerNode(12);
const ADMIN_KEY = `kn_admin_${randomBytes(16).toString("hex")}`;
const OWNER = "kubernease";

describeDocker("the API process over Docker, with a worker process running the pods", reachable, () => {
  const dir = mkdtempSync(join(tmpdir(), "kn-dist-docker-"));
  const prefix = `kn-dist-docker-${randomBytes(4).toString("hex")}`;
  let database: Awaited<ReturnType<typeof createTestDatabase>>;
  let api: RunningProcess;
  let worker: Child;
  let store: Store;
  let key: string;
  let tenantId: string;

  beforeAll(async () => {
    await Promise.all([node.start(), registered.start()]);
    await removeOurs([node, registered], OWNER);
    database = await createTestDatabase();
    const docker = `${node.name}=unix://${node.socketPath}`;
    api = await startApi({
      host: "127.0.0.1",
      port: 0,
      dataDir: join(dir, "api"),
      databaseUrl: database.url,
      redisUrl,
      insecureHttp: true,
      adminKey: ADMIN_KEY,
      nodes: { count: 0, cpuMillis: 0, memoryBytes: 0 },
      docker: [{ name: node.name, socketPath: node.socketPath }],
    });
    store = await openStore({ databaseUrl: database.url, dataDir: join(dir, "pglite") });
    const made = await createTenantWithKey(store, { clock: systemClock, rng: seededRng(prefix) }, "acme");
    key = made.key;
    tenantId = made.tenant.id;
    worker = await spawnKubernease(
      [
        "worker",
        ...["--port", "0", "--data-dir", join(dir, "worker"), "--database-url", database.url],
        ...["--redis-url", redisUrl, "--queue-prefix", prefix, "--docker", docker],
      ],
      {},
      /worker is running/,
    );
  }, TEST_MS);

  afterAll(async () => {
    await worker?.stop();
    await api?.stop();
    await store?.close();
    await removeOurs([node, registered], OWNER);
    await dropRedisPrefix(prefix);
    await database?.drop();
    rmSync(dir, { recursive: true, force: true });
  }, TEST_MS);

  const call = (method: string, path: string, options: { body?: string; type?: string; as?: string } = {}) =>
    fetch(`${api.url}${path}`, {
      method,
      headers: {
        authorization: `Bearer ${options.as ?? key}`,
        ...(options.body ? { "content-type": options.type ?? "application/yaml" } : {}),
      },
      body: options.body,
      signal: AbortSignal.timeout(15_000),
    });

  /**
   * A bare pod that prints a line naming `nodeName` and sleeps; with `selector`, on the nodes the
   * operator gave that label (a tenant cannot ask for a node by name).
   */
  const talker = (name: string, nodeName: string, selector?: string) => `apiVersion: v1
kind: Pod
metadata: { name: ${name} }
spec:
  ${selector ? `nodeSelector: { ${selector} }` : ""}
  terminationGracePeriodSeconds: 1
  containers:
    - name: main
      image: kubernease-test/web:1
      command: ["sh", "-c", "echo hello from ${nodeName}; exec sleep 3600"]
      resources: { requests: { cpu: 50m, memory: 16Mi } }
`;

  /** The pod's log through the API once it runs (bounded): status and body. */
  async function logOf(name: string, expected: string): Promise<string> {
    const deadline = Date.now() + 180_000;
    let last = "";
    while (Date.now() < deadline) {
      const record = await store.getPodByName(tenantId, "default", name);
      if (record?.phase === "Running") {
        const res = await call("GET", `/api/v1/namespaces/default/pods/${name}/log`);
        last = `${res.status} ${await res.text()}`;
        if (last === expected) break;
      }
      await new Promise((r) => setTimeout(r, 250));
    }
    return last;
  }

  it(
    "answers a pod's log, read from the Engine the worker runs it on",
    async () => {
      expect((await call("POST", "/v1/apply", { body: talker("talker", node.name) })).status).toBe(200);
      expect(await logOf("talker", `200 hello from ${node.name}\n`)).toBe(`200 hello from ${node.name}\n`);
    },
    TEST_MS,
  );

  it(
    "takes an Engine registered through the API: the workers run pods there, and forget it once it is unregistered",
    async () => {
      const labels = { "e2e.kubernease.dev/host": "registered" };
      const body = JSON.stringify({ name: registered.name, socketPath: registered.socketPath, labels });
      const made = await call("POST", "/v1/admin/nodes", { body, type: "application/json", as: ADMIN_KEY });
      expect(made.status).toBe(201);
      const far = talker("far", registered.name, "e2e.kubernease.dev/host: registered");
      expect((await call("POST", "/v1/apply", { body: far })).status).toBe(200);
      expect(await logOf("far", `200 hello from ${registered.name}\n`)).toBe(`200 hello from ${registered.name}\n`);

      // Unregistered once its pod has gone: the worker forgets the Engine, and the node goes.
      expect((await call("DELETE", "/api/v1/namespaces/default/pods/far")).status).toBe(200);
      const deadline = Date.now() + 120_000;
      let status = 0;
      while (Date.now() < deadline) {
        status = (await call("DELETE", `/v1/admin/nodes/${registered.name}`, { as: ADMIN_KEY })).status;
        if (status === 200) break;
        await new Promise((r) => setTimeout(r, 500));
      }
      expect(status).toBe(200);
      const gone = async () => (await store.getNode(registered.name)) === undefined;
      for (let i = 0; i < 240 && !(await gone()); i++) await new Promise((r) => setTimeout(r, 500));
      expect(await store.getNode(registered.name)).toBeUndefined();
    },
    TEST_MS,
  );
});
