import { existsSync } from "node:fs";
import { mkdir } from "node:fs/promises";
import { join, resolve } from "node:path";
import { systemClock } from "../core/clock.js";
import { type Rng, randomSeed, seededRng } from "../core/rng.js";
import { openStore } from "../db/index.js";
import type { Store } from "../db/types.js";
import { createApp } from "../http/app.js";
import { type RunningServer, startServer } from "../http/server.js";
import { loadTls } from "../http/tls.js";
import { ControlPlane } from "../jobs/controlPlane.js";
import { ensureLocalCa, operatorCertificate } from "../jobs/haproxy/certs.js";
import { HaproxyPublisher, type PublisherEvent } from "../jobs/haproxy/publisher.js";
import { InProcessQueue } from "../jobs/inProcessQueue.js";
import { edgeReach, type SyncOutcome } from "../jobs/routing.js";
import { loadEndpoints } from "../providers/docker/endpoints.js";
import { type DockerHostConfig, DockerProvider } from "../providers/docker/index.js";
import { SimulatedProvider } from "../providers/simulated/index.js";
import type { NodeProvider } from "../providers/types.js";
import { currentRouteTable, loadTlsSecret } from "../routing/load.js";
import { type BootstrapResult, bootstrap } from "./bootstrap.js";
import type { ProxyConfig, ServeConfig } from "./config.js";

/** What `serve` runs with: its configuration, and the node autoscaling turned on by `--autoscale-max`. */
export interface PlatformConfig extends ServeConfig {
  /** The simulated pool scales between `nodes.count` and this many nodes; fixed when absent. */
  autoscaleMax?: number;
}

export interface Platform {
  url: string;
  /** Where the managed HAProxy serves tenants' routes, with `--proxy` (and `--proxy-tls`). */
  proxyUrls?: string[];
  caPath?: string;
  store: Store;
  bootstrap: BootstrapResult;
  stop(): Promise<void>;
}

export function log(message: string, fields: Record<string, unknown> = {}): void {
  console.error(JSON.stringify({ time: new Date().toISOString(), message, ...fields }));
}

/**
 * The all-in-one platform of `kubernease serve`: the store (Postgres at
 * `DATABASE_URL`, else PGlite in the data folder), the in-process queue, the
 * simulated nodes, the workers, and the HTTPS API, in one process.
 */
export async function startPlatform(config: PlatformConfig): Promise<Platform> {
  const dataDir = resolve(config.dataDir);
  await mkdir(dataDir, { recursive: true });
  const seed = config.seed ?? randomSeed();
  const rng = seededRng(seed);
  const clock = systemClock;
  const store = await openStore({ databaseUrl: config.databaseUrl, dataDir: join(dataDir, "pglite") });
  const boot = await bootstrap(store, { clock, rng: rng.fork("bootstrap") }, config.adminKey);

  const queue = new InProcessQueue({
    clock,
    onError: (queueName, key, error) => log("job failed; retrying", { queue: queueName, key, error: String(error) }),
  });
  const docker = await dockerHosts(config, store);
  if (docker && config.autoscaleMax !== undefined) throw new Error("--autoscale-max works with simulated nodes only");
  const provider: NodeProvider = docker
    ? new DockerProvider({ clock, hosts: docker, log, ...serviceProxies(dataDir) })
    : simulatedProvider(config, rng);
  let proxy: HaproxyPublisher | undefined;
  try {
    proxy = config.proxy ? await startProxy(config.proxy, dataDir, store, provider) : undefined;
  } catch (error) {
    await provider.close();
    await store.close();
    throw error;
  }
  const controlPlane = new ControlPlane(
    {
      store,
      queue,
      provider,
      clock,
      rng: rng.fork("workers"),
      schedulingPolicy: "spread",
      unschedulableRetryMs: 5_000,
      log,
      ...(proxy ? { routing: { drainTimeoutMs: DRAIN_TIMEOUT_MS } } : {}),
    },
    {
      ...(config.autoscaleMax !== undefined ? { autoscale: { maxNodes: config.autoscaleMax } } : {}),
      ...(proxy
        ? {
            routing: {
              publisher: proxy,
              onOutcome: (outcome: SyncOutcome) => {
                if (outcome.status === "failed") log("publishing routes failed", { ...outcome });
              },
            },
          }
        : {}),
    },
  );
  await controlPlane.start();

  const tls = config.insecureHttp
    ? undefined
    : await loadTls({ dataDir, certPath: config.tlsCertPath, keyPath: config.tlsKeyPath, nowMs: clock.now() });
  const app = createApp({
    store,
    clock,
    rng: rng.fork("api"),
    onCommitted: () => controlPlane.kick(),
    ready: async () => (await store.listTenants()).length > 0,
    podLogs: provider,
    ...(config.baseDomain ? { baseDomain: config.baseDomain } : {}),
    ...(provider instanceof DockerProvider ? { nodeRegistry: provider } : {}),
    ...(proxy ? { routeStats: () => (proxy as HaproxyPublisher).stats() } : {}),
    routeReach: () => edgeReach(store, provider),
  });
  let server: RunningServer;
  try {
    server = await startServer(app, { host: config.host, port: config.port, tls });
  } catch (error) {
    await controlPlane.stop();
    await proxy?.stop();
    await provider.close();
    await store.close();
    throw error;
  }
  return {
    url: server.url,
    ...(config.proxy
      ? {
          proxyUrls: [
            `http://${config.proxy.bind}`,
            ...(config.proxy.tlsBind ? [`https://${config.proxy.tlsBind}`] : []),
          ],
        }
      : {}),
    caPath: tls?.caPath,
    store,
    bootstrap: boot,
    async stop() {
      await server.close();
      await controlPlane.stop();
      await proxy?.stop();
      await provider.close();
      await store.close();
    },
  };
}

/** How long a deleted pod waits for the proxy to drain it, at most (Kubernetes' default grace period). */
const DRAIN_TIMEOUT_MS = 30_000;

/**
 * The managed HAProxy, serving the store's route table from the start; its files live in
 * `<data-dir>/haproxy`. With a TLS listener, hosts get certificates of the platform CA (the one
 * the API's own certificate comes from) or their Ingress's `kubernetes.io/tls` Secret.
 */
async function startProxy(
  proxy: ProxyConfig,
  dataDir: string,
  store: Store,
  provider: NodeProvider,
): Promise<HaproxyPublisher> {
  const dir = proxy.attachDir ?? join(dataDir, "haproxy");
  // Pods of other machines' nodes are left out until their published ports are known (the first syncs).
  const reach = await edgeReach(store, provider);
  const table = await currentRouteTable(store, { ...(reach ? { reach } : {}), nowMs: systemClock.now() });
  const operator = proxy.certFile ? await operatorCertificate(proxy.certFile, systemClock.now()) : undefined;
  const tls = proxy.tlsBind
    ? {
        bind: proxy.tlsBind,
        certificateDir: join(dir, "certs"),
        ...(proxy.hstsMaxAgeSeconds !== undefined ? { hsts: { maxAgeSeconds: proxy.hstsMaxAgeSeconds } } : {}),
        ...(operator ? { defaultCertificate: operator.file, defaultCertificateNames: operator.names } : {}),
      }
    : undefined;
  const ca = tls ? await ensureLocalCa(dataDir, systemClock.now()) : undefined;
  const options = {
    layout: { dir, bind: proxy.bind, ...(tls ? { tls } : {}) },
    clock: systemClock,
    onEvent: (event: PublisherEvent) => log("proxy event", { ...event }),
    ...(ca ? { ca: { cert: ca.cert, key: ca.key }, tenantSecret: (ref: string) => loadTlsSecret(store, ref) } : {}),
  };
  if (!proxy.attachDir) return HaproxyPublisher.start(options, table);
  // The operator's HAProxy: it takes the platform's configuration at once, by a checked reload.
  const publisher = await HaproxyPublisher.attach(options);
  const first = await publisher.publish(table);
  if (!first.ok) throw new Error(`the HAProxy at ${dir} did not take the route table: ${first.error ?? first.mode}`);
  return publisher;
}

/**
 * Tenants' Service proxies on Docker nodes (the ClusterIP role), built from this machine's HAProxy:
 * on where Debian's `haproxy` is installed, off (logged once) where it is not.
 */
export function serviceProxies(dataDir: string): { serviceProxies?: { dir: string; haproxy: string } } {
  const haproxy = process.env.KUBERNEASE_HAPROXY ?? "/usr/sbin/haproxy";
  if (!existsSync(haproxy)) {
    log("no Service proxies: pods reach Services by name once haproxy is installed", { haproxy });
    return {};
  }
  return { serviceProxies: { dir: join(dataDir, "service-proxies"), haproxy } };
}

/**
 * The Docker Engines to run on — those of `--docker`, then those registered at `POST /v1/admin/nodes`
 * and kept in the store — or none when the platform runs simulated nodes. Registered Engines choose
 * Docker by themselves (unless `--provider simulated`), so a restart never drops them silently.
 */
export async function dockerHosts(config: ServeConfig, store: Store): Promise<DockerHostConfig[] | undefined> {
  if (config.provider === "simulated") {
    if (config.docker) throw new Error("--provider simulated and --docker exclude each other");
    const ignored = (await loadEndpoints(store)).map((h) => h.name);
    if (ignored.length > 0) log("registered docker hosts are not used: --provider simulated", { nodes: ignored });
    return undefined;
  }
  const registered = await loadEndpoints(store);
  if (!config.docker && config.provider !== "docker" && registered.length === 0) return undefined;
  const hosts = [...(config.docker ?? [])];
  for (const host of registered) {
    if (hosts.some((h) => h.name === host.name)) {
      log("a registered docker host has the name of a configured one: the configured one is used", {
        node: host.name,
      });
    } else hosts.push(host);
  }
  return hosts;
}

/** The simulated node pool of `--nodes`, `--node-cpu`, `--node-memory` and `--autoscale-max`. */
function simulatedProvider(config: PlatformConfig, rng: Rng): SimulatedProvider {
  return new SimulatedProvider({
    clock: systemClock,
    rng: rng.fork("provider"),
    pools: [
      {
        name: "default",
        count: config.nodes.count,
        cpuMillis: config.nodes.cpuMillis,
        memoryBytes: config.nodes.memoryBytes,
        ...(config.autoscaleMax !== undefined
          ? { autoscale: { min: config.nodes.count, max: config.autoscaleMax } }
          : {}),
      },
    ],
  });
}
