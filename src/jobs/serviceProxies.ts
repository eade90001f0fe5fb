/**
 * Keeps tenants' Service proxies (src/routing/serviceProxy.ts) on their Services' endpoints, on a
 * provider that runs them (`NodeProvider.serviceProxies`). Per tenant, node and Service: the
 * proxy's config is written into its folder (checked with `haproxy -c` first) before the provider
 * starts it; afterwards endpoint churn goes through its runtime API (`set server …`, never a
 * reload), and a new port or more endpoints than slots is a seamless reload through its master
 * socket. What each proxy serves is remembered here; a proxy this process has not configured yet
 * (a restart, a new leader) is configured afresh and reloaded. A failed step forgets the proxy, so
 * the next pass configures it again.
 */
import { execFile } from "node:child_process";
import { rmSync } from "node:fs";
import { join } from "node:path";
import { promisify } from "node:util";
import { type Clock, sleep } from "../core/clock.js";
import type { StoreOps } from "../db/types.js";
import type { ServiceProxyHost, ServiceRef } from "../providers/types.js";
import { type HaproxyLayout, parseShowProc, planChange, type Slots, slotsFor } from "../routing/haproxy.js";
import {
  type ProxyService,
  type ProxyServiceInput,
  proxyServices,
  proxyTable,
  renderProxyConfig,
} from "../routing/serviceProxy.js";
import type { EndpointsInput, RouteTable } from "../routing/table.js";
import { writeFileAtomically } from "./haproxy/certs.js";
import { socketCommand } from "./haproxy/socket.js";

const run = promisify(execFile);

export interface ServiceProxySyncOptions {
  /** The haproxy binary that checks configurations (`haproxy` on PATH). */
  binary?: string;
  log?: (message: string, fields?: Record<string, unknown>) => void;
}

interface Configured {
  dir: string;
  table: RouteTable;
  slots: Slots;
}

type Store = Pick<StoreOps, "listObjects" | "listPods">;

const RELOAD_TIMEOUT_MS = 10_000;
const RELOAD_POLL_MS = 100;
const PLANNING_LAYOUT: HaproxyLayout = { dir: "", bind: "" };

export class ServiceProxySync {
  /** By `node/tenant/namespace/name`: what the proxy there serves. */
  private readonly configured = new Map<string, Configured>();
  private readonly dirty = new Set<string>();
  private running: Promise<void> | null = null;
  private stopTimer: (() => void) | null = null;

  constructor(
    private readonly store: Store,
    private readonly host: ServiceProxyHost,
    private readonly clock: Clock,
    private readonly options: ServiceProxySyncOptions = {},
  ) {}

  /** Syncs the tenant's proxies soon (every tenant's without one); one pass at a time, kicks during it coalesced. */
  kick(tenantId?: string): Promise<void> {
    this.dirty.add(tenantId ?? "*");
    if (this.running) return this.running;
    this.running = (async () => {
      // Bounded: a tenant kicked during the last pass waits for the next kick or timer.
      for (let pass = 0; pass < 10 && this.dirty.size > 0; pass++) {
        const tenants = this.dirty.has("*") ? await this.tenantsWithServices() : [...this.dirty];
        this.dirty.clear();
        for (const tenantId of tenants) {
          await this.syncTenant(tenantId).catch((error) =>
            this.options.log?.("syncing Service proxies failed", { tenantId, error: String(error) }),
          );
        }
      }
      this.running = null;
    })();
    return this.running;
  }

  /** Syncs every tenant every `intervalMs`: proxies on a node the tenant just reached, and any that failed. */
  start(intervalMs: number): () => void {
    const tick = () => {
      this.stopTimer = this.clock.setTimer(intervalMs, () => {
        void this.kick().then(() => {
          if (this.stopTimer) tick();
        });
      });
    };
    tick();
    return () => {
      this.stopTimer?.();
      this.stopTimer = null;
    };
  }

  private async tenantsWithServices(): Promise<string[]> {
    const services = await this.store.listObjects({ kind: "Service" });
    return [...new Set(services.map((s) => s.tenantId))].sort();
  }

  async syncTenant(tenantId: string): Promise<void> {
    const [services, endpoints, pods] = await Promise.all([
      this.store.listObjects({ kind: "Service", tenantId }),
      this.store.listObjects({ kind: "Endpoints", tenantId }),
      this.store.listPods({ tenantId }),
    ]);
    const { services: proxied } = proxyServices(
      services.map((s) => ({ namespace: s.namespace, name: s.name, spec: s.spec as ProxyServiceInput["spec"] })),
      endpoints.map((e) => ({
        namespace: e.namespace,
        name: e.name,
        subsets: (e.spec.subsets ?? []) as EndpointsInput["subsets"],
      })),
    );
    const podsByName = new Map(pods.map((p) => [`${p.namespace}/${p.name}`, p]));
    const nodes = this.host.tenantNodes(tenantId);
    for (const node of nodes) await this.syncNode(node, tenantId, proxied, podsByName);
    // Proxies of nodes the tenant left, and of Services that went: the provider removed them.
    const live = new Set(nodes.flatMap((node) => proxied.map((s) => keyOf(node, tenantId, s))));
    for (const [key, configured] of this.configured) {
      if (key.split("/")[1] === tenantId && !live.has(key)) {
        this.configured.delete(key);
        rmSync(configured.dir, { recursive: true, force: true });
      }
    }
  }

  private async syncNode(
    node: string,
    tenantId: string,
    services: ProxyService[],
    pods: Map<string, { id: string; nodeName: string | null }>,
  ): Promise<void> {
    const fresh: { key: string; service: ProxyService; next: Configured }[] = [];
    const changed: { key: string; commands: string[]; next: Configured }[] = [];
    for (const service of services) {
      const key = keyOf(node, tenantId, service);
      const table = proxyTable(service, (endpoint) => {
        const pod = pods.get(`${service.namespace}/${endpoint.pod}`);
        if (!pod?.nodeName) return undefined;
        return this.host.endpointFrom(node, { podId: pod.id, nodeName: pod.nodeName, ip: endpoint.ip }, endpoint.port);
      });
      const before = this.configured.get(key);
      if (before && before.table.version === table.version) continue;
      const plan = before ? planChange(before.table, before.slots, table, PLANNING_LAYOUT) : undefined;
      if (before && plan && !plan.needsReload) {
        changed.push({ key, commands: plan.commands, next: { dir: before.dir, table, slots: plan.slots } });
        continue;
      }
      const dir = this.host.proxyDir(node, tenantId, service);
      const slots = slotsFor(table, before?.slots);
      const config = renderProxyConfig(table, slots, this.host.proxyRunDir);
      await this.check(config, dir);
      await writeFileAtomically(join(dir, "haproxy.cfg"), config, 0o600);
      this.configured.delete(key);
      fresh.push({ key, service, next: { dir, table, slots } });
    }
    const started = new Set(await this.host.ensureProxies(node, tenantId, services.map(refOf)));
    for (const { key, service, next } of fresh) {
      // Started now: it read the config as it started. Running already: it reloads into it.
      if (!started.has(`${service.namespace}/${service.name}`)) await this.reload(next.dir);
      this.configured.set(key, next);
    }
    for (const { key, commands, next } of changed) {
      this.configured.delete(key);
      if (commands.length > 0) await socketCommand(join(next.dir, "admin.sock"), commands, this.clock);
      this.configured.set(key, next);
    }
  }

  /** `haproxy -c` on the config, with the sockets' folder as the proxy sees it. */
  private async check(config: string, dir: string): Promise<void> {
    const file = join(dir, "haproxy.cfg.check");
    await writeFileAtomically(file, config, 0o600);
    try {
      await run(this.options.binary ?? "haproxy", ["-c", "-q", "-f", file], { timeout: 10_000 });
    } catch (error) {
      const stderr = (error as { stderr?: string }).stderr ?? String(error);
      throw new Error(`haproxy -c refused a Service proxy's configuration: ${stderr.trim().slice(0, 500)}`);
    } finally {
      rmSync(file, { force: true });
    }
  }

  /**
   * A seamless reload through the master socket (the listening sockets pass to the new worker),
   * confirmed by the master's reload counter, as the edge publisher does.
   */
  private async reload(dir: string): Promise<void> {
    const master = join(dir, "master.sock");
    const counter = async () => parseShowProc(await socketCommand(master, ["show proc"], this.clock));
    const before = await counter();
    if (!before) throw new Error(`no HAProxy master answers on ${master}`);
    await socketCommand(master, ["reload"], this.clock, 15_000).catch(() => "");
    for (let waited = 0; waited < RELOAD_TIMEOUT_MS; waited += RELOAD_POLL_MS) {
      const after = await counter().catch(() => null);
      if (after && after.failed > before.failed) throw new Error(`a Service proxy's reload failed (${dir})`);
      if (after && after.reloads > before.reloads) return;
      await sleep(this.clock, RELOAD_POLL_MS);
    }
    throw new Error(`a Service proxy's reload counter did not move within ${RELOAD_TIMEOUT_MS} ms (${dir})`);
  }
}

const refOf = (s: ProxyService): ServiceRef => ({ namespace: s.namespace, name: s.name });
const keyOf = (node: string, tenantId: string, s: ServiceRef) => `${node}/${tenantId}/${s.namespace}/${s.name}`;
