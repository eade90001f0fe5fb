/**
 * The route table: from every tenant's Ingresses, Services and Endpoints to what
 * the reverse proxy serves — frontends (one per host, its routes in match
 * order), backends (one per tenant, namespace, Service and port) and their
 * servers. Pure and canonical: the same objects in any order give the same
 * table, byte for byte, and its `version` is a hash of that content, so a
 * publisher can tell "nothing changed" from one comparison.
 */
import { canonicalJson, fnv1a32, safeEncode } from "../core/hash.js";
import { checkTlsSecret } from "./certificates.js";

/** Where an object lives: its tenant's name (not id: the table is read by the operator), namespace and name. */
export interface Source {
  tenant: string;
  namespace: string;
  name: string;
}

export interface IngressBackendInput {
  service?: { name: string; port: { number?: number; name?: string } };
  resource?: unknown;
}

export interface IngressInput extends Source {
  spec: {
    defaultBackend?: IngressBackendInput;
    tls?: { hosts?: string[]; secretName?: string }[];
    rules?: {
      host?: string;
      http?: { paths: { path?: string; pathType: string; backend: IngressBackendInput }[] };
    }[];
  };
}

export interface ServiceInput extends Source {
  spec: { ports?: { name?: string; port: number; targetPort?: number | string }[] };
}

export interface EndpointsInput extends Source {
  subsets: {
    addresses?: { ip: string; targetRef?: { name?: string } }[];
    notReadyAddresses?: { ip: string; targetRef?: { name?: string } }[];
    ports?: { name?: string; port: number }[];
  }[];
}

/** A Secret an Ingress's `tls` names; data as stored (base64). Only read, never copied into the table. */
export interface SecretInput extends Source {
  type: string;
  data: Readonly<Record<string, string>>;
}

export interface RoutingInput {
  ingresses: readonly IngressInput[];
  services: readonly ServiceInput[];
  endpoints: readonly EndpointsInput[];
  /** The Secrets named by Ingress `tls` entries (others may be given and are ignored). */
  secrets?: readonly SecretInput[];
  /** host → the tenant (name) that holds it. A host claimed by one tenant is served for that tenant only. */
  claims?: Readonly<Record<string, string>>;
  /**
   * Where the proxy reaches an endpoint (a pod's port), when not at the pod's own address: on a
   * node of another machine, that node's address and the port published for it. Undefined: it
   * cannot be reached, and is left out. Absent: every endpoint at its own address.
   */
  reach?: Reach;
  /** When tenants' certificates are judged (an expired one is not served); not judged by date when absent. */
  nowMs?: number;
}

export type Reach = (
  endpoints: Source,
  address: { ip: string; targetRef?: { name?: string } },
  port: number,
) => { address: string; port: number } | undefined;

export type PathType = "Exact" | "Prefix";

export interface Route {
  path: string;
  pathType: PathType;
  /** The backend's name, or null when it cannot be resolved (the proxy answers 503); `reason` says why. */
  backend: string | null;
  reason?: string;
  /** The Ingress's `defaultBackend`: matched after every rule of the host. */
  default?: true;
  ingress: Source;
}

export interface Frontend {
  host: string;
  tenant: string;
  wildcard: boolean;
  /**
   * Whether the Ingress lists the host under `tls`: plain HTTP is then redirected to HTTPS.
   * Every host is served over HTTPS either way.
   */
  tls: boolean;
  /** `tenant/namespace/secretName` of the certificate, or null for the platform's own when TLS names no secret. */
  certificate: string | null;
  /**
   * The SHA-256 fingerprint of the tenant's certificate when it is served, so that a changed
   * certificate changes the table (and reloads the proxy) while the table holds no key material.
   */
  certificateFingerprint?: string;
  /** Why the tenant's certificate is not served (the platform's is, instead). */
  certificateProblem?: string;
  routes: Route[];
}

export type ServerState = "ready" | "draining";

export interface Server {
  name: string;
  address: string;
  port: number;
  /** A not-ready endpoint is drained: the proxy sends it no new requests. */
  state: ServerState;
}

export interface Backend {
  name: string;
  tenant: string;
  namespace: string;
  service: string;
  /** The Service's port. */
  port: number;
  servers: Server[];
}

/** Something named that the table does not route, and why (a host held by another tenant, a duplicate path, …). */
export interface Problem {
  ingress: Source;
  host?: string;
  path?: string;
  reason: string;
}

export interface RouteTable {
  version: string;
  frontends: Frontend[];
  backends: Backend[];
  problems: Problem[];
}

const compare = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);
const sourceKey = (s: Source) => `${s.tenant}/${s.namespace}/${s.name}`;
const bySource = (a: Source, b: Source) => compare(sourceKey(a), sourceKey(b));

/**
 * A backend name HAProxy accepts (letters, digits, `-`, `_`, `.`, `:`) and that
 * cannot collide: tenant, namespace and Service names are DNS labels, so the dots
 * between them are unambiguous.
 */
export function backendName(tenant: string, namespace: string, service: string, port: number): string {
  return `${tenant}.${namespace}.${service}.${port}`;
}

/** ImplementationSpecific is a prefix here (as most proxies read it); an empty path is `/`. */
function normalisePath(path: string | undefined, pathType: string): { path: string; pathType: PathType } {
  return { path: path || "/", pathType: pathType === "Exact" ? "Exact" : "Prefix" };
}

interface Resolved {
  backend: Backend | null;
  reason?: string;
}

/** An Ingress backend → the Service port it names (a named port looked up by name), or why it cannot be. */
function resolveBackend(
  ingress: Source,
  backend: IngressBackendInput,
  services: Map<string, ServiceInput>,
  endpoints: Map<string, EndpointsInput>,
  reach: Reach | undefined,
): Resolved {
  const ref = backend.service;
  if (!ref) return { backend: null, reason: "only Service backends are routed" };
  const key = `${ingress.tenant}/${ingress.namespace}/${ref.name}`;
  const service = services.get(key);
  if (!service) return { backend: null, reason: `service "${ref.name}" not found` };
  const ports = service.spec.ports ?? [];
  const port =
    ref.port.name !== undefined
      ? ports.find((p) => p.name === ref.port.name)
      : ports.find((p) => p.port === ref.port.number);
  if (!port) {
    const wanted = ref.port.name !== undefined ? `named "${ref.port.name}"` : String(ref.port.number);
    return { backend: null, reason: `service "${ref.name}" has no port ${wanted}` };
  }
  const name = backendName(ingress.tenant, ingress.namespace, ref.name, port.port);
  const servers = serversOf(endpoints.get(key), port.name, ports.length, reach);
  return {
    backend: {
      name,
      tenant: ingress.tenant,
      namespace: ingress.namespace,
      service: ref.name,
      port: port.port,
      servers,
    },
  };
}

/**
 * The endpoints of one Service port: the endpoint port of the same name (the
 * Endpoints controller already resolved named target ports per pod), or the only
 * port of a single-port Service.
 */
function serversOf(
  endpoints: EndpointsInput | undefined,
  portName: string | undefined,
  portCount: number,
  reach: Reach | undefined,
): Server[] {
  const servers: Server[] = [];
  for (const subset of endpoints?.subsets ?? []) {
    const ports = subset.ports ?? [];
    const port = ports.find((p) => (p.name ?? "") === (portName ?? "")) ?? (portCount === 1 ? ports[0] : undefined);
    if (!port || !endpoints) continue;
    const add = (state: ServerState) => (a: { ip: string; targetRef?: { name?: string } }) => {
      const at = reach ? reach(endpoints, a, port.port) : { address: a.ip, port: port.port };
      if (at) servers.push({ name: a.targetRef?.name ?? `${a.ip}:${port.port}`, ...at, state });
    };
    (subset.addresses ?? []).forEach(add("ready"));
    (subset.notReadyAddresses ?? []).forEach(add("draining"));
  }
  return servers.sort(
    (a, b) => compare(a.address, b.address) || a.port - b.port || compare(a.name, b.name) || compare(a.state, b.state),
  );
}

interface Candidate extends Route {
  host: string;
}

/** Every (host, path) an Ingress asks for, its default backend last on each of its hosts. */
function candidatesOf(ingress: IngressInput, resolve: (b: IngressBackendInput) => Resolved, problems: Problem[]) {
  const source: Source = { tenant: ingress.tenant, namespace: ingress.namespace, name: ingress.name };
  const out: Candidate[] = [];
  const route = (host: string, path: string, pathType: PathType, backend: IngressBackendInput, dflt: boolean) => {
    const resolved = resolve(backend);
    out.push({
      host,
      path,
      pathType,
      backend: resolved.backend?.name ?? null,
      ...(resolved.reason ? { reason: resolved.reason } : {}),
      ...(dflt ? { default: true as const } : {}),
      ingress: source,
    });
  };
  const hosts = new Set<string>();
  for (const rule of ingress.spec.rules ?? []) {
    if (!rule.host) {
      problems.push({ ingress: source, reason: "a rule without a host is not routed: name a host" });
      continue;
    }
    hosts.add(rule.host);
    for (const p of rule.http?.paths ?? []) {
      const { path, pathType } = normalisePath(p.path, p.pathType);
      route(rule.host, path, pathType, p.backend, false);
    }
  }
  const fallback = ingress.spec.defaultBackend;
  if (fallback && hosts.size === 0) {
    problems.push({
      ingress: source,
      reason: "a defaultBackend is routed on the Ingress's own hosts, and it names none",
    });
  }
  if (fallback) for (const host of hosts) route(host, "/", "Prefix", fallback, true);
  return out;
}

/** Match order: rules before the default backend, Exact before Prefix, then the longest path first. */
function routeOrder(a: Route, b: Route): number {
  return (
    Number(a.default ?? false) - Number(b.default ?? false) ||
    Number(a.pathType !== "Exact") - Number(b.pathType !== "Exact") ||
    b.path.length - a.path.length ||
    compare(a.path, b.path) ||
    bySource(a.ingress, b.ingress)
  );
}

/** Exact hosts before wildcards, the more specific wildcard first, then by name. */
function hostOrder(a: Frontend, b: Frontend): number {
  const depth = (h: string) => h.split(".").length;
  return Number(a.wildcard) - Number(b.wildcard) || depth(b.host) - depth(a.host) || compare(a.host, b.host);
}

/** Who serves a host: its claim holder, else the one tenant naming it; named by several and claimed by none, nobody. */
function ownerOf(host: string, tenants: Set<string>, claims: Readonly<Record<string, string>>): string | undefined {
  const claimed = claims[host];
  if (claimed !== undefined) return claimed;
  return tenants.size === 1 ? [...tenants][0] : undefined;
}

type TlsFields = Pick<Frontend, "tls" | "certificate" | "certificateFingerprint" | "certificateProblem">;

function tlsOf(
  host: string,
  owner: string,
  ingresses: IngressInput[],
  secrets: Map<string, SecretInput>,
  nowMs: number | undefined,
): TlsFields {
  for (const ingress of ingresses) {
    if (ingress.tenant !== owner) continue;
    const names = new Set((ingress.spec.rules ?? []).map((r) => r.host));
    for (const entry of ingress.spec.tls ?? []) {
      const covers = entry.hosts === undefined ? names.has(host) : entry.hosts.includes(host);
      if (!covers) continue;
      if (!entry.secretName) return { tls: true, certificate: null };
      // The Secret is looked up in the Ingress's own tenant and namespace, never elsewhere.
      const certificate = `${ingress.tenant}/${ingress.namespace}/${entry.secretName}`;
      const checked = checkTlsSecret(secrets.get(certificate), [host], nowMs);
      return "fingerprint" in checked
        ? { tls: true, certificate, certificateFingerprint: checked.fingerprint }
        : { tls: true, certificate, certificateProblem: checked.problem };
    }
  }
  return { tls: false, certificate: null };
}

/** The route table of the given objects; the order of the inputs never changes it. */
export function buildRouteTable(input: RoutingInput): RouteTable {
  const claims = input.claims ?? {};
  const ingresses = [...input.ingresses].sort(bySource);
  const services = new Map(input.services.map((s) => [sourceKey(s), s]));
  const endpoints = new Map(input.endpoints.map((e) => [sourceKey(e), e]));
  const secrets = new Map((input.secrets ?? []).map((s) => [sourceKey(s), s]));
  const backends = new Map<string, Backend>();
  const problems: Problem[] = [];
  const candidates = ingresses.flatMap((ingress) =>
    candidatesOf(
      ingress,
      (b) => {
        const resolved = resolveBackend(ingress, b, services, endpoints, input.reach);
        if (resolved.backend) backends.set(resolved.backend.name, resolved.backend);
        return resolved;
      },
      problems,
    ),
  );
  const byHost = new Map<string, Candidate[]>();
  for (const c of candidates) byHost.set(c.host, [...(byHost.get(c.host) ?? []), c]);
  const frontends: Frontend[] = [];
  for (const [host, all] of byHost) {
    const owner = ownerOf(host, new Set(all.map((c) => c.ingress.tenant)), claims);
    const routes: Route[] = [];
    const taken = new Map<string, Source>();
    for (const { host: _host, ...route } of all.sort(routeOrder)) {
      const problem = { ingress: route.ingress, host, path: route.path };
      if (route.ingress.tenant !== owner) {
        problems.push({
          ...problem,
          reason: "the host is held by another tenant, or named by several and held by none",
        });
        continue;
      }
      const key = `${route.default ?? false}/${route.pathType}/${route.path}`;
      const first = taken.get(key);
      if (first) {
        problems.push({ ...problem, reason: `the same path is routed by Ingress ${first.namespace}/${first.name}` });
        continue;
      }
      taken.set(key, route.ingress);
      routes.push(route);
    }
    if (owner === undefined || routes.length === 0) continue;
    frontends.push({
      host,
      tenant: owner,
      wildcard: host.startsWith("*."),
      ...tlsOf(host, owner, ingresses, secrets, input.nowMs),
      routes,
    });
  }
  const used = new Set(frontends.flatMap((f) => f.routes.map((r) => r.backend)));
  const content = {
    frontends: frontends.sort(hostOrder),
    backends: [...backends.values()].filter((b) => used.has(b.name)).sort((a, b) => compare(a.name, b.name)),
    problems: problems.sort(problemOrder),
  };
  return { version: versionOf(content), ...content };
}

function problemOrder(a: Problem, b: Problem): number {
  return (
    bySource(a.ingress, b.ingress) ||
    compare(a.host ?? "", b.host ?? "") ||
    compare(a.path ?? "", b.path ?? "") ||
    compare(a.reason, b.reason)
  );
}

function versionOf(content: Omit<RouteTable, "version">): string {
  const text = canonicalJson(content);
  // Two 32-bit hashes (of the text and of its reverse) make an accidental collision between versions unlikely.
  return `${safeEncode(fnv1a32(text))}${safeEncode(fnv1a32([...text].reverse().join("")))}`;
}

/** One tenant's part of the table: its frontends, their backends and its problems, with a version of its own. */
export function tenantView(table: RouteTable, tenant: string): RouteTable {
  const content = {
    frontends: table.frontends.filter((f) => f.tenant === tenant),
    backends: table.backends.filter((b) => b.tenant === tenant),
    problems: table.problems.filter((p) => p.ingress.tenant === tenant),
  };
  return { version: versionOf(content), ...content };
}
