/**
 * `npm run bench:routing`: how fast endpoint churn reaches the managed HAProxy, and whether a rollout
 * under load fails any request.
 *
 * kubernease runs as `kubernease serve --docker unix:///var/run/docker.sock --proxy 127.0.0.1:PORT`
 * does (the HTTPS API, the control plane, the Docker provider and the HAProxy it supervises, in one
 * process, over Postgres: a scratch database on DATABASE_URL's server) and is driven through its API.
 * A client on 127.0.0.1 sends a bounded stream of requests with the tenant's Host header; the test
 * image's `/cgi-bin/whoami` answers the pod's name.
 *
 * Prints:
 *   propagation p50 / p99   pod Ready (its condition's timestamp) → the first request it serves, over
 *                           BENCH_EVENTS churn events (a pod of a 3-replica Deployment deleted, its
 *                           replacement measured); target p99 ≤ 250 ms
 *   failed requests         non-200 answers and connection errors during a rolling update of the 3
 *                           replicas to a new image, under constant load; target 0
 *   reloads                 HAProxy reloads over the churn (endpoint changes use the runtime API: 0)
 *
 * Options (env): BENCH_EVENTS (100), BENCH_MAX_SECONDS (120, the bound of every wait), DATABASE_URL.
 */
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Agent, fetch } from "undici";
import { type Platform, startPlatform } from "../src/cli/platform.js";
import { systemClock } from "../src/core/clock.js";
import { seededRng } from "../src/core/rng.js";
import type { PodRecord } from "../src/db/types.js";
import { createTenantWithKey } from "../src/http/routes/v1_admin_tenants.js";
import { HaproxyPublisher } from "../src/jobs/haproxy/publisher.js";
import { createTestDatabase } from "../test/helpers/db.js";
import { DOCKER_SOCKET } from "../test/helpers/docker.js";
import { freePort, get } from "../test/helpers/haproxy.js";

const events = Number(process.env.BENCH_EVENTS ?? 100);
const maxMs = Number(process.env.BENCH_MAX_SECONDS ?? 120) * 1000;
const HOST = "web.bench.apps.test";

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] ?? Number.NaN;
}

async function until(what: string, check: () => Promise<boolean>, pollMs = 20): Promise<void> {
  const since = performance.now();
  for (let i = 0; i < 10_000_000; i++) {
    if (await check().catch(() => false)) return;
    if (performance.now() - since > maxMs) break;
    await sleep(pollMs);
  }
  throw new Error(`${what}: not done within ${maxMs / 1000} s`);
}

function app(image: string): string {
  return `apiVersion: apps/v1
kind: Deployment
metadata: { name: web }
spec:
  replicas: 3
  selector: { matchLabels: { app: web } }
  template:
    metadata: { labels: { app: web } }
    spec:
      terminationGracePeriodSeconds: 5
      containers:
        - name: web
          image: ${image}
          ports: [{ name: http, containerPort: 8080 }]
          resources: { requests: { cpu: 50m, memory: 16Mi }, limits: { cpu: "1", memory: 32Mi } }
          readinessProbe:
            httpGet: { path: /_health, port: http }
            periodSeconds: 1
---
apiVersion: v1
kind: Service
metadata: { name: web }
spec:
  selector: { app: web }
  ports: [{ port: 80, targetPort: http }]
---
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata: { name: web }
spec:
  rules:
    - host: ${HOST}
      http:
        paths: [{ path: /, pathType: Prefix, backend: { service: { name: web, port: { number: 80 } } } }]
`;
}

/** A bounded load of `workers` clients, one request after another; records when each answer was first seen. */
function load(port: number, path: string, workers: number, max: number) {
  const tally = { sent: 0, failed: 0, firstSeen: new Map<string, number>() };
  let stopped = false;
  const loops = Array.from({ length: workers }, async () => {
    while (!stopped && tally.sent < max) {
      tally.sent++;
      const answer = await get(port, HOST, path);
      const at = Date.now();
      if (answer.status !== 200) tally.failed++;
      else if (!tally.firstSeen.has(answer.body.trim())) tally.firstSeen.set(answer.body.trim(), at);
    }
  });
  return {
    tally,
    async stop() {
      stopped = true;
      await Promise.all(loops);
      return tally;
    },
  };
}

/** When a pod's Ready condition last turned true, in ms since the epoch. */
function readyAt(pod: PodRecord): number {
  const conditions = (pod.status.conditions as { type: string; status: string; lastTransitionTime: string }[]) ?? [];
  const ready = conditions.find((c) => c.type === "Ready" && c.status === "True");
  return ready ? Date.parse(ready.lastTransitionTime) : Number.NaN;
}

async function main(): Promise<void> {
  const database = await createTestDatabase();
  const dir = await mkdtemp(join(tmpdir(), "kn-bench-routing-"));
  const proxyPort = await freePort();
  let platform: Platform | undefined;
  let dispatcher: Agent | undefined;
  try {
    platform = await startPlatform({
      host: "127.0.0.1",
      port: 0,
      dataDir: dir,
      databaseUrl: database.url,
      insecureHttp: false,
      seed: "bench-routing",
      nodes: { count: 0, cpuMillis: 0, memoryBytes: 0 },
      docker: [{ name: "bench-main", socketPath: DOCKER_SOCKET }],
      proxy: { bind: `127.0.0.1:${proxyPort}` },
    });
    const started = platform;
    const tenant = await createTenantWithKey(
      started.store,
      { clock: systemClock, rng: seededRng("bench-routing-tenant") },
      "bench",
    );
    const client = new Agent({ connect: { ca: await readFile(started.caPath as string, "utf8") } });
    dispatcher = client;
    const call = async (method: string, path: string, body?: string) => {
      const res = await fetch(`${started.url}${path}`, {
        method,
        dispatcher: client,
        headers: { authorization: `Bearer ${tenant.key}`, ...(body ? { "content-type": "application/yaml" } : {}) },
        body,
      });
      const text = await res.text();
      if (res.status >= 300) throw new Error(`${method} ${path}: ${res.status} ${text}`);
    };
    const live = async () =>
      (await started.store.listPods({ tenantId: tenant.tenant.id, namespace: "default" })).filter(
        (p) => p.labels.app === "web" && p.deletionRequestedAt === null,
      );
    const proxy = await HaproxyPublisher.attach({
      layout: { dir: join(dir, "haproxy"), bind: `127.0.0.1:${proxyPort}` },
      clock: systemClock,
    });

    await call("POST", "/v1/apply", app("kubernease-test/web:1"));
    await until("3 pods ready", async () => (await live()).filter((p) => p.ready).length === 3, 200);
    const whoami = load(proxyPort, "/cgi-bin/whoami", 4, 10_000_000);
    await until("every pod served", async () => whoami.tally.firstSeen.size >= 3);
    const reloadsBefore = await proxy.reloadCounter();

    const propagation: number[] = [];
    for (let i = 0; i < events; i++) {
      const [victim] = await live();
      if (!victim) throw new Error("no pod to delete");
      const before = new Set((await live()).map((p) => p.name));
      await call("DELETE", `/api/v1/namespaces/default/pods/${victim.name}`);
      let fresh: PodRecord | undefined;
      await until("replacement ready", async () => {
        fresh = (await live()).find((p) => !before.has(p.name) && p.ready);
        return fresh !== undefined;
      });
      const pod = fresh as PodRecord;
      await until("replacement served", async () => whoami.tally.firstSeen.has(pod.name), 5);
      propagation.push((whoami.tally.firstSeen.get(pod.name) as number) - readyAt(pod));
    }
    const reloadsAfter = await proxy.reloadCounter();
    const churn = await whoami.stop();
    propagation.sort((a, b) => a - b);
    console.log(`propagation: ${propagation.length} churn events, pod Ready → first request served by it`);
    console.log(`propagation p50: ${percentile(propagation, 50).toFixed(0)} ms`);
    console.log(`propagation p99: ${percentile(propagation, 99).toFixed(0)} ms`);
    console.log(`reloads during the churn: ${(reloadsAfter?.reloads ?? 0) - (reloadsBefore?.reloads ?? 0)}`);
    console.log(`requests during the churn: ${churn.sent}, failed: ${churn.failed}`);

    const rollout = load(proxyPort, "/", 4, 10_000_000);
    await sleep(1_000);
    await call("POST", "/v1/apply", app("kubernease-test/web:2"));
    await until("rollout done", async () => {
      const pods = await live();
      return (
        pods.length === 3 &&
        pods.every((p) => p.ready && (p.spec.containers as { image: string }[])[0]?.image === "kubernease-test/web:2")
      );
    });
    await sleep(1_000);
    const rolled = await rollout.stop();
    console.log(`rollout: 3 replicas to a new image under load, ${rolled.sent} requests`);
    console.log(`failed requests: ${rolled.failed}`);
  } finally {
    await dispatcher?.close();
    await platform?.stop();
    await database.drop();
    await rm(dir, { recursive: true, force: true });
  }
}

await main();
