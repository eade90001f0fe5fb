/**
 * The distributed control plane under faults (issue 6): an API, two `kubernease worker` processes
 * and simulated nodes in a process of their own (`kubernease nodes --simulated`), over Postgres and
 * Redis. Workers are killed with SIGKILL; R2 restarts a Redis and a Postgres of its own.
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
import type { PodRecord, Store } from "../../src/db/types.js";
import { createTenantWithKey } from "../../src/http/routes/v1_admin_tenants.js";
import { RemoteProvider } from "../../src/providers/remote/client.js";
import { createTestDatabase, describePostgres, isPostgresReachable } from "../helpers/db.js";
import { canRunOwnServices, type OwnService, startOwnPostgres, startOwnRedis } from "../helpers/ownServices.js";
import { type Child, spawnNodes, spawnWorker, type WorkerEnv } from "../helpers/processes.js";
import { describeRedis, dropRedisPrefix, isRedisReachable, redisUrl } from "../helpers/redis.js";

const TEST_MS = 420_000;
const postgres = await isPostgresReachable();
const redis = await isRedisReachable();

function deployment(name: string, image: string, replicas: number): string {
  return `apiVersion: apps/v1
kind: Deployment
metadata: { name: ${name} }
spec:
  replicas: ${replicas}
  selector: { matchLabels: { app: ${name} } }
  template:
    metadata: { labels: { app: ${name} } }
    spec:
      containers: [{ name: web, image: "${image}", resources: { requests: { cpu: 50m, memory: 32Mi } } }]
`;
}

/** An API in this process, a tenant on it, and a way to call it. */
async function apiFor(databaseUrl: string, redisAt: string, dataDir: string, nodesUrl: string, token: string) {
  const api = await startApi({
    host: "127.0.0.1",
    port: 0,
    dataDir,
    databaseUrl,
    redisUrl: redisAt,
    insecureHttp: true,
    nodes: { count: 0, cpuMillis: 0, memoryBytes: 0 },
    nodesUrl,
    nodesToken: token,
  });
  const store = await openStore({ databaseUrl, dataDir: join(dataDir, "pglite") });
  const tenant = await createTenantWithKey(store, { clock: systemClock, rng: seededRng(dataDir) }, "acme");
  const call = async (method: string, path: string, body?: string) => {
    const res = await fetch(`${api.url}${path}`, {
      method,
      headers: { authorization: `Bearer ${tenant.key}`, ...(body ? { "content-type": "application/yaml" } : {}) },
      body,
      signal: AbortSignal.timeout(15_000),
    });
    return { status: res.status, text: await res.text() };
  };
  return { api, store, tenantId: tenant.tenant.id, call };
}

/** Polls `check` (bounded by `timeoutMs`), returning its first truthy answer. */
async function until<T>(what: string, check: () => Promise<T | undefined | false>, timeoutMs = 120_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  while (Date.now() < deadline) {
    try {
      const value = await check();
      if (value) return value;
    } catch (error) {
      last = error;
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`${what}: not within ${timeoutMs} ms${last ? ` (last error: ${String(last)})` : ""}`);
}

const imageOf = (p: PodRecord) => (p.spec.containers as { image: string }[])[0]?.image;

describePostgres("distributed control plane", postgres, () => {
  describeRedis("R1: SIGKILLed workers during a rollout", redis, () => {
    const token = randomBytes(16).toString("hex");
    const prefix = `kn-r1-${randomBytes(4).toString("hex")}`;
    const dir = mkdtempSync(join(tmpdir(), "kn-r1-"));
    let database: { url: string; drop(): Promise<void> };
    let nodes: Child & { url: string };
    let env: WorkerEnv;
    const workers: Child[] = [];
    let api: RunningProcess;
    let store: Store;
    let tenantId: string;
    let call: (method: string, path: string, body?: string) => Promise<{ status: number; text: string }>;

    beforeAll(async () => {
      database = await createTestDatabase();
      nodes = await spawnNodes(token, 10, ["--node-cpu", "8", "--node-memory", "16Gi", "--seed", "r1"]);
      env = { databaseUrl: database.url, redisUrl, queuePrefix: prefix, nodesUrl: nodes.url, nodesToken: token };
      const made = await apiFor(database.url, redisUrl, join(dir, "api"), nodes.url, token);
      ({ api, store, tenantId, call } = made);
      for (let i = 0; i < 2; i++) workers.push(await spawnWorker(env, join(dir, `w${i}`)));
    }, TEST_MS);

    afterAll(async () => {
      await Promise.all(workers.map((w) => w.stop()));
      await api?.stop();
      await store?.close();
      await nodes?.stop();
      await dropRedisPrefix(prefix);
      await database?.drop();
      rmSync(dir, { recursive: true, force: true });
    }, TEST_MS);

    it(
      "converges with no duplicate and no lost pod, in the store and on the nodes",
      async () => {
        const pods = async () => (await store.listPods({ tenantId })).filter((p) => p.labels.app === "web");
        expect((await call("POST", "/v1/apply", deployment("web", "web:1", 50))).status).toBe(200);
        await until("50 ready", async () => (await pods()).filter((p) => p.ready).length === 50);

        expect((await call("POST", "/v1/apply", deployment("web", "web:2", 50))).status).toBe(200);
        // Ten kills at seeded moments, each worker started again at once (as a process manager does).
        const rng = seededRng("r1-kills");
        for (let kill = 0; kill < 10; kill++) {
          await new Promise((r) => setTimeout(r, 200 + rng.int(1_300)));
          const index = rng.int(workers.length);
          await workers[index]?.kill();
          workers[index] = await spawnWorker(env, join(dir, `w${index}`));
        }

        const done = await until(
          "the rollout converges",
          async () => {
            const all = await pods();
            const live = all.filter((p) => p.deletionRequestedAt === null);
            return all.length === 50 && live.every((p) => p.ready && imageOf(p) === "web:2") && all;
          },
          240_000,
        );
        // No duplicate: 50 pods, 50 names. No lost pod: the nodes run exactly the store's pods, no more.
        expect(new Set(done.map((p) => p.name)).size).toBe(50);
        const provider = await RemoteProvider.connect({ url: nodes.url, token });
        try {
          const running = await until("the nodes run exactly the store's pods", async () => {
            const ids = (await provider.listPods()).map((p) => p.podId).sort();
            const stored = (await pods()).map((p) => p.id).sort();
            return JSON.stringify(ids) === JSON.stringify(stored) && ids;
          });
          expect(running).toHaveLength(50);
        } finally {
          await provider.close();
        }
      },
      TEST_MS,
    );
  });

  const own = canRunOwnServices();
  // R2 runs a Redis and a Postgres of its own (Debian's initdb and redis-server, as npm test installs them).
  describeRedis("R2: Redis, then Postgres, restarted under applies", redis && own, () => {
    const token = randomBytes(16).toString("hex");
    const prefix = `kn-r2-${randomBytes(4).toString("hex")}`;
    const dir = mkdtempSync(join(tmpdir(), "kn-r2-"));
    let pg: OwnService;
    let rd: OwnService;
    let nodes: Child & { url: string };
    const workers: Child[] = [];
    let api: RunningProcess;
    let store: Store;
    let tenantId: string;
    let call: (method: string, path: string, body?: string) => Promise<{ status: number; text: string }>;

    beforeAll(async () => {
      pg = await startOwnPostgres();
      rd = await startOwnRedis();
      nodes = await spawnNodes(token, 4, ["--seed", "r2"]);
      const env = {
        databaseUrl: pg.url,
        redisUrl: rd.url,
        queuePrefix: prefix,
        nodesUrl: nodes.url,
        nodesToken: token,
      };
      const made = await apiFor(pg.url, rd.url, join(dir, "api"), nodes.url, token);
      ({ api, store, tenantId, call } = made);
      for (let i = 0; i < 2; i++) workers.push(await spawnWorker(env, join(dir, `w${i}`)));
    }, TEST_MS);

    afterAll(async () => {
      await Promise.all(workers.map((w) => w.stop()));
      await api?.stop();
      await store?.close();
      await nodes?.stop();
      await rd?.destroy();
      await pg?.destroy();
      rmSync(dir, { recursive: true, force: true });
    }, TEST_MS);

    it(
      "keeps every apply that got a 2xx, and reconciles it, with no process restarted",
      async () => {
        const accepted: string[] = [];
        const refused: number[] = [];
        let n = 0;
        let applying = true;
        const applies = (async () => {
          // Bounded: at most 400 applies, one after another.
          while (applying && n < 400) {
            const name = `app-${n++}`;
            const res = await call("POST", "/v1/apply", deployment(name, "web:1", 1)).catch(() => ({ status: 0 }));
            if (res.status >= 200 && res.status < 300) accepted.push(name);
            else refused.push(res.status);
            await new Promise((r) => setTimeout(r, 100));
          }
        })();
        const acceptedBy = async (count: number) =>
          until(`${count} applies accepted`, async () => accepted.length >= count);
        await acceptedBy(5);
        await rd.stop();
        await new Promise((r) => setTimeout(r, 2_000));
        await rd.start();
        await acceptedBy(accepted.length + 5);
        await pg.stop();
        await new Promise((r) => setTimeout(r, 2_000));
        await pg.start();
        await acceptedBy(accepted.length + 5);
        applying = false;
        await applies;

        await until(
          "every accepted apply is stored and has its ready pod",
          async () => {
            const deployments = new Set((await store.listObjects({ kind: "Deployment", tenantId })).map((d) => d.name));
            const ready = new Set((await store.listPods({ tenantId })).filter((p) => p.ready).map((p) => p.labels.app));
            return accepted.every((name) => deployments.has(name) && ready.has(name));
          },
          240_000,
        );
        // While Postgres was down an apply was refused as unavailable (to retry), never as a failure of ours.
        expect(refused.filter((status) => status !== 503)).toEqual([]);
        expect(workers.every((w) => w.alive())).toBe(true);
        expect((await call("GET", "/readyz")).status).toBe(200);
      },
      TEST_MS,
    );
  });
});
