/**
 * Keeps tenants' Service proxies (src/routing/serviceProxy.ts) on their Services' endpoints, on a
 * provider that runs them (`NodeProvider.serviceProxies`). Per tenant, node and Service:
 * - a proxy this process has not configured yet gets its config written into its folder (checked
 *   with `haproxy -c` first) before the provider starts it; one that runs already with that very
 *   config and serves what it says (a restart of the control plane, a new leader) is adopted as it
 *   is, without a reload that would cut its connections; any other is reloaded into the config;
 * - afterwards endpoint churn goes through its runtime API (`set server …`, never a reload), read
 *   back, and written to its config too, so a proxy that restarts serves the same; a new port or
 *   more endpoints than slots is a seamless reload through its master socket.
 * Files are written and checked in a folder no proxy mounts, then renamed into place. A step that
 * fails forgets the proxy, so the next pass configures it again; a node that fails does not hold up
 * the tenant's others.
 */
import { execFile } from "node:child_process";
import { readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { promisify } from "node:util";
import { type Clock, sleep } from "../core/clock.js";
import type { StoreOps } from "../db/types.js";
import type { ServiceProxyHost, ServiceRef, TenantPlacement } from "../providers/types.js";
import {
  compareServed,
  expectedServed,
  type HaproxyLayout,
  parseServersState,
  parseShowProc,
  planChange,
  type Slots,
  slotsFor,
} from "../routing/haproxy.js";
import {
  type ProxyService,
  type ProxyServiceInput,
  proxyServices,
  proxyTable,
  renderProxyConfig,
} from "../routing/serviceProxy.js";
import type { EndpointsInput, RouteTable } from "../routing/table.js";
import { socketCommand } from "./haproxy/socket.js";

const run = promisify(execFile);

export interface ServiceProxySyncOptions {
  log?: (message: string, fields?: Record<string, unknown>) => void;
}

interface Configured {
  dir: string;
  table: RouteTable;
  slots: Slots;
}

type Store = Pick<StoreOps, "listObjects" | "listPods">;

const NOWHERE: TenantPlacement = { withPods: [], withProxies: [] };
const RELOAD_TIMEOUT_MS = 10_000;
const RELOAD_POLL_MS = 100;
const PLANNING_LAYOUT: HaproxyLayout = { dir: "", bind: "" };

export class ServiceProxySync {
  /** By `node/tenant/namespace/name`: what the proxy there serves. */
  private readonly configured = new Map<string, Configured>();
  private readonly dirty = new Set<string>();
  private running: Promise<void> | null = null;
  private stopTimer: (() => void) | null = null;
  private stopped = false;
  private readonly unsubscribe: () => void;

  constructor(
    private readonly store: Store,
    private readonly host: ServiceProxyHost,
    private readonly clock: Clock,
    private readonly options: ServiceProxySyncOptions = {},
  ) {
    // A tenant's pod on a node new to it: its proxies follow at once, not at the next tick.
    this.unsubscribe = host.onTenantNode((tenantId) => void this.kick(tenantId));
  }

  /** Syncs the tenant's proxies soon (every tenant's without one); one pass at a time, kicks during it coalesced. */
  kick(tenantId?: string): Promise<void> {
    if (this.stopped) return Promise.resolve();
    this.dirty.add(tenantId ?? "*");
    if (this.running) return this.running;
    this.running = (async () => {
      try {
        // Bounded: a tenant kicked during the last pass waits for the next kick or tick.
        for (let pass = 0; pass < 10 && this.dirty.size > 0 && !this.stopped; pass++) {
          const all = this.dirty.has("*");
          const kicked = [...this.dirty].filter((t) => t !== "*");
          this.dirty.clear();
          const placement = await this.host.placement();
          const tenants = all ? await this.everyTenant(placement) : kicked;
          for (const tenantId of tenants) {
            if (this.stopped) break;
            await this.syncPlaced(tenantId, placement.get(tenantId) ?? NOWHERE).catch((error) =>
              this.failed("syncing Service proxies failed", error, { tenantId }),
            );
          }
        }
      } catch (error) {
        this.failed("listing the tenants with Services or proxies failed", error);
      } finally {
        this.running = null;
      }
    })();
    return this.running;
  }

  /** Syncs every tenant every `intervalMs`: proxies on a node the tenant just reached, and any that failed. */
  start(intervalMs: number): () => void {
    const tick = () => {
      this.stopTimer = this.clock.setTimer(intervalMs, () => {
        void this.kick().finally(() => {
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

  /** No pass starts after this; resolves once the one under way is over (a new term starts afresh). */
  async stop(): Promise<void> {
    this.stopped = true;
    this.stopTimer?.();
    this.stopTimer = null;
    this.unsubscribe();
    await this.running;
  }

  /** Tenants with Services and pods, and those with proxies left (whose last Service went). */
  private async everyTenant(placement: Map<string, TenantPlacement>): Promise<string[]> {
    const services = await this.store.listObjects({ kind: "Service" });
    const tenants = new Set(services.map((s) => s.tenantId).filter((t) => placement.has(t)));
    for (const [tenantId, placed] of placement) if (placed.withProxies.length > 0) tenants.add(tenantId);
    return [...tenants].sort();
  }

  /** One tenant's proxies, as a pass does them. */
  async syncTenant(tenantId: string): Promise<void> {
    await this.syncPlaced(tenantId, (await this.host.placement()).get(tenantId) ?? NOWHERE);
  }

  private async syncPlaced(tenantId: string, { withPods, withProxies }: TenantPlacement): Promise<void> {
    // No pod and no proxy anywhere: nothing to run, nothing to remove, nothing to remember.
    if (withPods.length === 0 && withProxies.length === 0) return this.forget(tenantId, new Set());
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
    const live = new Set(withPods.flatMap((node) => proxied.map((s) => keyOf(node, tenantId, s))));
    this.forget(tenantId, live);
    for (const node of new Set([...withPods, ...withProxies])) {
      if (this.stopped) return;
      const wanted = withPods.includes(node) ? proxied : [];
      await this.syncNode(node, tenantId, wanted, podsByName).catch((error) => {
        for (const s of wanted) this.configured.delete(keyOf(node, tenantId, s));
        this.failed("syncing a node's Service proxies failed", error, { tenantId, node });
      });
    }
  }

  private async syncNode(
    node: string,
    tenantId: string,
    services: ProxyService[],
    pods: Map<string, { id: string; nodeName: string | null }>,
  ): Promise<void> {
    const fresh: { key: string; ref: string; next: Configured }[] = [];
    const adopted: { key: string; ref: string; next: Configured }[] = [];
    const changed: { key: string; ref: string; commands: string[]; next: Configured }[] = [];
    for (const service of services) {
      const key = keyOf(node, tenantId, service);
      const ref = `${service.namespace}/${service.name}`;
      const table = proxyTable(service, (endpoint) => {
        const pod = pods.get(`${service.namespace}/${endpoint.pod}`);
        if (!pod?.nodeName) return undefined;
        return this.host.endpointFrom(node, { podId: pod.id, nodeName: pod.nodeName, ip: endpoint.ip }, endpoint.port);
      });
      const before = this.configured.get(key);
      if (before && before.table.version === table.version) continue;
      const plan = before ? planChange(before.table, before.slots, table, PLANNING_LAYOUT) : undefined;
      if (before && plan && !plan.needsReload) {
        changed.push({ key, ref, commands: plan.commands, next: { dir: before.dir, table, slots: plan.slots } });
        continue;
      }
      const dir = this.host.proxyDir(node, tenantId, service);
      // First sight of a proxy that may run already: its servers keep the slots they hold there.
      const slots = slotsFor(table, before?.slots ?? (await this.servedSlots(dir)));
      const config = renderProxyConfig(table, slots, this.host.proxyRunDir);
      this.configured.delete(key);
      if (!before && readText(join(dir, "haproxy.cfg")) === config) {
        adopted.push({ key, ref, next: { dir, table, slots } });
        continue;
      }
      await this.install(config, dir, true);
      fresh.push({ key, ref, next: { dir, table, slots } });
    }
    if (this.stopped) return;
    const started = new Set(await this.host.ensureProxies(node, tenantId, services));
    for (const { key, ref, next } of fresh) {
      // Started now: it read the config as it started. Running already: it reloads into it.
      if (!started.has(ref)) await this.reload(next.dir);
      this.configured.set(key, next);
    }
    for (const { key, ref, next } of adopted) {
      if (!started.has(ref) && !(await this.serves(next))) await this.reload(next.dir);
      this.configured.set(key, next);
    }
    for (const { key, ref, commands, next } of changed) {
      // The config on file is the one before this change: write this one, then hand it over.
      await this.install(renderProxyConfig(next.table, next.slots, this.host.proxyRunDir), next.dir, false);
      if (started.has(ref)) await this.reload(next.dir);
      else {
        if (commands.length > 0) await socketCommand(join(next.dir, "admin.sock"), commands, this.clock);
        // Read back: a command that went astray (to a worker on its way out) is put right by a reload.
        if (!(await this.serves(next))) await this.reload(next.dir);
      }
      this.configured.set(key, next);
    }
  }

  /** The slots a running proxy serves (a slot in maintenance is free), or none when it does not answer. */
  private async servedSlots(dir: string): Promise<Slots> {
    const text = await socketCommand(join(dir, "admin.sock"), ["show servers state"], this.clock).catch(() => "");
    const slots: Record<string, (string | null)[]> = {};
    for (const server of parseServersState(text)) {
      const index = Number(server.slot.slice(1)) - 1;
      if (!Number.isInteger(index) || index < 0) continue;
      const held = slots[server.backend] ?? [];
      held[index] = server.state === "maint" ? null : `${server.address}:${server.port}`;
      slots[server.backend] = held;
    }
    for (const held of Object.values(slots)) for (let i = 0; i < held.length; i++) held[i] ??= null;
    return slots;
  }

  /** Whether the proxy serves exactly `next`'s servers in `next`'s slots. */
  private async serves(next: Configured): Promise<boolean> {
    const text = await socketCommand(join(next.dir, "admin.sock"), ["show servers state"], this.clock).catch(() => "");
    const served = { servers: parseServersState(text), exactMap: [], prefixMap: [] };
    return text !== "" && compareServed(expectedServed(next.table, next.slots), served).length === 0;
  }

  /**
   * Writes `config` in the staging folder (no proxy mounts it, so nothing there is a proxy's), checks
   * it with `haproxy -c` when asked, and renames it into the proxy's folder: the proxy reads the old
   * file or the new one, never half of one, and a link planted in its folder is replaced, not followed.
   */
  private async install(config: string, dir: string, check: boolean): Promise<void> {
    const staged = join(this.host.stagingDir, `${dir.split("/").pop()}.cfg`);
    writeFileSync(staged, config, { mode: 0o644 });
    try {
      if (check) {
        await run(this.host.haproxy, ["-c", "-q", "-f", staged], { timeout: 10_000 }).catch((error) => {
          const stderr = (error as { stderr?: string }).stderr ?? String(error);
          throw new Error(`haproxy -c refused a Service proxy's configuration: ${stderr.trim().slice(0, 500)}`);
        });
      }
      renameSync(staged, join(dir, "haproxy.cfg"));
    } finally {
      rmSync(staged, { force: true });
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

  /** Forgets the tenant's proxies but `live` ones: the others are gone (the provider removes them, folder and all). */
  private forget(tenantId: string, live: ReadonlySet<string>): void {
    for (const key of this.configured.keys()) {
      if (key.split("/")[1] === tenantId && !live.has(key)) this.configured.delete(key);
    }
  }

  private failed(message: string, error: unknown, fields: Record<string, unknown> = {}): void {
    this.options.log?.(message, { ...fields, error: String(error) });
  }
}

const keyOf = (node: string, tenantId: string, s: ServiceRef) => `${node}/${tenantId}/${s.namespace}/${s.name}`;

function readText(path: string): string | null {
  try {
    return readFileSync(path, "utf8");
  } catch {
    return null;
  }
}
