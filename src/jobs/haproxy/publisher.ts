/**
 * Publishes route tables to a real HAProxy (master-worker). Structural changes
 * (routes, backends, slot counts, certificates) are written as files, checked with
 * `haproxy -c` and handed over with a seamless reload through the master socket;
 * endpoint churn goes through the runtime API only, and the files are rewritten
 * so that a restart serves the same. A publish that fails keeps the last good
 * files and the running proxy, and says why.
 */
import { type ChildProcess, execFile, spawn } from "node:child_process";
import { closeSync, mkdirSync, openSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { promisify } from "node:util";
import { type Clock, sleep } from "../../core/clock.js";
import {
  compareServed,
  expectedServed,
  type HaproxyLayout,
  mapFiles,
  parseCurrentSessions,
  parseMap,
  parseServersState,
  parseShowProc,
  planChange,
  type Rendered,
  renderHaproxy,
  type Served,
  type Slots,
  serverKey,
  slotName,
} from "../../routing/haproxy.js";
import type { RouteTable, Server } from "../../routing/table.js";
import type { RoutePublisher } from "../routing.js";
import { socketCommand } from "./socket.js";

const run = promisify(execFile);

export interface HaproxyPublisherOptions {
  layout: HaproxyLayout;
  clock: Clock;
  /** The haproxy binary; `haproxy` on PATH by default. */
  binary?: string;
  /** Defaults: `<dir>/haproxy.cfg`, `<dir>/master.sock`. */
  configFile?: string;
  masterSocket?: string;
  reloadTimeoutMs?: number;
  commandTimeoutMs?: number;
  /** Told of every failed publish and every unexpected exit of the proxy. */
  onEvent?: (event: PublisherEvent) => void;
}

export interface PublisherEvent {
  type: "Warning";
  reason: "PublishFailed" | "ProxyExited";
  message: string;
}

export type PublishMode = "unchanged" | "runtime" | "reload";

export interface PublishResult {
  ok: boolean;
  /** The table version HAProxy serves after this publish (the last good one when it failed). */
  version: string | null;
  mode: PublishMode | "failed";
  /** Why a reload was needed, when one was. */
  reason?: string;
  error?: string;
  served: Served;
  /** Where the readback disagrees with the table (empty when HAProxy serves it exactly). */
  mismatches: string[];
}

interface Applied {
  table: RouteTable;
  slots: Slots;
}

const EMPTY_SERVED: Served = { servers: [], exactMap: [], prefixMap: [] };

export class HaproxyPublisher implements RoutePublisher {
  readonly configFile: string;
  readonly masterSocket: string;
  readonly adminSocket: string;
  readonly events: PublisherEvent[] = [];
  private readonly binary: string;
  private process: ChildProcess | undefined;
  private applied: Applied | null = null;
  private stopping = false;

  private constructor(private readonly options: HaproxyPublisherOptions) {
    const dir = options.layout.dir;
    this.binary = options.binary ?? "haproxy";
    this.configFile = options.configFile ?? `${dir}/haproxy.cfg`;
    this.masterSocket = options.masterSocket ?? `${dir}/master.sock`;
    this.adminSocket = `${dir}/admin.sock`;
  }

  /** Renders `table`, checks it, and starts `haproxy -W -S <master.sock> -f <cfg>` serving it. */
  static async start(options: HaproxyPublisherOptions, table: RouteTable): Promise<HaproxyPublisher> {
    const publisher = new HaproxyPublisher(options);
    mkdirSync(options.layout.dir, { recursive: true });
    const rendered = renderHaproxy(table, options.layout);
    const invalid = await publisher.validate(table, rendered.slots);
    if (invalid) throw new Error(`the first configuration is invalid: ${invalid}`);
    publisher.writeFiles(rendered);
    try {
      await publisher.spawn();
    } catch (error) {
      // A proxy that never answered is not left running.
      publisher.process?.kill("SIGKILL");
      throw error;
    }
    publisher.applied = { table, slots: rendered.slots };
    return publisher;
  }

  /**
   * Attaches to a running HAProxy through its sockets and config file. What it serves is not
   * known as a table, so the first publish reloads; later ones use the runtime API.
   */
  static async attach(options: HaproxyPublisherOptions): Promise<HaproxyPublisher> {
    const publisher = new HaproxyPublisher(options);
    if (!(await publisher.reloadCounter())) throw new Error(`no HAProxy master answers on ${publisher.masterSocket}`);
    return publisher;
  }

  /** The version in the config file HAProxy was last given (its first line). */
  configVersion(): string | null {
    try {
      return /^# kubernease route table (\S+)/.exec(readFileSync(this.configFile, "utf8"))?.[1] ?? null;
    } catch {
      return null;
    }
  }

  get version(): string | null {
    return this.applied?.table.version ?? null;
  }

  /** Takes HAProxy to `table`: runtime API when only servers changed, else a checked seamless reload. */
  async publish(table: RouteTable): Promise<PublishResult> {
    const child = this.process;
    if (child && (child.exitCode !== null || child.signalCode !== null) && !this.stopping) {
      // Ours, and dead: start it again from the last good files, then publish as to an unknown proxy.
      await this.spawn();
      this.applied = null;
    }
    const applied = this.applied;
    if (applied && applied.table.version === table.version) return this.result("unchanged", applied);
    const plan = applied ? planChange(applied.table, applied.slots, table, this.options.layout) : null;
    if (plan && !plan.needsReload) {
      const next = { table, slots: plan.slots };
      await this.command(plan.commands);
      this.writeFiles(renderHaproxy(table, this.options.layout, plan.slots));
      this.applied = next;
      const result = await this.result("runtime", next);
      if (result.mismatches.length === 0) return result;
      // The runtime API did not take: the files hold the table, so a reload serves it.
      return this.reloadTo(table, `readback after runtime changes: ${result.mismatches.join("; ")}`);
    }
    return this.reloadTo(table, plan?.needsReload ? plan.reason : "first publish");
  }

  private async reloadTo(table: RouteTable, reason: string): Promise<PublishResult> {
    const rendered = renderHaproxy(table, this.options.layout, this.applied?.slots);
    const invalid = await this.validate(table, rendered.slots);
    if (invalid) return this.failed(`haproxy -c refused the configuration of ${table.version}: ${invalid}`, reason);
    const before = this.configFiles();
    this.writeFiles(rendered);
    try {
      await this.reload();
    } catch (error) {
      this.restoreFiles(before);
      return this.failed(`reload to ${table.version} failed: ${(error as Error).message}`, reason);
    }
    const next = { table, slots: rendered.slots };
    this.applied = next;
    return { ...(await this.result("reload", next)), reason };
  }

  private async failed(error: string, reason: string): Promise<PublishResult> {
    this.raise({ type: "Warning", reason: "PublishFailed", message: error });
    const served = await this.readBack().catch(() => EMPTY_SERVED);
    return { ok: false, version: this.version, mode: "failed", reason, error, served, mismatches: [] };
  }

  private async result(mode: PublishMode, applied: Applied): Promise<PublishResult> {
    const served = await this.readBack();
    const mismatches = compareServed(expectedServed(applied.table, applied.slots), served);
    return { ok: mismatches.length === 0, version: applied.table.version, mode, served, mismatches };
  }

  /** What HAProxy serves now: `show servers state` and `show map` of both maps. */
  async readBack(): Promise<Served> {
    const maps = mapFiles(this.options.layout.dir);
    const [state, exact, prefix] = await Promise.all([
      this.command(["show servers state"]),
      this.command([`show map ${maps.exact}`]),
      this.command([`show map ${maps.prefix}`]),
    ]);
    const servers = parseServersState(state).filter((s) => this.applied?.slots[s.backend] !== undefined);
    return { servers, exactMap: parseMap(exact), prefixMap: parseMap(prefix) };
  }

  /** The master's reload counters (`show proc`), or null when the master does not answer. */
  async reloadCounter(): Promise<{ reloads: number; failed: number } | null> {
    const text = await socketCommand(this.masterSocket, ["show proc"], this.options.clock, this.timeoutMs()).catch(
      () => "",
    );
    return parseShowProc(text);
  }

  /**
   * Stops new requests to one server (`state drain`) and resolves once it holds no session,
   * true, or after `timeoutMs` on the Clock, false. The next publish sets the table's state again.
   */
  async drain(backend: string, server: Pick<Server, "address" | "port">, timeoutMs: number): Promise<boolean> {
    const index = this.applied?.slots[backend]?.indexOf(serverKey(server)) ?? -1;
    if (index < 0) throw new Error(`${backend} has no server ${serverKey(server)}`);
    const slot = slotName(index);
    await this.command([`set server ${backend}/${slot} state drain`]);
    const deadline = this.options.clock.now() + timeoutMs;
    for (let i = 0; i < 100_000; i++) {
      const sessions = parseCurrentSessions(await this.command(["show stat"]), backend, slot);
      if (sessions === 0) return true;
      if (this.options.clock.now() >= deadline) return false;
      await sleep(this.options.clock, 100);
    }
    return false;
  }

  /** Stops the HAProxy this publisher started (the master and its workers); an attached one is left running. */
  async stop(timeoutMs = 10_000): Promise<void> {
    const child = this.process;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    this.stopping = true;
    const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
    child.kill("SIGUSR1");
    const timer = sleep(this.options.clock, timeoutMs).then(() => "timeout" as const);
    if ((await Promise.race([exited, timer])) === "timeout") {
      child.kill("SIGKILL");
      await exited;
    }
  }

  /** Kills the HAProxy this publisher started, as a crash would (for tests of supervision). */
  kill(): void {
    this.process?.kill("SIGKILL");
  }

  private timeoutMs(): number {
    return this.options.commandTimeoutMs ?? 5_000;
  }

  private command(commands: readonly string[]): Promise<string> {
    if (commands.length === 0) return Promise.resolve("");
    return socketCommand(this.adminSocket, commands, this.options.clock, this.timeoutMs());
  }

  private raise(event: PublisherEvent): void {
    this.events.push(event);
    if (this.events.length > 100) this.events.shift();
    this.options.onEvent?.(event);
  }

  private async spawn(): Promise<void> {
    const log = openSync(`${this.options.layout.dir}/haproxy.log`, "a");
    const child = spawn(this.binary, ["-W", "-S", this.masterSocket, "-f", this.configFile], {
      stdio: ["ignore", log, log],
    });
    // The child holds its own copy of the log's descriptor.
    closeSync(log);
    // A binary that cannot be run (missing, not executable) fails the start; unheard, it would end the process.
    let spawnError: Error | undefined;
    child.once("error", (error) => {
      spawnError = error;
    });
    this.process = child;
    child.on("exit", (code, signal) => {
      if (this.stopping) return;
      this.raise({
        type: "Warning",
        reason: "ProxyExited",
        message: `haproxy exited (${signal ?? `code ${code}`}); see ${this.options.layout.dir}/haproxy.log`,
      });
    });
    const ready = await this.until(async () => {
      if (spawnError) throw new Error(`haproxy could not be started: ${spawnError.message}`);
      if (child.exitCode !== null) throw new Error(`haproxy exited with code ${child.exitCode} at start`);
      return (await this.reloadCounter()) !== null && (await this.command(["show info"]).catch(() => "")) !== "";
    });
    if (!ready) throw new Error(`haproxy did not answer on ${this.masterSocket} within ${this.reloadTimeoutMs()} ms`);
  }

  private reloadTimeoutMs(): number {
    return this.options.reloadTimeoutMs ?? 15_000;
  }

  /** Polls `check` every 50 ms on the Clock until it holds or the reload timeout has passed. */
  private async until(check: () => Promise<boolean>): Promise<boolean> {
    const deadline = this.options.clock.now() + this.reloadTimeoutMs();
    for (let i = 0; i < 100_000; i++) {
      if (await check()) return true;
      if (this.options.clock.now() >= deadline) return false;
      await sleep(this.options.clock, 50);
    }
    return false;
  }

  /** `reload` through the master socket, confirmed by the master's reload counter (a failed reload counts as failed). */
  private async reload(): Promise<void> {
    const before = await this.reloadCounter();
    if (!before) throw new Error(`no HAProxy master answers on ${this.masterSocket}`);
    await socketCommand(this.masterSocket, ["reload"], this.options.clock, this.timeoutMs()).catch(() => "");
    let after = before;
    const moved = await this.until(async () => {
      after = (await this.reloadCounter()) ?? after;
      return after.reloads > before.reloads || after.failed > before.failed;
    });
    if (!moved) throw new Error(`the reload counter did not move within ${this.reloadTimeoutMs()} ms`);
    if (after.failed > before.failed) throw new Error("the master reported the reload as failed");
    // The new worker takes the admin socket over; wait until it answers.
    if (!(await this.until(async () => (await this.command(["show info"]).catch(() => "")) !== ""))) {
      throw new Error("the new worker did not answer on the admin socket");
    }
  }

  /** `haproxy -c` of the rendered files, written to a candidate folder: null when valid, else HAProxy's message. */
  private async validate(table: RouteTable, slots: Slots): Promise<string | null> {
    const dir = `${this.options.layout.dir}/candidate`;
    mkdirSync(dir, { recursive: true });
    const candidate = renderHaproxy(table, { ...this.options.layout, dir }, slots);
    writeAtomically(mapFiles(dir).exact, candidate.exactMap);
    writeAtomically(mapFiles(dir).prefix, candidate.prefixMap);
    writeAtomically(`${dir}/haproxy.cfg`, candidate.config);
    try {
      await run(this.binary, ["-c", "-f", `${dir}/haproxy.cfg`], { timeout: this.timeoutMs() * 2 });
      return null;
    } catch (error) {
      const e = error as { stderr?: string; stdout?: string; message: string };
      return `${e.stdout ?? ""}${e.stderr ?? ""}`.trim() || e.message;
    }
  }

  private configFiles(): { config: string; exact: string; prefix: string } | null {
    const maps = mapFiles(this.options.layout.dir);
    try {
      return {
        config: readFileSync(this.configFile, "utf8"),
        exact: readFileSync(maps.exact, "utf8"),
        prefix: readFileSync(maps.prefix, "utf8"),
      };
    } catch {
      return null;
    }
  }

  private writeFiles(rendered: Pick<Rendered, "config" | "exactMap" | "prefixMap">): void {
    const maps = mapFiles(this.options.layout.dir);
    writeAtomically(maps.exact, rendered.exactMap);
    writeAtomically(maps.prefix, rendered.prefixMap);
    writeAtomically(this.configFile, rendered.config);
  }

  private restoreFiles(files: { config: string; exact: string; prefix: string } | null): void {
    if (files) this.writeFiles({ config: files.config, exactMap: files.exact, prefixMap: files.prefix });
  }
}

/** Temp file + rename: a reader (HAProxy at reload) sees the old file or the new one, never half of one. */
function writeAtomically(path: string, text: string): void {
  const temp = `${path}.tmp-${process.pid}`;
  writeFileSync(temp, text);
  renameSync(temp, path);
}
