/**
 * The distributed control plane over Docker: an API and a `kubernease worker` as separate
 * processes, one Engine as the node (a `dockerd` of its own, test/helpers/docker.ts). The worker
 * runs the pod; the API, which runs nothing, reads its output from the Engine for the log route.
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
    await node.start();
    await removeOurs([node], OWNER);
    database = await createTestDatabase();
    const docker = `${node.name}=unix://${node.socketPath}`;
    api = await startApi({
      host: "127.0.0.1",
      port: 0,
      dataDir: join(dir, "api"),
      databaseUrl: database.url,
      redisUrl,
      insecureHttp: true,
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
    await removeOurs([node], OWNER);
    await dropRedisPrefix(prefix);
    await database?.drop();
    rmSync(dir, { recursive: true, force: true });
  }, TEST_MS);

  it(
    "answers a pod's log, read from the Engine the worker runs it on",
    async () => {
      const call = (path: string, body?: string) =>
        fetch(`${api.url}${path}`, {
          method: body ? "POST" : "GET",
          headers: { authorization: `Bearer ${key}`, ...(body ? { "content-type": "application/yaml" } : {}) },
          body,
          signal: AbortSignal.timeout(15_000),
        });
      const pod = `apiVersion: v1
kind: Pod
metadata: { name: talker }
spec:
  containers:
    - name: main
      image: kubernease-test/web:1
      command: ["sh", "-c", "echo hello from ${node.name}; exec sleep 3600"]
      resources: { requests: { cpu: 50m, memory: 16Mi } }
`;
      expect((await call("/v1/apply", pod)).status).toBe(200);
      const deadline = Date.now() + 180_000;
      let last = "";
      while (Date.now() < deadline) {
        const [record] = await store.listPods({ tenantId });
        if (record?.phase === "Running") {
          const res = await call("/api/v1/namespaces/default/pods/talker/log");
          last = `${res.status} ${await res.text()}`;
          if (last === `200 hello from ${node.name}\n`) break;
        }
        await new Promise((r) => setTimeout(r, 250));
      }
      expect(last).toBe(`200 hello from ${node.name}\n`);
    },
    TEST_MS,
  );
});
