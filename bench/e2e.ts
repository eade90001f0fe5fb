/**
 * `npm run bench:e2e`: one apply over HTTPS of a BENCH_REPLICAS-replica Deployment (10,000) onto
 * BENCH_NODES simulated nodes (1,000) through the production path: `kubernease api` (HTTPS),
 * BENCH_WORKERS `kubernease worker` processes (2), the nodes in a `kubernease nodes --simulated`
 * process of their own, the outbox, BullMQ on Redis and Postgres (a scratch database on
 * DATABASE_URL's server, queues under a fresh prefix on REDIS_URL).
 *
 * Prints `pods/s: N` (pods Running per second, from the apply's answer to the last one Running) and
 * the time to the first and the last one. Every wait is bounded by BENCH_MAX_SECONDS (600); with
 * BENCH_PROGRESS_SECONDS, how many pods are created, bound and Running is printed that often; with
 * BENCH_LOG_DIR, each process's output is written there at the end.
 */
import { randomBytes } from "node:crypto";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import postgres from "postgres";
import { Agent, fetch } from "undici";
import { systemClock } from "../src/core/clock.js";
import { seededRng } from "../src/core/rng.js";
import { openStore } from "../src/db/index.js";
import { createTenantWithKey } from "../src/http/routes/v1_admin_tenants.js";
import { createTestDatabase } from "../test/helpers/db.js";
import { freePort } from "../test/helpers/haproxy.js";
import { type Child, spawnKubernease, spawnNodes, spawnWorker } from "../test/helpers/processes.js";
import { dropRedisPrefix, redisUrl } from "../test/helpers/redis.js";

const replicas = Number(process.env.BENCH_REPLICAS ?? 10_000);
const nodeCount = Number(process.env.BENCH_NODES ?? 1_000);
const workerCount = Number(process.env.BENCH_WORKERS ?? 2);
const maxMs = Number(process.env.BENCH_MAX_SECONDS ?? 600) * 1000;
/** Every this many seconds, how many pods are created, bound and Running (0: quiet). */
const progressMs = Number(process.env.BENCH_PROGRESS_SECONDS ?? 0) * 1000;

async function main(): Promise<void> {
  const database = await createTestDatabase();
  const dir = mkdtempSync(join(tmpdir(), "kn-bench-e2e-"));
  const token = randomBytes(16).toString("hex");
  const prefix = `kn-bench-${randomBytes(4).toString("hex")}`;
  const children: Child[] = [];
  const sql = postgres(database.url, { max: 1 });
  try {
    const nodes = await spawnNodes(token, nodeCount, ["--node-cpu", "16", "--node-memory", "64Gi", "--seed", "bench"]);
    children.push(nodes);
    const port = await freePort();
    const api = await spawnKubernease(
      ["api", "--port", String(port), "--data-dir", join(dir, "api"), "--database-url", database.url],
      { REDIS_URL: redisUrl },
      /serving at/,
    );
    children.push(api);
    const env = { databaseUrl: database.url, redisUrl, queuePrefix: prefix, nodesUrl: nodes.url, nodesToken: token };
    for (let i = 0; i < workerCount; i++) children.push(await spawnWorker(env, join(dir, `w${i}`)));

    const store = await openStore({ databaseUrl: database.url, dataDir: join(dir, "pglite") });
    const tenant = await createTenantWithKey(store, { clock: systemClock, rng: seededRng("bench-e2e") }, "bench");
    await store.close();
    const dispatcher = new Agent({ connect: { ca: readFileSync(join(dir, "api", "ca.crt"), "utf8") } });
    const manifest = `apiVersion: apps/v1
kind: Deployment
metadata: { name: web }
spec:
  replicas: ${replicas}
  selector: { matchLabels: { app: web } }
  template:
    metadata: { labels: { app: web } }
    spec:
      containers: [{ name: web, image: web:1, resources: { requests: { cpu: 10m, memory: 16Mi } } }]
`;
    // Every node has joined before the clock starts.
    const deadline = Date.now() + maxMs;
    for (let i = 0; ; i++) {
      const [row] = await sql`select count(*)::int as n from nodes where ready`;
      if ((row?.n ?? 0) >= nodeCount) break;
      if (Date.now() > deadline) throw new Error(`only ${row?.n} of ${nodeCount} nodes joined`);
      await new Promise((r) => setTimeout(r, 200 + Math.min(i, 10) * 50));
    }
    const started = performance.now();
    const res = await fetch(`https://127.0.0.1:${port}/v1/apply`, {
      method: "POST",
      dispatcher,
      headers: { authorization: `Bearer ${tenant.key}`, "content-type": "application/yaml" },
      body: manifest,
    });
    if (res.status !== 200) throw new Error(`apply: ${res.status} ${await res.text()}`);
    const applied = performance.now();
    let firstMs: number | undefined;
    let running = 0;
    let nextProgressMs = progressMs;
    while (running < replicas) {
      if (progressMs > 0 && performance.now() - started >= nextProgressMs) {
        nextProgressMs += progressMs;
        const [row] = await sql`select count(*)::int as created, count(node_name)::int as bound,
          count(*) filter (where phase = 'Running')::int as running from pods where tenant_id = ${tenant.tenant.id}`;
        const at = ((performance.now() - started) / 1000).toFixed(0);
        console.log(`${at} s: ${row?.created} created, ${row?.bound} bound, ${row?.running} Running`);
      }
      const [row] =
        await sql`select count(*)::int as n from pods where tenant_id = ${tenant.tenant.id} and phase = 'Running'`;
      running = row?.n ?? 0;
      if (running > 0 && firstMs === undefined) firstMs = performance.now() - started;
      // Past the bound, the figure is what ran by then.
      if (performance.now() - started > maxMs) break;
      // Each look is a scan of the pods, on the Postgres under test: often near the first and the
      // last pod, where the figures are read off, and seldom in between.
      const pollMs = firstMs === undefined ? 100 : running < 0.9 * replicas ? 500 : 50;
      if (running < replicas) await new Promise((r) => setTimeout(r, pollMs));
    }
    const lastMs = performance.now() - started;
    console.log(`e2e: ${replicas} replicas, ${nodeCount} simulated nodes, ${workerCount} workers, BullMQ + Postgres`);
    console.log(`apply answered: ${(applied - started).toFixed(0)} ms`);
    console.log(`first Running: ${(firstMs ?? 0).toFixed(0)} ms`);
    if (running < replicas)
      console.log(`bound reached: ${running} of ${replicas} Running after ${lastMs.toFixed(0)} ms`);
    else console.log(`last Running: ${lastMs.toFixed(0)} ms`);
    console.log(`pods/s: ${((running * 1000) / lastMs).toFixed(0)}`);
    await dispatcher.close();
  } finally {
    await Promise.all(children.map((c) => c.stop()));
    // BENCH_LOG_DIR: what each process printed, for a look at why a run went as it did.
    const logDir = process.env.BENCH_LOG_DIR;
    if (logDir) mkdirSync(logDir, { recursive: true });
    for (const [i, child] of logDir ? children.entries() : []) {
      writeFileSync(join(logDir as string, `process-${i}.log`), child.output());
    }
    await sql.end();
    await dropRedisPrefix(prefix);
    await database.drop();
    rmSync(dir, { recursive: true, force: true });
  }
}

await main();
