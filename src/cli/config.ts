import { resolve } from "node:path";
import { memoryBytes } from "../core/quantity.js";
import type { DockerHostConfig } from "../providers/docker/index.js";
import { isDomainPattern } from "../routing/hosts.js";

/** Everything `serve` can be told, by flag or by environment (flags win). */
export interface ServeConfig {
  host: string;
  port: number;
  dataDir: string;
  adminKey?: string;
  databaseUrl?: string;
  redisUrl?: string;
  insecureHttp: boolean;
  tlsCertPath?: string;
  tlsKeyPath?: string;
  seed?: string;
  nodes: { count: number; cpuMillis: number; memoryBytes: number };
  /** Docker Engines to run pods on instead of the simulated nodes (`--docker`), one node each. */
  docker?: DockerHostConfig[];
  /** Tenants' hosts live under `<tenant>.<baseDomain>` (`--base-domain apps.example`); see ApiDeps.baseDomain. */
  baseDomain?: string;
  /**
   * Which nodes run pods (`--provider`): `docker` runs the Docker provider even with no `--docker`
   * Engine, for Engines registered at `POST /v1/admin/nodes` only. When absent: Docker when `--docker`
   * is given or the store holds registered Engines, else simulated nodes.
   */
  provider?: "docker" | "simulated";
  /**
   * The managed HAProxy's HTTP listener (`--proxy 127.0.0.1:8080`): the platform starts and
   * supervises an HAProxy serving every tenant's routes there. No proxy when absent.
   */
  proxy?: ProxyConfig;
}

/** The managed HAProxy: its HTTP listener, and its HTTPS listener for tenants' hosts with HSTS when asked. */
export interface ProxyConfig {
  bind: string;
  /** `--proxy-tls 127.0.0.1:8444`: every tenant host over HTTPS, with a certificate of the platform CA (or the tenant's own). */
  tlsBind?: string;
  /** `--hsts-max-age N`: `Strict-Transport-Security: max-age=N` on HTTPS answers of hosts an Ingress lists under `tls`. */
  hstsMaxAgeSeconds?: number;
  /**
   * `--proxy-attach DIR`: an HAProxy the operator runs (master-worker, `-W -S DIR/master.sock -f DIR/haproxy.cfg`)
   * instead of one the platform starts: the platform writes its files in DIR, reloads it, and leaves it running.
   */
  attachDir?: string;
  /** `--proxy-cert FILE`: the operator's certificate and key (one PEM) for the TLS listener, served for the hosts it names. */
  certFile?: string;
}

type Flags = Record<string, string | boolean | undefined>;

function text(flags: Flags, flag: string, env: string | undefined): string | undefined {
  const value = flags[flag];
  return typeof value === "string" ? value : env || undefined;
}

function int(name: string, value: string | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0) throw new Error(`${name} must be a whole number, got "${value}"`);
  return n;
}

export function serveConfig(flags: Flags, env: NodeJS.ProcessEnv): ServeConfig {
  const cpu = Number(text(flags, "node-cpu", env.KUBERNEASE_NODE_CPU) ?? 4);
  const memory = text(flags, "node-memory", env.KUBERNEASE_NODE_MEMORY) ?? "8Gi";
  if (!Number.isFinite(cpu) || cpu <= 0) throw new Error("--node-cpu must be a positive number of CPUs");
  return {
    host: text(flags, "host", env.KUBERNEASE_HOST) ?? "127.0.0.1",
    port: int("--port", text(flags, "port", env.PORT), 8443),
    dataDir: text(flags, "data-dir", env.KUBERNEASE_DATA_DIR) ?? "./.kubernease",
    adminKey: env.KUBERNEASE_ADMIN_KEY || undefined,
    databaseUrl: text(flags, "database-url", env.DATABASE_URL),
    redisUrl: text(flags, "redis-url", env.REDIS_URL),
    insecureHttp: flags["insecure-http"] === true,
    tlsCertPath: text(flags, "tls-cert", env.KUBERNEASE_TLS_CERT),
    tlsKeyPath: text(flags, "tls-key", env.KUBERNEASE_TLS_KEY),
    seed: text(flags, "seed", env.KUBERNEASE_SEED),
    nodes: {
      count: int("--nodes", text(flags, "nodes", env.KUBERNEASE_NODES), 3),
      cpuMillis: Math.round(cpu * 1000),
      memoryBytes: memoryBytes(memory),
    },
    ...dockerOption(text(flags, "docker", env.KUBERNEASE_DOCKER)),
    ...baseDomainOption(text(flags, "base-domain", env.KUBERNEASE_BASE_DOMAIN)),
    ...providerOption(text(flags, "provider", env.KUBERNEASE_PROVIDER)),
    ...proxyOption(flags, env),
  };
}

function listenAddress(flag: string, value: string): string {
  const match = /^(\[[0-9a-fA-F:.]+\]|[^:\s]+):(\d+)$/.exec(value);
  const port = Number(match?.[2]);
  if (!match || port < 1 || port > 65_535) {
    throw new Error(`${flag} must be ADDRESS:PORT such as 127.0.0.1:8080, got "${value}"`);
  }
  return value;
}

function proxyOption(flags: Flags, env: NodeJS.ProcessEnv): { proxy?: ProxyConfig } {
  const bind = text(flags, "proxy", env.KUBERNEASE_PROXY);
  const tls = text(flags, "proxy-tls", env.KUBERNEASE_PROXY_TLS);
  const hsts = text(flags, "hsts-max-age", env.KUBERNEASE_HSTS_MAX_AGE);
  const attach = text(flags, "proxy-attach", env.KUBERNEASE_PROXY_ATTACH);
  const cert = text(flags, "proxy-cert", env.KUBERNEASE_PROXY_CERT);
  if (bind === undefined) {
    if (tls !== undefined || hsts !== undefined || attach !== undefined || cert !== undefined) {
      throw new Error("--proxy-tls, --hsts-max-age, --proxy-cert and --proxy-attach need --proxy");
    }
    return {};
  }
  if (hsts !== undefined && tls === undefined) throw new Error("--hsts-max-age needs --proxy-tls");
  if (cert !== undefined && tls === undefined) throw new Error("--proxy-cert needs --proxy-tls");
  return {
    proxy: {
      bind: listenAddress("--proxy", bind),
      ...(tls !== undefined ? { tlsBind: listenAddress("--proxy-tls", tls) } : {}),
      ...(hsts !== undefined ? { hstsMaxAgeSeconds: int("--hsts-max-age", hsts, 0) } : {}),
      ...(attach !== undefined ? { attachDir: resolve(attach) } : {}),
      ...(cert !== undefined ? { certFile: resolve(cert) } : {}),
    },
  };
}

function providerOption(value: string | undefined): { provider?: "docker" | "simulated" } {
  if (value === undefined) return {};
  if (value === "docker" || value === "simulated") return { provider: value };
  throw new Error(`--provider must be docker or simulated, got "${value}"`);
}

function baseDomainOption(value: string | undefined): { baseDomain?: string } {
  if (value === undefined) return {};
  const domain = value.toLowerCase().replace(/\.$/, "");
  if (domain.startsWith("*.") || !isDomainPattern(domain)) {
    throw new Error(`--base-domain must be a DNS name such as apps.example, got "${value}"`);
  }
  return { baseDomain: domain };
}

function dockerOption(value: string | undefined): { docker?: DockerHostConfig[] } {
  return value === undefined ? {} : { docker: dockerHosts(value) };
}

/**
 * `--docker [NAME=]unix:///var/run/docker.sock,[NAME=]tcp://HOST:2375,…`: one node per Engine, named
 * NAME or `docker-N`. Pods' ports are published on 127.0.0.1 for a socket, on HOST for tcp.
 */
export function dockerHosts(value: string): DockerHostConfig[] {
  const hosts = value
    .split(",")
    .map((part) => part.trim())
    .filter((part) => part !== "")
    .map((part, i): DockerHostConfig => {
      const at = part.indexOf("=");
      const name = at > 0 ? part.slice(0, at) : `docker-${i + 1}`;
      const endpoint = at > 0 ? part.slice(at + 1) : part;
      if (endpoint.startsWith("unix://")) return { name, socketPath: endpoint.slice("unix://".length) };
      const tcp = /^tcp:\/\/([^:/]+):(\d+)\/?$/.exec(endpoint);
      if (tcp) return { name, host: tcp[1] as string, port: Number(tcp[2]), address: tcp[1] as string };
      throw new Error(`--docker: "${endpoint}" is neither unix:///path/to/docker.sock nor tcp://host:port`);
    });
  if (hosts.length === 0) throw new Error("--docker needs at least one Engine, e.g. unix:///var/run/docker.sock");
  const names = hosts.map((h) => h.name);
  if (new Set(names).size !== names.length) throw new Error(`--docker: node names must differ (${names.join(", ")})`);
  return hosts;
}

/** What `kubernease api` and `kubernease worker` are told, beyond `serve`'s flags. */
export interface WorkerFlags {
  concurrency?: number;
  queuePrefix?: string;
  nodesUrl?: string;
  nodesToken?: string;
  /** How long the control-plane lease lasts unless renewed (`KUBERNEASE_LEASE_TTL_MS`, 15 s). */
  leaseTtlMs?: number;
}

export function workerConfig(flags: Flags, env: NodeJS.ProcessEnv): ServeConfig & WorkerFlags {
  const concurrency = text(flags, "concurrency", env.KUBERNEASE_CONCURRENCY);
  const queuePrefix = text(flags, "queue-prefix", env.KUBERNEASE_QUEUE_PREFIX);
  const nodesUrl = text(flags, "nodes-url", env.KUBERNEASE_NODES_URL);
  if (concurrency !== undefined && int("--concurrency", concurrency, 0) < 1) {
    throw new Error("--concurrency must be at least 1");
  }
  if (queuePrefix !== undefined && !/^[A-Za-z0-9_.-]{1,64}$/.test(queuePrefix)) {
    throw new Error(`--queue-prefix must be 1 to 64 letters, digits, "_", "." or "-", got "${queuePrefix}"`);
  }
  return {
    ...serveConfig(flags, env),
    ...(concurrency !== undefined ? { concurrency: int("--concurrency", concurrency, 8) } : {}),
    ...(queuePrefix !== undefined ? { queuePrefix } : {}),
    ...(nodesUrl !== undefined ? { nodesUrl } : {}),
    ...(env.KUBERNEASE_NODES_TOKEN ? { nodesToken: env.KUBERNEASE_NODES_TOKEN } : {}),
    ...(env.KUBERNEASE_LEASE_TTL_MS
      ? { leaseTtlMs: int("KUBERNEASE_LEASE_TTL_MS", env.KUBERNEASE_LEASE_TTL_MS, 0) }
      : {}),
  };
}
