/**
 * Publishes route tables to a real HAProxy (master-worker). Structural changes
 * (routes, backends, slot counts, certificates) are written as files, checked with
 * `haproxy -c` and handed over with a seamless reload through the master socket;
 * endpoint churn goes through the runtime API only, and the files are rewritten
 * so that a restart serves the same. A publish that fails keeps the last good
 * files and the running proxy, and says why.
 *
 * With a TLS listener, the certificate files are made ready before `haproxy -c`:
 * host certificates issued by the platform CA (again when near their end, which
 * reloads), tenants' own certificates written from their Secrets once the key
 * pair is checked here. A tenant certificate that cannot be served (changed since
 * the table was built, key not matching) is replaced by the platform's for that
 * publish, and the frontend says why.
 */
import { type ChildProcess, execFile, spawn } from "node:child_process";
import {
  closeSync,
  existsSync,
  mkdirSync,
  openSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import { promisify } from "node:util";
import { type Clock, sleep } from "../../core/clock.js";
import { checkTlsSecret, secretPems } from "../../routing/certificates.js";
import {
  type CertificateNeed,
  certificateNeeds,
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
import {
  type CertificatePems,
  combinedPem,
  ensureCertificateFile,
  RENEW_BEFORE_MS,
  writeFileAtomically,
} from "./certs.js";
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
  /** The platform CA (`ca.crt`/`ca.key` of the data folder) that issues host certificates; required with `layout.tls`. */
  ca?: CertificatePems;
  /**
   * A tenant's `kubernetes.io/tls` Secret by the table's `tenant/namespace/name` (e.g. `loadTlsSecret`
   * of src/routing/load.ts); without it every host gets a platform certificate.
   */
  tenantSecret?: (ref: string) => Promise<{ type: string; data: Readonly<Record<string, string>> } | undefined>;
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
  /** `host: why` for each host served the platform's certificate instead of the tenant's the table names. */
  certificateFallbacks?: string[];
}

interface Applied {
  table: RouteTable;
  slots: Slots;
  /** Some tenant certificate was replaced by the platform's for this publish: the same table is tried again. */
  fellBack?: boolean;
}

/** The table as it will be served (tenant certificates that could not be written replaced), and what was issued. */
interface Prepared {
  table: RouteTable;
  issued: number;
  fellBack: boolean;
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
  /** Certificate file → the end of its validity, as last checked: spares re-reading files far from their end. */
  private readonly validUntil = new Map<string, number>();
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
    if (options.layout.tls && !options.ca) throw new Error("a TLS listener needs the platform CA (option ca)");
    mkdirSync(options.layout.dir, { recursive: true });
    const prepared = await publisher.prepareCertificates(table);
    const rendered = renderHaproxy(prepared.table, options.layout);
    const invalid = await publisher.validate(prepared.table, rendered.slots);
    if (invalid) throw new Error(`the first configuration is invalid: ${invalid}`);
    publisher.writeFiles(rendered);
    try {
      await publisher.spawn();
    } catch (error) {
      // A proxy that never answered is not left running.
      publisher.process?.kill("SIGKILL");
      throw error;
    }
    publisher.applied = { table: prepared.table, slots: rendered.slots, fellBack: prepared.fellBack };
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
    let prepared: Prepared;
    try {
      prepared = await this.prepareCertificates(table);
    } catch (error) {
      // Nothing was handed to HAProxy: it keeps serving the last good configuration.
      return this.failed(
        `certificates for ${table.version} could not be made ready: ${(error as Error).message}`,
        "certificates",
      );
    }
    const applied = this.applied;
    const renewed = prepared.issued > 0 && applied !== null;
    if (applied && applied.table.version === table.version && !applied.fellBack && !renewed) {
      return this.result("unchanged", applied);
    }
    const plan = applied ? planChange(applied.table, applied.slots, prepared.table, this.options.layout) : null;
    if (plan && !plan.needsReload && !renewed) {
      const next = { table: prepared.table, slots: plan.slots, fellBack: prepared.fellBack };
      await this.command(plan.commands);
      this.writeFiles(renderHaproxy(prepared.table, this.options.layout, plan.slots));
      this.applied = next;
      const result = await this.result("runtime", next);
      if (result.mismatches.length === 0) return result;
      // The runtime API did not take: the files hold the table, so a reload serves it.
      return this.reloadTo(prepared, `readback after runtime changes: ${result.mismatches.join("; ")}`);
    }
    const reason = plan?.needsReload
      ? plan.reason
      : renewed
        ? `${prepared.issued} host certificate(s) issued or renewed`
        : "first publish";
    return this.reloadTo(prepared, reason);
  }

  private async reloadTo({ table, fellBack }: Prepared, reason: string): Promise<PublishResult> {
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
    const next = { table, slots: rendered.slots, fellBack };
    this.applied = next;
    this.removeStaleCertificates(rendered.certificates);
    return { ...(await this.result("reload", next)), reason };
  }

  /**
   * Makes every certificate file `table` needs exist and be servable. Platform files are
   * (re)issued when missing, for other names, or within RENEW_BEFORE_MS of their end. A
   * tenant file is named by its fingerprint, so one that exists is the right one; otherwise
   * the Secret is read again and written only when it still has that fingerprint and its
   * key matches; if not, the hosts it served fall back to platform certificates.
   */
  private async prepareCertificates(table: RouteTable): Promise<Prepared> {
    const tls = this.options.layout.tls;
    if (!tls) return { table, issued: 0, fellBack: false };
    mkdirSync(tls.certificateDir, { recursive: true, mode: 0o700 });
    const problems = new Map<string, string>();
    for (const need of certificateNeeds(table, this.options.layout)) {
      if (need.source !== "tenant" || existsSync(need.file)) continue;
      const problem = await this.writeTenantCertificate(need);
      if (problem !== null) problems.set(need.ref, problem);
    }
    const served: RouteTable =
      problems.size === 0
        ? table
        : {
            ...table,
            frontends: table.frontends.map((f) => {
              const problem = f.certificate === null ? undefined : problems.get(f.certificate);
              if (problem === undefined) return f;
              const { certificateFingerprint: _fingerprint, ...rest } = f;
              return { ...rest, certificateProblem: problem };
            }),
          };
    let issued = 0;
    for (const need of certificateNeeds(served, this.options.layout)) {
      if (need.source === "platform" && (await this.ensurePlatformCertificate(need))) issued++;
    }
    return { table: served, issued, fellBack: problems.size > 0 };
  }

  /** Writes a tenant's certificate file from its Secret; null when written, else why it could not be. */
  private async writeTenantCertificate(need: Extract<CertificateNeed, { source: "tenant" }>): Promise<string | null> {
    if (!this.options.tenantSecret) return "tenant certificates cannot be read by this proxy publisher";
    const secret = await this.options.tenantSecret(need.ref).catch(() => undefined);
    const checked = checkTlsSecret(secret, need.hosts, this.options.clock.now());
    if ("problem" in checked) return `${checked.problem} (checked again before writing)`;
    if (checked.fingerprint !== need.fingerprint) return "the secret changed since the route table was built";
    const pems = secretPems(secret?.type ?? "", secret?.data ?? {});
    if ("problem" in pems) return pems.problem;
    await writeFileAtomically(need.file, combinedPem(pems), 0o600);
    return null;
  }

  /** True when the file was issued afresh. */
  private async ensurePlatformCertificate(need: Extract<CertificateNeed, { source: "platform" }>): Promise<boolean> {
    const ca = this.options.ca;
    if (!ca) throw new Error("a TLS listener needs the platform CA (option ca)");
    const now = this.options.clock.now();
    const until = this.validUntil.get(need.file);
    if (until !== undefined && until - now > RENEW_BEFORE_MS && existsSync(need.file)) return false;
    const { outcome, notAfterMs } = await ensureCertificateFile(need.file, need.names, ca, now);
    this.validUntil.set(need.file, notAfterMs);
    return outcome === "issued";
  }

  /** Certificate files of hosts no longer served: the running workers hold what they loaded, the files are not needed. */
  private removeStaleCertificates(needs: readonly CertificateNeed[]): void {
    const tls = this.options.layout.tls;
    if (!tls) return;
    const keep = new Set(needs.map((n) => n.file));
    for (const name of readdirSync(tls.certificateDir).slice(0, 100_000)) {
      const file = `${tls.certificateDir}/${name}`;
      if (!/^(platform|tenant)_.*\.pem$/.test(name) || keep.has(file)) continue;
      rmSync(file, { force: true });
      this.validUntil.delete(file);
    }
  }

  private async failed(error: string, reason: string): Promise<PublishResult> {
    this.raise({ type: "Warning", reason: "PublishFailed", message: error });
    const served = await this.readBack().catch(() => EMPTY_SERVED);
    return { ok: false, version: this.version, mode: "failed", reason, error, served, mismatches: [] };
  }

  private async result(mode: PublishMode, applied: Applied): Promise<PublishResult> {
    const served = await this.readBack();
    const mismatches = compareServed(expectedServed(applied.table, applied.slots), served);
    const fallbacks = applied.table.frontends.flatMap((f) =>
      f.certificate !== null && f.certificateProblem !== undefined ? [`${f.host}: ${f.certificateProblem}`] : [],
    );
    return {
      ok: mismatches.length === 0,
      version: applied.table.version,
      mode,
      served,
      mismatches,
      ...(fallbacks.length > 0 ? { certificateFallbacks: fallbacks } : {}),
    };
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
  /** HAProxy's statistics (`show stat`, CSV), for the route metrics (src/routing/metrics.ts). */
  stats(): Promise<string> {
    return this.command(["show stat"]);
  }

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
      if (child.exitCode !== null) {
        throw new Error(`haproxy exited with code ${child.exitCode} at start: ${this.logTail()}`);
      }
      return (await this.reloadCounter()) !== null && (await this.command(["show info"]).catch(() => "")) !== "";
    });
    if (!ready) throw new Error(`haproxy did not answer on ${this.masterSocket} within ${this.reloadTimeoutMs()} ms`);
  }

  /** The end of haproxy's own log (its output at start: why it would not run), for an error. */
  private logTail(): string {
    try {
      const text = readFileSync(`${this.options.layout.dir}/haproxy.log`, "utf8").trim();
      return text.length > 0 ? text.slice(-600) : "(its log is empty)";
    } catch {
      return "(no log)";
    }
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
    writeMaps(mapFiles(dir), candidate);
    writeAtomically(`${dir}/haproxy.cfg`, candidate.config);
    try {
      await run(this.binary, ["-c", "-f", `${dir}/haproxy.cfg`], { timeout: this.timeoutMs() * 2 });
      return null;
    } catch (error) {
      const e = error as { stderr?: string; stdout?: string; message: string };
      return `${e.stdout ?? ""}${e.stderr ?? ""}`.trim() || e.message;
    }
  }

  private configFiles(): Written | null {
    const maps = mapFiles(this.options.layout.dir);
    try {
      return {
        config: readFileSync(this.configFile, "utf8"),
        exactMap: readFileSync(maps.exact, "utf8"),
        prefixMap: readFileSync(maps.prefix, "utf8"),
        // Absent when the files were written by a version without TLS: restored as empty.
        hostsMap: readOptional(maps.hosts),
        crtList: readOptional(maps.crtList),
      };
    } catch {
      return null;
    }
  }

  private writeFiles(rendered: Written): void {
    writeMaps(mapFiles(this.options.layout.dir), rendered);
    writeAtomically(this.configFile, rendered.config);
  }

  private restoreFiles(files: Written | null): void {
    if (files) this.writeFiles(files);
  }
}

function readOptional(path: string): string {
  return existsSync(path) ? readFileSync(path, "utf8") : "";
}

type Written = Pick<Rendered, "config" | "exactMap" | "prefixMap" | "hostsMap" | "crtList">;

/** The files the config refers to, before the config itself. */
function writeMaps(files: ReturnType<typeof mapFiles>, rendered: Written): void {
  writeAtomically(files.exact, rendered.exactMap);
  writeAtomically(files.prefix, rendered.prefixMap);
  writeAtomically(files.hosts, rendered.hostsMap);
  writeAtomically(files.crtList, rendered.crtList);
}

/** Temp file + rename: a reader (HAProxy at reload) sees the old file or the new one, never half of one. */
function writeAtomically(path: string, text: string): void {
  const temp = `${path}.tmp-${process.pid}`;
  writeFileSync(temp, text);
  renameSync(temp, path);
}
