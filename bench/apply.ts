/**
 * `npm run bench:apply`: latency of `POST /v1/apply` with a 10-object manifest
 * (5 Deployments + 5 Services), over HTTPS, against a real Postgres, at a bounded
 * concurrency. Each apply lands in a namespace of its own, so every one creates
 * 10 objects and 10 outbox rows in one transaction. Prints p50/p99 in ms.
 *
 * Options (env): BENCH_REQUESTS (default 400), BENCH_CONCURRENCY (default 8),
 * DATABASE_URL (default postgres://postgres@127.0.0.1:5432/postgres; a scratch
 * database is created on that server and dropped afterwards).
 */
import { Agent, fetch } from "undici";
import { bootstrap } from "../src/cli/bootstrap.js";
import { systemClock } from "../src/core/clock.js";
import { seededRng } from "../src/core/rng.js";
import { openStore } from "../src/db/index.js";
import { createApp } from "../src/http/app.js";
import { createTenantWithKey } from "../src/http/routes/v1_admin_tenants.js";
import { startServer } from "../src/http/server.js";
import { generateLocalCa } from "../src/http/tls.js";
import { createTestDatabase } from "../test/helpers/db.js";

const requests = Number(process.env.BENCH_REQUESTS ?? 400);
const concurrency = Number(process.env.BENCH_CONCURRENCY ?? 8);

function manifest(): string {
  const docs: string[] = [];
  for (let i = 0; i < 5; i++) {
    docs.push(`apiVersion: apps/v1
kind: Deployment
metadata: { name: app-${i}, labels: { app: app-${i} } }
spec:
  replicas: 2
  selector: { matchLabels: { app: app-${i} } }
  template:
    metadata: { labels: { app: app-${i} } }
    spec:
      containers:
        - name: app
          image: example/app:${i}
          ports: [{ containerPort: 8080, name: http }]
          resources: { requests: { cpu: 100m, memory: 64Mi } }`);
    docs.push(`apiVersion: v1
kind: Service
metadata: { name: app-${i} }
spec:
  selector: { app: app-${i} }
  ports: [{ port: 80, targetPort: http, name: http }]`);
  }
  return docs.join("\n---\n");
}

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] ?? Number.NaN;
}

async function main(): Promise<void> {
  const database = await createTestDatabase();
  const store = await openStore({ databaseUrl: database.url });
  const clock = systemClock;
  const rng = seededRng("bench-apply");
  await bootstrap(store, { clock, rng }, "kn_bench_admin_key_0123456789abcdefghijklmnopqrstuvw");
  const tenant = await createTenantWithKey(store, { clock, rng }, "bench");
  const tls = await generateLocalCa(clock.now());
  const server = await startServer(createApp({ store, clock, rng }), { host: "127.0.0.1", port: 0, tls });
  const dispatcher = new Agent({ connect: { ca: tls.caCert }, connections: concurrency });
  const body = manifest();
  const latencies: number[] = [];
  let next = 0;
  let failures = 0;

  const worker = async () => {
    for (;;) {
      const i = next++;
      if (i >= requests) return;
      const started = performance.now();
      const res = await fetch(`${server.url}/v1/apply?namespace=bench-${i}`, {
        method: "POST",
        dispatcher,
        headers: { authorization: `Bearer ${tenant.key}`, "content-type": "application/yaml" },
        body,
      });
      await res.arrayBuffer();
      if (res.status !== 200) failures++;
      if (i >= concurrency) latencies.push(performance.now() - started);
    }
  };
  const wall = performance.now();
  await Promise.all(Array.from({ length: concurrency }, worker));
  const wallMs = performance.now() - wall;

  latencies.sort((a, b) => a - b);
  console.log(
    `apply: ${requests} requests of 10 objects, concurrency ${concurrency}, Postgres ${store.backend}, ${failures} failed`,
  );
  console.log(`apply p50: ${percentile(latencies, 50).toFixed(1)} ms`);
  console.log(`apply p99: ${percentile(latencies, 99).toFixed(1)} ms`);
  console.log(
    `apply throughput: ${((requests / wallMs) * 1000).toFixed(0)} applies/s (${((requests * 10 * 1000) / wallMs).toFixed(0)} objects/s)`,
  );

  await dispatcher.close();
  await server.close();
  await store.close();
  await database.drop();
  if (failures > 0) process.exitCode = 1;
}

await main();
