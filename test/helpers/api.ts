import type { Hono } from "hono";
import { bootstrap } from "../../src/cli/bootstrap.js";
import type { BackOffSettings } from "../../src/controllers/podLifecycle.js";
import { systemClock } from "../../src/core/clock.js";
import { seededRng } from "../../src/core/rng.js";
import { openStore } from "../../src/db/index.js";
import type { Store } from "../../src/db/types.js";
import { createApp } from "../../src/http/app.js";
import type { ApiDeps, AppEnv } from "../../src/http/context.js";
import { createTenantWithKey } from "../../src/http/routes/v1_admin_tenants.js";
import type { JobContext } from "../../src/jobs/context.js";
import { ControlPlane, type ControlPlaneOptions } from "../../src/jobs/controlPlane.js";
import { InProcessQueue } from "../../src/jobs/inProcessQueue.js";
import { DockerProvider } from "../../src/providers/docker/index.js";
import { type ImageBehaviour, type NodePool, SimulatedProvider } from "../../src/providers/simulated/index.js";
import type { NodeProvider } from "../../src/providers/types.js";
import { assertNoNodeLeak } from "./leaks.js";

export const ADMIN_KEY = "kn_test_admin_key_for_the_suite_only_0123456789";

export interface CallOptions {
  key?: string | null;
  body?: string | object;
  contentType?: string;
  headers?: Record<string, string>;
}

export interface CallResult {
  status: number;
  body: any;
  text: string;
}

export interface TestApi<P extends NodeProvider = SimulatedProvider> {
  app: Hono<AppEnv>;
  store: Store;
  tenant: { id: string; key: string };
  other: { id: string; key: string };
  /** A call as the tenant unless `key` says otherwise; tenant responses are scanned for node leaks. */
  call(method: string, path: string, options?: CallOptions): Promise<CallResult>;
  /** Polls `check` until it returns a value (bounded by `timeoutMs`). */
  until<T>(check: () => Promise<T | undefined | false>, timeoutMs?: number): Promise<T>;
  close(): Promise<void>;
  /** Every job that threw, as `queue key: error` (a reconcile that fails is retried, which can hide it). */
  jobErrors: string[];
  /** The simulated nodes, for test controls (`setImageBehaviour`, `addNode`, `removeNode`), or the provider given. */
  provider: P;
}

export interface TestApiOptions<P extends NodeProvider = SimulatedProvider> {
  /** Another provider (Docker) instead of the simulated nodes; `close()` closes it. */
  provider?: P;
  store?: Store;
  nodes?: number;
  /** Timings of the workers (heartbeats, node grace period, …). */
  controlPlane?: ControlPlaneOptions;
  /** The simulated node pools (else `nodes` nodes of 4 CPU and 8 GiB). */
  pools?: NodePool[];
  /** What simulated images do (probe outcomes, crashes), by image, repository or `*`. */
  images?: Record<string, ImageBehaviour>;
  /** Container restart back-off; the kubelet's (10 s … 300 s) when absent. */
  restartBackOff?: BackOffSettings;
  /** How often the prober looks for due probes. */
  probeTickMs?: number;
  /** The longest a followed pod log streams (the API's default when absent). */
  logFollowLimitMs?: number;
  /** Where the workers' log lines go (nowhere when absent). */
  log?: (message: string, fields?: Record<string, unknown>) => void;
  /** Tenants' simulations: their pool shape and bounds. */
  simulations?: ApiDeps["simulations"];
  /** The managed proxy's statistics (`show stat` text) for the metrics routes. */
  routeStats?: ApiDeps["routeStats"];
  /** A managed proxy's drain bound (JobContext.routing); pass the publisher in `controlPlane.routing`. */
  routing?: JobContext["routing"];
}

/**
 * The API in-process (Hono's `app.request`, no sockets) over a store of choice,
 * with the workers and simulated nodes running, two tenants and an admin key.
 */
export async function createTestApi<P extends NodeProvider = SimulatedProvider>(
  options: TestApiOptions<P> = {},
): Promise<TestApi<P>> {
  const store = options.store ?? (await openStore({ memory: true }));
  const rng = seededRng("test-api");
  const clock = systemClock;
  await bootstrap(store, { clock, rng: rng.fork("boot") }, ADMIN_KEY);
  const made = await Promise.all(
    ["acme", "globex"].map((name) => createTenantWithKey(store, { clock, rng: rng.fork(name) }, name)),
  );
  const [acme, globex] = made.map((m) => ({ id: m.tenant.id, key: m.key })) as [TestApi["tenant"], TestApi["tenant"]];
  const jobErrors: string[] = [];
  const queue = new InProcessQueue({
    clock,
    onError: (name, key, error) => jobErrors.push(`${name} ${key}: ${String(error)}`),
  });
  const provider = (options.provider ??
    new SimulatedProvider({
      clock,
      rng: rng.fork("provider"),
      startLatencyMs: { min: 5, max: 30 },
      pools: options.pools ?? [
        { name: "default", count: options.nodes ?? 3, cpuMillis: 4000, memoryBytes: 8 * 2 ** 30 },
      ],
      images: options.images,
    })) as P;
  const controlPlane = new ControlPlane(
    {
      store,
      queue,
      provider,
      clock,
      rng: rng.fork("workers"),
      schedulingPolicy: "spread",
      unschedulableRetryMs: 500,
      log: options.log ?? (() => {}),
      ...(options.restartBackOff ? { restartBackOff: options.restartBackOff } : {}),
      ...(options.routing ? { routing: options.routing } : {}),
    },
    { outboxPollMs: 50, ...(options.probeTickMs ? { probeTickMs: options.probeTickMs } : {}), ...options.controlPlane },
  );
  await controlPlane.start();
  const app = createApp({
    store,
    clock,
    rng: rng.fork("api"),
    onCommitted: () => controlPlane.kick(),
    podLogs: provider,
    ...(provider instanceof DockerProvider ? { nodeRegistry: provider } : {}),
    ...(options.logFollowLimitMs !== undefined ? { logFollowLimitMs: options.logFollowLimitMs } : {}),
    ...(options.simulations ? { simulations: options.simulations } : {}),
    ...(options.routeStats ? { routeStats: options.routeStats } : {}),
  });
  const tenantKeys = new Set([acme.key, globex.key]);

  async function call(method: string, path: string, opts: CallOptions = {}): Promise<CallResult> {
    const key = opts.key === undefined ? acme.key : opts.key;
    const body = typeof opts.body === "object" ? JSON.stringify(opts.body) : opts.body;
    const contentType = opts.contentType ?? (typeof opts.body === "object" ? "application/json" : "application/yaml");
    const response = await app.request(path, {
      method,
      headers: {
        ...(key ? { authorization: `Bearer ${key}` } : {}),
        ...(body !== undefined ? { "content-type": contentType } : {}),
        ...opts.headers,
      },
      body,
    });
    const text = await response.text();
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch {
      parsed = undefined;
    }
    if (key && tenantKeys.has(key)) assertNoNodeLeak(`${method} ${path}`, text, await store.listNodes());
    return { status: response.status, body: parsed, text };
  }

  async function until<T>(check: () => Promise<T | undefined | false>, timeoutMs = 20_000): Promise<T> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const value = await check();
      if (value !== undefined && value !== false) return value;
      if (Date.now() > deadline) throw new Error(`condition not met within ${timeoutMs} ms`);
      await new Promise((r) => setTimeout(r, 25));
    }
  }

  return {
    app,
    store,
    tenant: acme,
    other: globex,
    call,
    until,
    provider,
    jobErrors,
    async close() {
      await controlPlane.stop();
      await provider.close();
      await store.close();
    },
  };
}
