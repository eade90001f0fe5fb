/**
 * `npm run bench:docker`: kubernease on real Docker Engines, and the same workload on Docker Swarm.
 *
 * Everything runs on this machine: three extra `dockerd`s stand in for kubernease's nodes and a
 * fourth, of its own, runs a one-node Swarm (test/helpers/docker.ts starts them; the test images
 * come from the first Engine). kubernease runs as `kubernease serve` does — the HTTPS API, the
 * control plane and the Docker provider in one process, over Postgres (a scratch database on
 * DATABASE_URL's server) — and is driven through its API.
 *
 * Prints:
 *   ready p50 / p99       pod created → Ready (readiness probe on /_health passed), over 50 pods
 *                         of one Deployment created at once, spread over the three nodes, from the
 *                         pods' own condition timestamps; then the same 50 created one every
 *                         BENCH_PACE_MS (500), as Kubernetes' startup SLO is measured at a sustained
 *                         rate, and 10 created one at a time
 *   failover              the worst of 5 `dockerd` kills (SIGKILL, with its containerd) under a
 *                         3-replica Deployment: kill → 3 Ready again on the other hosts
 *   swarm ratio           kubernease time / Swarm time for: create 20 healthy, replace a killed
 *                         replica, scale 20 → 50 — both on one host of their own, the same image,
 *                         a readiness probe every 1 s against Swarm's 1 s health check
 *   engine floor          20 bare containers of that image created and started at once on
 *                         kubernease's host through the Engine API, until each answers /_health:
 *                         what "create 20 healthy" cannot go below on this machine; and the same
 *                         20 with no network at all (`NetworkMode: none`), until started: what
 *                         the Engine takes for the containers alone
 *
 * Before each timed phase it waits (at most 30 s) for the machine to be quiet: what the last phase left
 * the kernel and the Engines to finish is not timed in the next.
 *
 * Options (env): BENCH_NODES (default "1,2,3": DockerNode indexes for kubernease),
 * BENCH_SWARM_NODE (default 9), BENCH_READY_PODS (50), BENCH_PACE_MS (500), BENCH_KILLS (5), BENCH_MAX_SECONDS (120, the
 * bound of every wait), DATABASE_URL.
 */
import { execFile } from "node:child_process";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import type Docker from "dockerode";
import { Agent, fetch } from "undici";
import { type Platform, startPlatform } from "../src/cli/platform.js";
import { systemClock } from "../src/core/clock.js";
import { seededRng } from "../src/core/rng.js";
import type { PodRecord } from "../src/db/types.js";
import { createTenantWithKey } from "../src/http/routes/v1_admin_tenants.js";
import { LABELS } from "../src/providers/docker/index.js";
import { createTestDatabase } from "../test/helpers/db.js";
import { DockerNode } from "../test/helpers/docker.js";

const run = promisify(execFile);
const nodeIndexes = (process.env.BENCH_NODES ?? "1,2,3").split(",").map(Number);
const swarmIndex = Number(process.env.BENCH_SWARM_NODE ?? 9);
const readyPods = Number(process.env.BENCH_READY_PODS ?? 50);
const kills = Number(process.env.BENCH_KILLS ?? 5);
const maxMs = Number(process.env.BENCH_MAX_SECONDS ?? 120) * 1000;
const paceMs = Number(process.env.BENCH_PACE_MS ?? 500);
const IMAGE = "kubernease-test/web:1";

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] ?? Number.NaN;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Polls until `check` holds; the elapsed ms since `since`. Throws past the bound. */
async function until(
  what: string,
  since: number,
  check: () => Promise<boolean>,
  pollMs = 50,
  explain?: () => Promise<string>,
): Promise<number> {
  for (let i = 0; i < 1_000_000; i++) {
    if (await check().catch(() => false)) return performance.now() - since;
    if (performance.now() - since > maxMs) break;
    await sleep(pollMs);
  }
  const why = explain ? `\n${await explain().catch((error: unknown) => String(error))}` : "";
  throw new Error(`${what}: not done within ${maxMs / 1000} s${why}`);
}

/** The machine's busy CPU time and total CPU time so far (the first line of /proc/stat), in ticks. */
async function cpuTicks(): Promise<{ busy: number; total: number }> {
  const fields = (await readFile("/proc/stat", "utf8")).split("\n")[0]?.trim().split(/\s+/).slice(1).map(Number) ?? [];
  const total = fields.reduce((a, b) => a + b, 0);
  // idle and iowait
  return { busy: total - (fields[3] ?? 0) - (fields[4] ?? 0), total };
}

/**
 * Waits (at most 30 s) until the machine is quiet, under a fifth of its CPU busy over a second, so that
 * what one phase left the kernel and the Engines to finish (the network namespaces of 50 removed pods
 * go down in the background) is not timed in the next phase. Prints how long it waited.
 */
async function quiet(before: string): Promise<void> {
  const started = performance.now();
  let last = await cpuTicks();
  for (let i = 0; i < 30; i++) {
    await sleep(1_000);
    const now = await cpuTicks();
    const busy = (now.busy - last.busy) / Math.max(1, now.total - last.total);
    last = now;
    if (busy < 0.2) break;
  }
  console.log(`  (quiet before ${before} after ${((performance.now() - started) / 1000).toFixed(1)} s)`);
}

/** The label each node gets here with its own name: a tenant's pod asks for a node by it (not by node name: refused). */
const HOST_LABEL = "bench.kubernease.dev/host";

function deployment(name: string, replicas: number, options: { node?: string; spread?: boolean } = {}): string {
  const selector = options.node ? `nodeSelector: { ${HOST_LABEL}: ${options.node} }` : "";
  const spread = options.spread
    ? `topologySpreadConstraints:
        - { maxSkew: 1, topologyKey: kubernetes.io/hostname, whenUnsatisfiable: ScheduleAnyway, labelSelector: { matchLabels: { app: ${name} } } }`
    : "";
  return `apiVersion: apps/v1
kind: Deployment
metadata: { name: ${name} }
spec:
  replicas: ${replicas}
  selector: { matchLabels: { app: ${name} } }
  template:
    metadata: { labels: { app: ${name} } }
    spec:
      ${selector}
      ${spread}
      terminationGracePeriodSeconds: 1
      containers:
        - name: web
          image: ${IMAGE}
          ports: [{ name: http, containerPort: 8080 }]
          resources: { requests: { cpu: 10m, memory: 16Mi } }
          readinessProbe:
            httpGet: { path: /_health, port: http }
            periodSeconds: 1
            timeoutSeconds: 1
`;
}

class Kubernease {
  private constructor(
    readonly platform: Platform,
    private readonly key: string,
    private readonly dispatcher: Agent,
    private readonly tenantId: string,
    private readonly dir: string,
    private readonly dropDb: () => Promise<void>,
  ) {}

  static async start(nodes: DockerNode[]): Promise<Kubernease> {
    const database = await createTestDatabase();
    const dir = await mkdtemp(join(tmpdir(), "kn-bench-docker-"));
    const platform = await startPlatform({
      host: "127.0.0.1",
      port: 0,
      dataDir: dir,
      databaseUrl: database.url,
      insecureHttp: false,
      seed: "bench-docker",
      nodes: { count: 0, cpuMillis: 0, memoryBytes: 0 },
      docker: nodes.map((n) => ({ name: n.name, socketPath: n.socketPath, labels: { [HOST_LABEL]: n.name } })),
    });
    const tenant = await createTenantWithKey(
      platform.store,
      { clock: systemClock, rng: seededRng("bench-docker-tenant") },
      "bench",
    );
    const { readFile } = await import("node:fs/promises");
    const ca = await readFile(platform.caPath as string, "utf8");
    const dispatcher = new Agent({ connect: { ca } });
    return new Kubernease(platform, tenant.key, dispatcher, tenant.tenant.id, dir, database.drop);
  }

  async call(method: string, path: string, body?: string, type = "application/yaml"): Promise<unknown> {
    const res = await fetch(`${this.platform.url}${path}`, {
      method,
      dispatcher: this.dispatcher,
      headers: { authorization: `Bearer ${this.key}`, ...(body ? { "content-type": type } : {}) },
      body,
    });
    const text = await res.text();
    if (res.status >= 300) throw new Error(`${method} ${path}: ${res.status} ${text}`);
    return text === "" ? undefined : JSON.parse(text);
  }

  apply(yaml: string): Promise<unknown> {
    return this.call("POST", "/v1/apply", yaml);
  }

  scale(name: string, replicas: number): Promise<unknown> {
    return this.call(
      "PATCH",
      `/apis/apps/v1/namespaces/default/deployments/${name}/scale`,
      JSON.stringify({ spec: { replicas } }),
      "application/merge-patch+json",
    );
  }

  async remove(name: string): Promise<void> {
    await this.call("DELETE", `/apis/apps/v1/namespaces/default/deployments/${name}`);
    await until(`${name} gone`, performance.now(), async () => (await this.pods(name)).length === 0, 200);
  }

  /** The live pods of one Deployment (by its `app` label), from the store. */
  async pods(app: string): Promise<PodRecord[]> {
    const pods = await this.platform.store.listPods({ tenantId: this.tenantId, namespace: "default" });
    return pods.filter((p) => p.labels.app === app);
  }

  /** Why a Deployment's pods are not all Ready: each unready pod's node, phase and container states. */
  async unready(app: string): Promise<string> {
    const lines = (await this.pods(app))
      .filter((p) => !p.ready)
      .map((p) => {
        const containers = (p.status.containerStatuses as { state?: Record<string, { reason?: string }> }[]) ?? [];
        const states = containers.map((c) =>
          Object.entries(c.state ?? {}).map(([k, v]) => `${k}${v.reason ? `(${v.reason})` : ""}`),
        );
        const conditions = (p.status.conditions as { type: string; status: string; message?: string }[]) ?? [];
        const falseOnes = conditions
          .filter((c) => c.status !== "True")
          .map((c) => `${c.type}=False ${c.message ?? ""}`);
        return `  ${p.name} on ${p.nodeName ?? "-"} (${falseOnes.join("; ")}): ${p.phase}${p.deletionRequestedAt === null ? "" : ", deleting"}, containers ${states.join(" ") || "-"}`;
      });
    const unready = (await this.pods(app)).filter((p) => !p.ready);
    for (const pod of unready.slice(0, 3)) {
      const events = await this.platform.store.listEvents({ tenantId: this.tenantId, involvedName: pod.name });
      for (const e of events) lines.push(`    ${pod.name}: ${e.type} ${e.reason} ×${e.count}: ${e.message}`);
      lines.push(`    ${pod.name}: status ${JSON.stringify(pod.status)}`);
      const socket = `/run/kn-node-${pod.nodeName?.replace("docker-node-", "")}.sock`;
      const ps = await run("docker", [
        "-H",
        `unix://${socket}`,
        "ps",
        "-a",
        "--filter",
        `label=kubernease.pod=${pod.id}`,
        "--format",
        "{{.Names}} {{.Status}} {{.Ports}}",
      ]).catch((error: unknown) => ({ stdout: String(error) }));
      lines.push(`    ${pod.name}: containers\n${ps.stdout}`);
      for (const port of ps.stdout.matchAll(/127\.0\.0\.1:(\d+)->/g)) {
        const answer = await fetch(`http://127.0.0.1:${port[1]}/_health`, { signal: AbortSignal.timeout(2000) }).then(
          (r) => `${r.status}`,
          (error: unknown) => String(error),
        );
        lines.push(`    ${pod.name}: GET 127.0.0.1:${port[1]}/_health → ${answer}`);
      }
    }
    return `${unready.length} pods of ${app} not Ready:\n${lines.join("\n")}`;
  }

  async readyCount(app: string, node?: string): Promise<number> {
    return (await this.pods(app)).filter(
      (p) => p.ready && p.deletionRequestedAt === null && (node === undefined || p.nodeName !== node),
    ).length;
  }

  async stop(): Promise<void> {
    await this.dispatcher.close();
    await this.platform.stop();
    await this.dropDb();
    await rm(this.dir, { recursive: true, force: true });
  }
}

/** When a pod's Ready condition last turned true, in ms since the epoch. */
function readyAt(pod: PodRecord): number {
  const conditions = (pod.status.conditions as { type: string; status: string; lastTransitionTime: string }[]) ?? [];
  const ready = conditions.find((c) => c.type === "Ready" && c.status === "True");
  return ready ? Date.parse(ready.lastTransitionTime) : Number.NaN;
}

/** Waits for all of a Deployment's `readyPods` to be Ready; their latencies (created → Ready), sorted. */
async function readyLatencies(kn: Kubernease, app: string): Promise<number[]> {
  const allReady = async () => (await kn.readyCount(app)) === readyPods;
  await until(`${app} pods`, performance.now(), allReady, 100, () => kn.unready(app));
  return (await kn.pods(app)).map((p) => readyAt(p) - p.createdAt).sort((a, b) => a - b);
}

async function benchReady(kn: Kubernease): Promise<void> {
  await kn.apply(deployment("ready", readyPods));
  const latencies = await readyLatencies(kn, "ready");
  console.log(`ready: ${latencies.length} pods created → Ready on ${nodeIndexes.length} Docker hosts`);
  console.log(`ready p50: ${percentile(latencies, 50).toFixed(0)} ms`);
  console.log(`ready p99: ${percentile(latencies, 99).toFixed(0)} ms`);
  await kn.remove("ready");
  await quiet("the paced pods");

  // Paced, as Kubernetes' startup SLO is measured (pods arriving at a rate the cluster sustains):
  // the same 50 pods, one more every BENCH_PACE_MS.
  await kn.apply(deployment("paced", 0, { spread: true }));
  const pacedStart = performance.now();
  for (let i = 1; i <= readyPods; i++) {
    await kn.scale("paced", i);
    await sleep(Math.max(0, pacedStart + i * paceMs - performance.now()));
  }
  const paced = await readyLatencies(kn, "paced");
  console.log(
    `ready, paced (${readyPods} pods, one every ${paceMs} ms): p50 ${percentile(paced, 50).toFixed(0)} ms, p99 ${percentile(paced, 99).toFixed(0)} ms`,
  );
  await kn.remove("paced");
  await quiet("the single pods");

  // One at a time: the latency of a single pod on a quiet cluster, without the burst's queueing.
  const single: number[] = [];
  await kn.apply(deployment("one", 0));
  for (let i = 1; i <= 10; i++) {
    await kn.scale("one", i);
    await until(
      "one ready",
      performance.now(),
      async () => (await kn.readyCount("one")) === i,
      20,
      () => kn.unready("one"),
    );
    const newest = (await kn.pods("one")).sort((a, b) => b.createdAt - a.createdAt)[0] as PodRecord;
    single.push(readyAt(newest) - newest.createdAt);
  }
  single.sort((a, b) => a - b);
  console.log(
    `ready, one pod at a time (10): p50 ${percentile(single, 50).toFixed(0)} ms, max ${percentile(single, 100).toFixed(0)} ms`,
  );
  await kn.remove("one");
}

async function benchFailover(kn: Kubernease, nodes: DockerNode[]): Promise<void> {
  await kn.apply(deployment("failover", nodes.length, { spread: true }));
  await until("failover ready", performance.now(), async () => (await kn.readyCount("failover")) === nodes.length);
  const times: number[] = [];
  for (let i = 0; i < kills; i++) {
    const victim = nodes[i % nodes.length] as DockerNode;
    const killed = performance.now();
    await victim.kill();
    const ms = await until(
      "failover",
      killed,
      async () => (await kn.readyCount("failover", victim.name)) === nodes.length,
    );
    times.push(ms);
    await victim.start();
    // Back, the host runs none of its stale containers before the next kill.
    await until("stale containers removed", performance.now(), async () => {
      const ours = await victim.client().listContainers({
        all: true,
        filters: JSON.stringify({ label: [LABELS.pod] }),
      });
      const live = new Set((await kn.pods("failover")).filter((p) => p.nodeName === victim.name).map((p) => p.id));
      return ours.every((c) => live.has(c.Labels[LABELS.pod] ?? ""));
    });
    await until("node ready", performance.now(), async () => {
      const node = (await kn.platform.store.listNodes()).find((n) => n.name === victim.name);
      return node?.ready === true;
    });
  }
  console.log(`failover (each): ${times.map((t) => (t / 1000).toFixed(1)).join(" s, ")} s`);
  console.log(`failover: ${(Math.max(...times) / 1000).toFixed(1)} s`);
  await kn.remove("failover");
}

interface Trio {
  create: number;
  replace: number;
  scale: number;
}

async function kuberneaseTrio(kn: Kubernease, node: string): Promise<Trio> {
  /** Waits for `count` Ready replicas; the ms since `since`. */
  const trioReady = (what: string, since: number, count: number) =>
    until(
      what,
      since,
      async () => (await kn.readyCount("trio")) === count,
      50,
      () => kn.unready("trio"),
    );
  const started = performance.now();
  await kn.apply(deployment("trio", 20, { node }));
  const create = await trioReady("create 20", started, 20);
  const victim = (await kn.pods("trio"))[0] as PodRecord;
  const docker = nodeClient(node);
  const [app] = await docker.listContainers({
    filters: JSON.stringify({ label: [`${LABELS.pod}=${victim.id}`, `${LABELS.role}=app`] }),
  });
  if (!app) throw new Error("no container to kill");
  const killed = performance.now();
  await docker.getContainer(app.Id).kill({ signal: "SIGKILL" });
  await until("killed noticed", killed, async () => (await kn.readyCount("trio")) < 20, 10);
  const replace = await trioReady("replace", killed, 20);
  const scaled = performance.now();
  await kn.scale("trio", 50);
  const scale = await trioReady("scale 50", scaled, 50);
  await kn.remove("trio");
  return { create, replace, scale };
}

let nodeClients: Map<string, Docker> = new Map();
function nodeClient(name: string): Docker {
  const client = nodeClients.get(name);
  if (!client) throw new Error(`no node ${name}`);
  return client;
}

async function swarmTrio(node: DockerNode): Promise<Trio> {
  const socket = `unix://${node.socketPath}`;
  const docker = node.client();
  const info = await docker.info();
  if (info.Swarm?.LocalNodeState !== "active") {
    await run("docker", ["-H", socket, "swarm", "init", "--advertise-addr", "127.0.0.1"]);
  }
  await run("docker", ["-H", socket, "service", "rm", "trio"]).catch(() => {});
  await until("old service gone", performance.now(), async () => (await tasks(docker, false)) === 0, 200);
  const healthy = () => tasks(docker, true);
  const started = performance.now();
  await run("docker", [
    "-H",
    socket,
    "service",
    "create",
    "--detach",
    "--name",
    "trio",
    "--replicas",
    "20",
    "--no-resolve-image",
    "--health-cmd",
    "wget -q -O /dev/null http://127.0.0.1:8080/_health",
    "--health-interval",
    "1s",
    "--health-start-period",
    "0s",
    IMAGE,
  ]);
  const create = await until("swarm create 20", started, async () => (await healthy()) === 20);
  const [victim] = await docker.listContainers({
    filters: JSON.stringify({ label: ["com.docker.swarm.service.name=trio"] }),
  });
  const killed = performance.now();
  await docker.getContainer((victim as Docker.ContainerInfo).Id).kill({ signal: "SIGKILL" });
  await until("swarm killed noticed", killed, async () => (await healthy()) < 20, 10);
  const replace = await until("swarm replace", killed, async () => (await healthy()) === 20);
  const scaled = performance.now();
  await run("docker", ["-H", socket, "service", "scale", "--detach", "trio=50"]);
  const scale = await until("swarm scale 50", scaled, async () => (await healthy()) === 50);
  await run("docker", ["-H", socket, "service", "rm", "trio"]);
  return { create, replace, scale };
}

/**
 * What the Engine alone takes on kubernease's host: `count` containers of the same image, each
 * publishing 8080 on 127.0.0.1, created and started all at once through the Engine API, until
 * each answers /_health — no orchestrator, no sandbox, no probe period. The ms since the first
 * create. It is the floor under "create 20 healthy" on this machine: a swarm ratio target below
 * floor / swarm time cannot be met by any client of this Engine. With `network: false` the
 * containers have no network at all (nothing to answer on): until each has started.
 */
async function engineFloor(docker: Docker, count: number, network = true): Promise<number> {
  const label = "kubernease-bench.floor";
  const remove = async () => {
    const list = await docker.listContainers({ all: true, filters: JSON.stringify({ label: [label] }) });
    await Promise.all(list.map((c) => docker.getContainer(c.Id).remove({ force: true })));
  };
  // Those a failed run left: their names would clash.
  await remove();
  const started = performance.now();
  const ports = await Promise.all(
    Array.from({ length: count }, async (_, i) => {
      const container = await docker.createContainer({
        name: `bench-floor-${i}`,
        Image: IMAGE,
        Labels: { [label]: "1" },
        ...(network
          ? {
              ExposedPorts: { "8080/tcp": {} },
              HostConfig: { PortBindings: { "8080/tcp": [{ HostIp: "127.0.0.1", HostPort: "" }] } },
            }
          : { HostConfig: { NetworkMode: "none" } }),
      });
      await container.start();
      const info = await container.inspect();
      return info.NetworkSettings.Ports?.["8080/tcp"]?.[0]?.HostPort;
    }),
  );
  if (!network) {
    const ms = performance.now() - started;
    await remove();
    return ms;
  }
  const healthy = async (port: string | undefined) => {
    const answer = await fetch(`http://127.0.0.1:${port}/_health`, { signal: AbortSignal.timeout(1000) });
    await answer.arrayBuffer();
    return answer.ok;
  };
  const answered = new Set<string>();
  const ms = await until("engine floor", started, async () => {
    await Promise.all(
      ports.map(async (port) => {
        if (port && !answered.has(port) && (await healthy(port).catch(() => false))) answered.add(port);
      }),
    );
    return answered.size === count;
  });
  await remove();
  return ms;
}

/** The service's running containers (only the healthy ones when asked). */
async function tasks(docker: Docker, healthyOnly: boolean): Promise<number> {
  const filters: Record<string, string[]> = { label: ["com.docker.swarm.service.name=trio"] };
  if (healthyOnly) filters.health = ["healthy"];
  return (await docker.listContainers({ filters: JSON.stringify(filters) })).length;
}

async function loadImage(node: DockerNode): Promise<void> {
  await run("bash", ["-o", "pipefail", "-c", `docker save ${IMAGE} | docker -H unix://${node.socketPath} load -q`]);
}

async function main(): Promise<void> {
  const nodes = nodeIndexes.map((i) => new DockerNode(i));
  const swarm = new DockerNode(swarmIndex);
  await Promise.all([...nodes, swarm].map((n) => n.start()));
  await loadImage(swarm);
  nodeClients = new Map(nodes.map((n) => [n.name, n.client()]));
  const kn = await Kubernease.start(nodes);
  try {
    await until("nodes ready", performance.now(), async () => {
      const ready = (await kn.platform.store.listNodes()).filter((n) => n.ready);
      return ready.length === nodes.length;
    });
    await benchReady(kn);
    const own = (nodes[0] as DockerNode).name;
    await quiet("the engine floor");
    const floor = await engineFloor(nodeClient(own), 20);
    await quiet("the engine floor without a network");
    const bare = await engineFloor(nodeClient(own), 20, false);
    await quiet("kubernease's create 20");
    const k = await kuberneaseTrio(kn, own);
    await quiet("Swarm's create 20");
    const s = await swarmTrio(swarm);
    const row = (name: keyof Trio) =>
      `  ${name.padEnd(8)} kubernease ${(k[name] / 1000).toFixed(2)} s, swarm ${(s[name] / 1000).toFixed(2)} s, swarm ratio: ${(k[name] / s[name]).toFixed(3)}`;
    console.log("create 20 healthy / replace a killed replica / scale 20 → 50, one host each:");
    console.log(row("create"));
    console.log(row("replace"));
    console.log(row("scale"));
    console.log(
      `  engine floor: 20 bare containers started and answering /_health in ${(floor / 1000).toFixed(2)} s, ${(floor / s.create).toFixed(3)} of swarm's create`,
    );
    console.log(
      `  engine floor, no network: 20 containers started in ${(bare / 1000).toFixed(2)} s, ${(bare / s.create).toFixed(3)} of swarm's create`,
    );
    await benchFailover(kn, nodes);
  } finally {
    await kn.stop();
    await run("docker", ["-H", `unix://${swarm.socketPath}`, "service", "rm", "trio"]).catch(() => {});
    await Promise.all([...nodes, swarm].map((n) => n.stop()));
  }
}

await main();
