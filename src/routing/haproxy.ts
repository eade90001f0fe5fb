/**
 * The route table as HAProxy serves it, and the way from one table to the next.
 * Pure: text in, text out. The process and its sockets are driven elsewhere
 * (src/jobs/haproxy), which writes what is rendered here and reads back what
 * HAProxy serves, parsed here too.
 *
 * Shape of the proxy:
 * - one HTTP frontend; requests are routed by a key `host + path` (the host
 *   lowered, its port cut off) through two map files: `exact.map` (Exact paths,
 *   and each Prefix path without its trailing slash, so `/foo` matches `/foo`)
 *   and `prefix.map` (`map_beg`: each Prefix path with a trailing slash, so `/foo`
 *   matches `/foo/bar` but not `/foobar`), written longest key first so the first
 *   match is the longest prefix. A wildcard host `*.example.com` is looked up
 *   with the request's first label replaced by `*`, after the exact host.
 * - one backend per table backend, with a fixed number of server slots `s1..sN`
 *   (the next power of two ≥ max(4, servers)); endpoint churn only moves
 *   addresses and states of slots through the runtime API, never reloads.
 * - `kn.not-found` (404) when no route matches, `kn.unavailable` (503) for a
 *   route whose backend cannot be resolved.
 * - with `layout.tls`, a TLS listener on the same frontend serving every host:
 *   HAProxy picks the certificate by SNI from `crt-list.txt` (one line per
 *   certificate file with the hosts it serves), so a certificate change is a file
 *   change and a reload, never a new bind line; unknown SNI gets the default
 *   certificate. `hosts.map` says which hosts the Ingress lists under `tls`: their
 *   plain HTTP is redirected to HTTPS, and their HTTPS answers carry HSTS when the
 *   operator configured it. Other hosts keep answering plain HTTP as well.
 */
import { namesCover } from "./certificates.js";
import type { Backend, RouteTable, Server } from "./table.js";

export const NOT_FOUND_BACKEND = "kn.not-found";
export const UNAVAILABLE_BACKEND = "kn.unavailable";
export const MIN_SLOTS = 4;

export interface HaproxyLayout {
  /** Where the admin socket and the map files live. */
  dir: string;
  /** The HTTP listener, `address:port`. */
  bind: string;
  /** The TLS listener for every host; certificate files (cert + key PEM) live in `certificateDir`. */
  tls?: TlsLayout;
  timeouts?: { connectMs: number; clientMs: number; serverMs: number; httpRequestMs: number };
}

export interface TlsLayout {
  bind: string;
  certificateDir: string;
  /** The port clients reach the TLS listener on, for redirects (behind a port mapping); the port of `bind` by default. */
  httpsPort?: number;
  /**
   * The operator's certificate + key (one PEM file) for SNI no host matches; by default
   * `<certificateDir>/default.pem`, issued by the platform CA.
   */
  defaultCertificate?: string;
  /**
   * The DNS names the operator's certificate covers (`*.apps.example`): a host they cover is served that
   * certificate (no crt-list line: it is the default) instead of one the platform CA issues, unless the
   * tenant brought its own.
   */
  defaultCertificateNames?: readonly string[];
  /** `Strict-Transport-Security` on HTTPS answers of hosts the Ingress lists under `tls`; none when absent. */
  hsts?: { maxAgeSeconds: number; includeSubDomains?: boolean };
  /** 308 (the default) keeps the method and body of a redirected request; 301 is what older clients know. */
  redirectCode?: 301 | 308;
}

/** The name the platform's default certificate is issued for: no real host can ask for it. */
export const DEFAULT_CERTIFICATE_NAME = "default.kubernease.invalid";

/**
 * A certificate file the proxy needs: issued by the platform CA for `names`, or a tenant's
 * Secret (`ref`, with the fingerprint the table holds) written as it is.
 */
export type CertificateNeed =
  | { file: string; source: "platform"; names: string[] }
  | { file: string; source: "tenant"; ref: string; fingerprint: string; hosts: string[] };

/** backend name → its slots in order (`s1` first); each holds a server key (`address:port`) or null when free. */
export type Slots = Readonly<Record<string, readonly (string | null)[]>>;

export interface Rendered {
  config: string;
  exactMap: string;
  prefixMap: string;
  /** host → `tls` (redirected to HTTPS) or `plain`. */
  hostsMap: string;
  /** One line per certificate file with the hosts (SNI) it serves; empty without `layout.tls`. */
  crtList: string;
  /** The certificate files the config refers to (the default one included unless the operator brought it). */
  certificates: CertificateNeed[];
  slots: Slots;
  /** What a change of needs a reload (routes, backends and their slot counts, TLS); equal keys → runtime API only. */
  structure: string;
}

export type ServedState = "ready" | "draining" | "maint";

export interface ServedServer {
  backend: string;
  slot: string;
  address: string;
  port: number;
  state: ServedState;
}

export interface Served {
  servers: ServedServer[];
  exactMap: [string, string][];
  prefixMap: [string, string][];
}

export const serverKey = (s: Pick<Server, "address" | "port">) => `${s.address}:${s.port}`;
export const slotName = (index: number) => `s${index + 1}`;
export const mapFiles = (dir: string) => ({
  exact: `${dir}/exact.map`,
  prefix: `${dir}/prefix.map`,
  hosts: `${dir}/hosts.map`,
  crtList: `${dir}/crt-list.txt`,
});

export function slotCount(servers: number): number {
  let n = MIN_SLOTS;
  // Bounded: 2^31 slots is far beyond any backend.
  for (let i = 0; i < 31 && n < servers; i++) n *= 2;
  return n;
}

/** A backend's servers by key; a key both ready and not ready counts as ready. */
function serversByKey(backend: Backend): Map<string, Server> {
  const out = new Map<string, Server>();
  for (const s of backend.servers) {
    const seen = out.get(serverKey(s));
    if (!seen || (seen.state !== "ready" && s.state === "ready")) out.set(serverKey(s), s);
  }
  return out;
}

/**
 * Places `keys` into slots: a key keeps the slot it had; a new key takes the lowest slot
 * that was free before (`previous`), then the lowest slot just freed. Null when they do not fit.
 */
export function assignSlots(previous: readonly (string | null)[], keys: readonly string[], size: number) {
  const wanted = new Set(keys);
  const slots: (string | null)[] = Array.from({ length: size }, (_, i) => {
    const held = previous[i] ?? null;
    return held !== null && wanted.has(held) ? held : null;
  });
  const placed = new Set(slots.filter((k): k is string => k !== null));
  const wasFree = (i: number) => (previous[i] ?? null) === null;
  const order = [...slots.keys()].sort((a, b) => Number(!wasFree(a)) - Number(!wasFree(b)) || a - b);
  const fresh = [...keys].filter((k) => !placed.has(k)).sort();
  for (const key of fresh) {
    const free = order.find((i) => slots[i] === null);
    if (free === undefined) return null;
    slots[free] = key;
  }
  return slots;
}

/** The slots of every backend of `table`, kept where `previous` had them; sized afresh when they do not fit. */
export function slotsFor(table: RouteTable, previous: Slots = {}): Slots {
  const out: Record<string, (string | null)[]> = {};
  for (const backend of table.backends) {
    const keys = [...serversByKey(backend).keys()];
    const prev = previous[backend.name] ?? [];
    const size = prev.length >= keys.length ? prev.length : slotCount(keys.length);
    out[backend.name] = assignSlots(prev.length === size ? prev : [], keys, size) ?? [];
  }
  return out;
}

/** Map entries in the order HAProxy must hold them: first match wins, so the longest key comes first. */
export function mapEntries(table: RouteTable): { exact: [string, string][]; prefix: [string, string][] } {
  const exact = new Map<string, string>();
  const prefix = new Map<string, string>();
  for (const frontend of table.frontends) {
    const host = frontend.host.toLowerCase();
    for (const route of frontend.routes) {
      if (/\s/.test(route.path)) continue;
      const backend = route.backend ?? UNAVAILABLE_BACKEND;
      const trimmed = route.path.replace(/\/+$/, "");
      // Routes come in match order, so a key taken already belongs to a route that wins over this one.
      const add = (map: Map<string, string>, key: string) => map.has(key) || map.set(key, backend);
      if (route.pathType === "Exact") {
        add(exact, host + route.path);
      } else {
        if (trimmed !== "") add(exact, host + trimmed);
        add(prefix, `${host + trimmed}/`);
      }
    }
  }
  const byLength = (a: [string, string], b: [string, string]) =>
    b[0].length - a[0].length || (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0);
  return { exact: [...exact].sort(byLength), prefix: [...prefix].sort(byLength) };
}

const mapText = (entries: [string, string][]) => entries.map(([k, v]) => `${k} ${v}\n`).join("");

/** host → `tls` or `plain`, for the redirect and HSTS decisions (wildcards looked up like routes). */
export function hostEntries(table: RouteTable): [string, string][] {
  return table.frontends
    .map((f): [string, string] => [f.host.toLowerCase(), f.tls ? "tls" : "plain"])
    .sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
}

const defaultCertificateOf = (tls: TlsLayout) => tls.defaultCertificate ?? `${tls.certificateDir}/default.pem`;

/**
 * The certificate file of every host: the tenant's own when the table vouches for it (its
 * fingerprint is in the file name, so a new certificate is a new file and a changed crt-list),
 * else one the platform CA issues for the host. Hosts sharing a tenant certificate share its file.
 */
export function certificateNeeds(table: RouteTable, layout: HaproxyLayout): CertificateNeed[] {
  const tls = layout.tls;
  if (!tls) return [];
  const dir = tls.certificateDir;
  const byFile = new Map<string, CertificateNeed>();
  for (const f of table.frontends) {
    const host = f.host.toLowerCase();
    if (f.certificate !== null && f.certificateFingerprint !== undefined) {
      const hex = f.certificateFingerprint.replaceAll(":", "").toLowerCase().slice(0, 16);
      const file = `${dir}/tenant_${f.certificate.replaceAll("/", "_")}_${hex}.pem`;
      const need = byFile.get(file);
      if (need?.source === "tenant") need.hosts.push(host);
      else
        byFile.set(file, {
          file,
          source: "tenant",
          ref: f.certificate,
          fingerprint: f.certificateFingerprint,
          hosts: [host],
        });
    } else if (!(tls.defaultCertificate !== undefined && namesCover(tls.defaultCertificateNames ?? [], host))) {
      // `_` is not a DNS character, so a wildcard's file cannot be another host's.
      const file = `${dir}/platform_${host.replace("*", "_")}.pem`;
      byFile.set(file, { file, source: "platform", names: [host] });
    }
  }
  const needs = [...byFile.values()].sort((a, b) => (a.file < b.file ? -1 : a.file > b.file ? 1 : 0));
  if (tls.defaultCertificate !== undefined) return needs;
  return [{ file: defaultCertificateOf(tls), source: "platform", names: [DEFAULT_CERTIFICATE_NAME] }, ...needs];
}

/** `<file> <sni>…` per certificate file of a host (the default certificate is on the bind line instead). */
function crtListText(needs: readonly CertificateNeed[]): string {
  return needs
    .flatMap((n) => {
      const hosts = n.source === "tenant" ? n.hosts : n.names.filter((h) => h !== DEFAULT_CERTIFICATE_NAME);
      return hosts.length > 0 ? [`${n.file} ${[...hosts].sort().join(" ")}\n`] : [];
    })
    .join("");
}

function serverLine(slot: number, server: Server | undefined): string {
  if (!server) return `  server ${slotName(slot)} 0.0.0.0:0 disabled`;
  // A draining server takes no new requests: weight 0 here, `state drain` at run time.
  return `  server ${slotName(slot)} ${server.address}:${server.port}${server.state === "ready" ? "" : " weight 0"}`;
}

export function backendSection(backend: Backend, slots: readonly (string | null)[]): string[] {
  const servers = serversByKey(backend);
  return [
    `backend ${backend.name}`,
    "  balance roundrobin",
    ...slots.map((key, i) => serverLine(i, key === null ? undefined : servers.get(key))),
  ];
}

function frontendSection(layout: HaproxyLayout): string[] {
  const maps = mapFiles(layout.dir);
  const lookups = ["txn.key", "txn.wkey"].flatMap((v) => [
    `  use_backend %[var(${v}),map_str(${maps.exact})] if { var(${v}),map_str(${maps.exact}) -m found }`,
    `  use_backend %[var(${v}),map_beg(${maps.prefix})] if { var(${v}),map_beg(${maps.prefix}) -m found }`,
  ]);
  return [
    "frontend http",
    `  bind ${layout.bind}`,
    ...(layout.tls
      ? [`  bind ${layout.tls.bind} ssl crt ${defaultCertificateOf(layout.tls)} crt-list ${maps.crtList}`]
      : []),
    "  http-request set-var(txn.path) path",
    "  http-request set-var(txn.key) req.hdr(host),field(1,:),lower,concat(,txn.path)",
    "  http-request set-var(txn.wkey) req.hdr(host),field(1,:),lower,regsub(^[^.]+[.],*.),concat(,txn.path)",
    ...(layout.tls ? tlsRules(layout.tls, maps.hosts) : []),
    ...lookups,
    `  default_backend ${NOT_FOUND_BACKEND}`,
  ];
}

/**
 * Redirect and HSTS for hosts listed under `tls`: the exact host decides, else its wildcard
 * (as routes are matched). The redirect names the HTTPS port unless it is 443, and keeps
 * path and query.
 */
function tlsRules(tls: TlsLayout, hostsMap: string): string[] {
  const port = tls.httpsPort ?? Number(/:(\d+)$/.exec(tls.bind)?.[1] ?? "443");
  const authority = port === 443 ? "%[var(txn.host)]" : `%[var(txn.host)]:${port}`;
  const secure = "{ var(txn.tls) -m str tls }";
  const hsts = tls.hsts
    ? `max-age=${Math.max(0, Math.floor(tls.hsts.maxAgeSeconds))}${tls.hsts.includeSubDomains ? "; includeSubDomains" : ""}`
    : null;
  return [
    "  http-request set-var(txn.host) req.hdr(host),field(1,:),lower",
    `  http-request set-var(txn.tls) var(txn.host),map_str(${hostsMap})`,
    `  http-request set-var(txn.tls) var(txn.host),regsub(^[^.]+[.],*.),map_str(${hostsMap}) if !{ var(txn.tls) -m found }`,
    `  http-request redirect location https://${authority}%[pathq] code ${tls.redirectCode ?? 308} if !{ ssl_fc } ${secure}`,
    ...(hsts ? [`  http-response set-header Strict-Transport-Security "${hsts}" if { ssl_fc } ${secure}`] : []),
  ];
}

/** The whole configuration of `table`, its maps and its slots (kept where `previous` had them). */
export function renderHaproxy(table: RouteTable, layout: HaproxyLayout, previous: Slots = {}): Rendered {
  const t = layout.timeouts ?? { connectMs: 5_000, clientMs: 60_000, serverMs: 60_000, httpRequestMs: 10_000 };
  const slots = slotsFor(table, previous);
  const entries = mapEntries(table);
  const config = [
    `# kubernease route table ${table.version}`,
    "global",
    "  master-worker",
    `  stats socket ${layout.dir}/admin.sock level admin expose-fd listeners`,
    "",
    "defaults",
    "  mode http",
    `  timeout connect ${t.connectMs}ms`,
    `  timeout client ${t.clientMs}ms`,
    `  timeout server ${t.serverMs}ms`,
    `  timeout http-request ${t.httpRequestMs}ms`,
    "  option redispatch",
    "  retry-on conn-failure empty-response response-timeout",
    "  retries 2",
    "",
    ...frontendSection(layout),
    "",
    `backend ${NOT_FOUND_BACKEND}`,
    '  http-request return status 404 content-type text/plain string "no route for this host and path"',
    "",
    `backend ${UNAVAILABLE_BACKEND}`,
    '  http-request return status 503 content-type text/plain string "this route has no backend"',
    ...table.backends.flatMap((b) => ["", ...backendSection(b, slots[b.name] ?? [])]),
    "",
  ].join("\n");
  const certificates = certificateNeeds(table, layout);
  return {
    config,
    exactMap: mapText(entries.exact),
    prefixMap: mapText(entries.prefix),
    hostsMap: mapText(hostEntries(table)),
    crtList: crtListText(certificates),
    certificates,
    slots,
    structure: structureOf(table, slots, layout),
  };
}

function structureOf(table: RouteTable, slots: Slots, layout: HaproxyLayout): string {
  return JSON.stringify({
    maps: mapEntries(table),
    backends: table.backends.map((b) => [b.name, slots[b.name]?.length ?? 0]),
    hosts: layout.tls ? hostEntries(table) : [],
    certificates: crtListText(certificateNeeds(table, layout)),
  });
}

export type Plan =
  | { needsReload: true; reason: string }
  | { needsReload: false; commands: string[]; slots: Slots; structure: string };

/**
 * The runtime API commands that take a proxy serving `previous` (with `previousSlots`) to
 * `next`, or why that needs a reload. Servers that go are put in maintenance first,
 * then addresses move, then servers become ready or draining.
 */
export function planChange(previous: RouteTable, previousSlots: Slots, next: RouteTable, layout: HaproxyLayout): Plan {
  const before = structureOf(previous, previousSlots, layout);
  const sameSizes: Record<string, (string | null)[]> = {};
  for (const backend of next.backends) {
    const prev = previousSlots[backend.name];
    if (!prev) return { needsReload: true, reason: `new backend ${backend.name}` };
    const keys = [...serversByKey(backend).keys()];
    const slots = assignSlots(prev, keys, prev.length);
    if (!slots) return { needsReload: true, reason: `backend ${backend.name} needs more than ${prev.length} slots` };
    sameSizes[backend.name] = slots;
  }
  const structure = structureOf(next, sameSizes, layout);
  if (structure !== before) return { needsReload: true, reason: "routes, backends or certificates changed" };
  const stops: string[] = [];
  const moves: string[] = [];
  const states: string[] = [];
  for (const backend of next.backends) {
    const servers = serversByKey(backend);
    const old = new Map(serversByKeyOf(previous, backend.name));
    const prev = previousSlots[backend.name] ?? [];
    (sameSizes[backend.name] ?? []).forEach((key, i) => {
      const ref = `${backend.name}/${slotName(i)}`;
      const had = prev[i] ?? null;
      if (key === null) {
        if (had !== null) stops.push(`set server ${ref} state maint`);
        return;
      }
      const server = servers.get(key) as Server;
      if (had !== key) moves.push(`set server ${ref} addr ${server.address} port ${server.port}`);
      if (had === key && old.get(key)?.state === server.state) return;
      states.push(...stateCommands(ref, server.state, had === key));
    });
  }
  return { needsReload: false, commands: [...stops, ...moves, ...states], slots: sameSizes, structure };
}

/**
 * `state ready` clears maintenance and drain alike, and `state drain` leaves maintenance on, so a
 * slot that comes out of maintenance straight into draining gets weight 0 first, then ready.
 */
function stateCommands(ref: string, state: Server["state"], wasServing: boolean): string[] {
  if (state === "ready") return [`set server ${ref} state ready`, `set server ${ref} weight 1`];
  return wasServing
    ? [`set server ${ref} state drain`]
    : [`set server ${ref} weight 0`, `set server ${ref} state ready`];
}

function serversByKeyOf(table: RouteTable, backend: string): Map<string, Server> {
  const b = table.backends.find((x) => x.name === backend);
  return b ? serversByKey(b) : new Map();
}

/** What HAProxy should report for `table` with `slots`: the readback to compare against. */
export function expectedServed(table: RouteTable, slots: Slots): Served {
  const servers: ServedServer[] = table.backends.flatMap((backend) => {
    const byKey = serversByKey(backend);
    return (slots[backend.name] ?? []).map((key, i) => {
      const server = key === null ? undefined : byKey.get(key);
      return server
        ? { backend: backend.name, slot: slotName(i), address: server.address, port: server.port, state: server.state }
        : { backend: backend.name, slot: slotName(i), address: "", port: 0, state: "maint" as const };
    });
  });
  const entries = mapEntries(table);
  return { servers, exactMap: entries.exact, prefixMap: entries.prefix };
}

/** Differences between what is served and what should be (empty when they agree); addresses of slots in maintenance are not compared. */
export function compareServed(expected: Served, served: Served): string[] {
  const out: string[] = [];
  const got = new Map(served.servers.map((s) => [`${s.backend}/${s.slot}`, s]));
  for (const want of expected.servers) {
    const ref = `${want.backend}/${want.slot}`;
    const have = got.get(ref);
    if (!have) out.push(`${ref}: not served`);
    else if (have.state !== want.state) out.push(`${ref}: ${have.state}, want ${want.state}`);
    else if (want.state !== "maint" && (have.address !== want.address || have.port !== want.port)) {
      out.push(`${ref}: ${have.address}:${have.port}, want ${want.address}:${want.port}`);
    }
  }
  const same = (a: [string, string][], b: [string, string][]) => JSON.stringify(a) === JSON.stringify(b);
  if (!same(expected.exactMap, served.exactMap)) out.push("exact.map differs");
  if (!same(expected.prefixMap, served.prefixMap)) out.push("prefix.map differs");
  return out;
}

// Admin state bits of `show servers state` (HAProxy's SRV_ADMF_*): forced, inherited, resolver and hostname maintenance; forced and inherited drain.
const MAINT_BITS = 0x01 | 0x02 | 0x20 | 0x40;
const DRAIN_BITS = 0x08 | 0x10;

/** `show servers state` (format 1) → the servers, their addresses and states. */
export function parseServersState(text: string): ServedServer[] {
  const lines = text.split("\n");
  const header = lines.find((l) => l.startsWith("# be_id"));
  if (!header) return [];
  const names = header.slice(2).trim().split(/\s+/);
  const col = (fields: string[], name: string) => fields[names.indexOf(name)] ?? "";
  return lines
    .filter((l) => l.trim() !== "" && !l.startsWith("#") && /\s/.test(l.trim()))
    .map((line) => {
      const f = line.trim().split(/\s+/);
      const admin = Number(col(f, "srv_admin_state"));
      const state: ServedState =
        admin & MAINT_BITS ? "maint" : admin & DRAIN_BITS || Number(col(f, "srv_uweight")) === 0 ? "draining" : "ready";
      return {
        backend: col(f, "be_name"),
        slot: col(f, "srv_name"),
        address: col(f, "srv_addr"),
        port: Number(col(f, "srv_port")),
        state,
      };
    });
}

/** `show map <file>` → its entries in HAProxy's order (each line is `<ref> <key> <value>`). */
export function parseMap(text: string): [string, string][] {
  return text
    .split("\n")
    .map((l) => l.trim().split(/\s+/))
    .filter((f) => f.length === 3 && f[0]?.startsWith("0x"))
    .map((f) => [f[1] as string, f[2] as string]);
}

/** The master's reload counters from `show proc` on the master socket, or null when it has no master line. */
export function parseShowProc(text: string): { reloads: number; failed: number } | null {
  const m = /^\d+\s+master\s+(\d+)\s+\[failed:\s*(\d+)\]/m.exec(text);
  return m ? { reloads: Number(m[1]), failed: Number(m[2]) } : null;
}

/** Current sessions of one server from `show stat` (CSV), or null when the server is not listed. */
export function parseCurrentSessions(text: string, backend: string, slot: string): number | null {
  const lines = text.split("\n");
  const header = (lines[0] ?? "").replace(/^#\s*/, "").split(",");
  const scur = header.indexOf("scur");
  for (const line of lines.slice(1)) {
    const f = line.split(",");
    if (f[0] === backend && f[1] === slot) return Number(f[scur] ?? "0") || 0;
  }
  return null;
}
