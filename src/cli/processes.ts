/**
 * The production split of `kubernease serve`: `kubernease api` (the HTTPS API
 * only) and `kubernease worker` (the control plane only), any number of each,
 * over one Postgres (`DATABASE_URL`) and one Redis (`REDIS_URL`).
 *
 * - The API commits desired state and outbox rows; it runs no job.
 * - Every worker runs jobs from the BullMQ queues; the singleton duties (the
 *   outbox relay, heartbeats and the node monitor, probing, resync, rebalancing)
 *   run in the one worker holding the control-plane lease (src/jobs/leader.ts).
 * - Workers reach nodes through the `NodeProvider` seam: Docker Engines
 *   (`--docker`, or registered ones), or simulated nodes of their own process
 *   (`kubernease nodes --simulated`, `--nodes-url`).
 * Each process answers `GET /healthz` and `GET /readyz` (ready only while
 * Postgres and Redis answer).
 */
import { randomBytes } from "node:crypto";
import { mkdir } from "node:fs/promises";
import { hostname } from "node:os";
import { join, resolve } from "node:path";
import { Hono } from "hono";
import { Redis } from "ioredis";
import { systemClock } from "../core/clock.js";
import { randomSeed, seededRng } from "../core/rng.js";
import { openStore } from "../db/index.js";
import type { Store } from "../db/types.js";
import { createApp } from "../http/app.js";
import type { AppEnv } from "../http/context.js";
import { registerHealth } from "../http/routes/healthz.js";
import { type RunningServer, startServer } from "../http/server.js";
import { loadTls } from "../http/tls.js";
import { BullmqQueue } from "../jobs/bullmqQueue.js";
import { ControlPlane } from "../jobs/controlPlane.js";
import { followEndpoints } from "../providers/docker/endpoints.js";
import { EngineLogs } from "../providers/docker/engineLogs.js";
import { DockerProvider } from "../providers/docker/index.js";
import { RemoteProvider } from "../providers/remote/client.js";
import type { NodeProvider } from "../providers/types.js";
import { bootstrap } from "./bootstrap.js";
import type { ServeConfig, WorkerFlags } from "./config.js";
import { dockerHosts, log, serviceProxies } from "./platform.js";

export interface RunningProcess {
  url: string;
  caPath?: string;
  stop(): Promise<void>;
}

function required(value: string | undefined, what: string): string {
  if (!value) throw new Error(`${what} is required for separate api and worker processes`);
  return value;
}

/** Whether Postgres and Redis answer, each within a few seconds. */
function readiness(store: Store, redis: Redis): () => Promise<boolean> {
  const within = <T>(promise: Promise<T>) =>
    Promise.race([promise, new Promise<never>((_, reject) => setTimeout(() => reject(new Error("timeout")), 3_000))]);
  return async () => {
    await within(store.listNodes());
    return (await within(redis.ping())) === "PONG";
  };
}

/** `kubernease api`: the HTTPS API over the shared store; jobs are left to the workers. */
export async function startApi(config: WorkerConfig): Promise<RunningProcess> {
  const databaseUrl = required(config.databaseUrl, "DATABASE_URL (--database-url)");
  const redisUrl = required(config.redisUrl, "REDIS_URL (--redis-url)");
  const dataDir = resolve(config.dataDir);
  await mkdir(dataDir, { recursive: true });
  const clock = systemClock;
  const rng = seededRng(config.seed ?? randomSeed());
  const store = await openStore({ databaseUrl, dataDir: join(dataDir, "pglite") });
  const redis = new Redis(redisUrl, { lazyConnect: true, maxRetriesPerRequest: 1 });
  let provider: Awaited<ReturnType<typeof logsProvider>>;
  try {
    const boot = await bootstrap(store, { clock, rng: rng.fork("bootstrap") }, config.adminKey);
    if (boot.newAdminKey) log("admin key (shown once)", { key: boot.newAdminKey });
    provider = await logsProvider(config, store);
    const app = createApp({
      store,
      clock,
      rng: rng.fork("api"),
      ready: readiness(store, redis),
      ...(provider ? { podLogs: provider } : {}),
      ...(provider instanceof EngineLogs ? { nodeRegistry: provider } : {}),
      ...(config.baseDomain ? { baseDomain: config.baseDomain } : {}),
    });
    const tls = config.insecureHttp
      ? undefined
      : await loadTls({ dataDir, certPath: config.tlsCertPath, keyPath: config.tlsKeyPath, nowMs: clock.now() });
    const server = await startServer(app, { host: config.host, port: config.port, tls });
    return {
      url: server.url,
      ...(tls?.caPath ? { caPath: tls.caPath } : {}),
      async stop() {
        await server.close();
        await provider?.close();
        redis.disconnect();
        await store.close();
      },
    };
  } catch (error) {
    await provider?.close();
    redis.disconnect();
    await store.close();
    throw error;
  }
}

/** `serve`'s configuration and the workers' own (queue concurrency and prefix, remote nodes, lease). */
export type WorkerConfig = ServeConfig & WorkerFlags;

/** `kubernease worker`: jobs from the shared queues, and the singleton duties while it holds the lease. */
export async function startWorker(config: WorkerConfig): Promise<RunningProcess> {
  const databaseUrl = required(config.databaseUrl, "DATABASE_URL (--database-url)");
  const redisUrl = required(config.redisUrl, "REDIS_URL (--redis-url)");
  const clock = systemClock;
  const rng = seededRng(config.seed ?? randomSeed());
  const holder = `${hostname()}-${process.pid}-${randomBytes(3).toString("hex")}`;
  const store = await openStore({ databaseUrl, dataDir: join(resolve(config.dataDir), "pglite") });
  const redis = new Redis(redisUrl, { lazyConnect: true, maxRetriesPerRequest: 1 });
  const queue = new BullmqQueue({
    connection: redisUrl,
    prefix: config.queuePrefix ?? "kubernease",
    clock,
    onError: (queueName, key, error) => log("job failed; retrying", { queue: queueName, key, error: String(error) }),
  });
  let provider: NodeProvider | undefined;
  let controlPlane: ControlPlane | undefined;
  let server: RunningServer | undefined;
  let stopFollowing: (() => Promise<void>) | undefined;
  const stop = async () => {
    await stopFollowing?.();
    await server?.close();
    await controlPlane?.stop();
    if (!controlPlane) await queue.close();
    await provider?.close();
    redis.disconnect();
    await store.close();
  };
  try {
    provider = await workerProvider(config, store);
    if (provider instanceof DockerProvider) stopFollowing = followRegisteredEngines(provider, store, config);
    controlPlane = new ControlPlane(
      {
        store,
        queue,
        provider,
        clock,
        rng: rng.fork("workers"),
        schedulingPolicy: "spread",
        unschedulableRetryMs: 5_000,
        log,
      },
      {
        ...(config.concurrency !== undefined ? { concurrency: config.concurrency } : {}),
        observations: "local",
        leader: { holder, ...(config.leaseTtlMs !== undefined ? { ttlMs: config.leaseTtlMs } : {}) },
      },
    );
    await controlPlane.start();
    const health = new Hono<AppEnv>();
    registerHealth(health, { store, clock, rng, ready: readiness(store, redis) });
    server = await startServer(health, { host: config.host, port: config.port });
    return { url: server.url, stop };
  } catch (error) {
    await stop();
    throw error;
  }
}

/** The nodes a worker runs pods on: Docker Engines, or the simulated nodes of `kubernease nodes`. */
async function workerProvider(config: WorkerConfig, store: Store): Promise<NodeProvider> {
  const docker = await dockerHosts(config, store);
  if (docker && config.nodesUrl) throw new Error("--nodes-url and Docker hosts exclude each other");
  if (docker) {
    return new DockerProvider({ clock: systemClock, hosts: docker, log, ...serviceProxies(resolve(config.dataDir)) });
  }
  if (config.nodesUrl) {
    // Each worker records the observations it hears (`observations: "local"`): its share of them.
    return RemoteProvider.connect({ url: config.nodesUrl, token: config.nodesToken ?? "", sharePodEvents: true, log });
  }
  throw new Error(
    "a worker needs nodes it shares with the other workers: --docker (or Engines registered at POST /v1/admin/nodes), " +
      "or --nodes-url of a `kubernease nodes --simulated` process",
  );
}

/** How often a worker looks for Engines registered or unregistered through an API process. */
const FOLLOW_ENDPOINTS_MS = 2_000;

/** Keeps a worker's Docker provider on the Engines registered in the store (`POST /v1/admin/nodes` of any API). */
function followRegisteredEngines(provider: DockerProvider, store: Store, config: WorkerConfig): () => Promise<void> {
  const configured = new Set((config.docker ?? []).map((host) => host.name));
  let cancel: (() => void) | undefined;
  let running: Promise<void> | undefined;
  let stopped = false;
  const pass = async () => {
    try {
      const { added, removed } = await followEndpoints(provider, store, configured);
      if (added.length > 0 || removed.length > 0) log("registered docker hosts changed", { added, removed });
    } catch (error) {
      if (!stopped) log("reading registered docker hosts failed; retrying", { error: String(error) });
    }
    if (!stopped) cancel = systemClock.setTimer(FOLLOW_ENDPOINTS_MS, () => (running = pass()));
  };
  cancel = systemClock.setTimer(FOLLOW_ENDPOINTS_MS, () => (running = pass()));
  // Stopped before the store and the provider close: a pass under way is waited for.
  return async () => {
    stopped = true;
    cancel?.();
    await running;
  };
}

/**
 * Where the API reads pod logs: the Docker Engines the workers run pods on (configured, or
 * registered in the store), read directly; or the simulated nodes of their own process.
 */
async function logsProvider(
  config: WorkerConfig,
  store: Store,
): Promise<(Pick<NodeProvider, "logs"> & { close(): Promise<void> }) | undefined> {
  const docker = await dockerHosts(config, store);
  if (docker) return new EngineLogs(store, { clock: systemClock, hosts: docker });
  return config.nodesUrl
    ? RemoteProvider.connect({ url: config.nodesUrl, token: config.nodesToken ?? "", log })
    : undefined;
}
