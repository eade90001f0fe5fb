/**
 * Service proxies, pure: the Kubernetes ClusterIP role. Each Service of a tenant gets an HAProxy on
 * every node where the tenant has pods, on the tenant's network, answering to the Service's names;
 * it listens on each Service port in TCP mode and forwards to the Service's endpoints. Ready
 * endpoints take connections; not-ready ones (a pod being deleted) are drained, as at the edge.
 *
 * A proxy is described as a route table with backends only (one per Service port, `p<port>`), so
 * the edge's slot assignment, change planning and readback (haproxy.ts) serve it unchanged:
 * endpoint churn is runtime API commands, a new port or more servers than slots is a reload.
 */
import { canonicalJson, fnv1a32 } from "../core/hash.js";
import { backendSection, type Slots } from "./haproxy.js";
import type { Backend, EndpointsInput, RouteTable, Server } from "./table.js";

export interface ProxyServiceInput {
  namespace: string;
  name: string;
  spec: {
    type?: string;
    clusterIP?: string;
    ports?: { name?: string; port: number; protocol?: string; targetPort?: number | string }[];
  };
}

export interface ProxyEndpoint {
  /** The pod's name (from the endpoint's `targetRef`). */
  pod: string;
  ip: string;
  port: number;
  ready: boolean;
}

export interface ProxyPort {
  port: number;
  name?: string;
  endpoints: ProxyEndpoint[];
}

/** One Service as its proxy serves it. */
export interface ProxyService {
  namespace: string;
  name: string;
  ports: ProxyPort[];
}

export interface ProxyServices {
  services: ProxyService[];
  /** Services that get no proxy, and why (headless, no TCP port). */
  skipped: { namespace: string; name: string; reason: string }[];
}

/**
 * A tenant's Services and Endpoints → the Services its proxies serve. A headless Service
 * (`clusterIP: None`) has no address of its own; UDP and SCTP ports are not proxied.
 */
export function proxyServices(
  services: readonly ProxyServiceInput[],
  endpoints: readonly Omit<EndpointsInput, "tenant">[],
): ProxyServices {
  const out: ProxyServices = { services: [], skipped: [] };
  const endpointsOf = new Map(endpoints.map((e) => [`${e.namespace}/${e.name}`, e]));
  const sorted = [...services].sort((a, b) => compare(`${a.namespace}/${a.name}`, `${b.namespace}/${b.name}`));
  for (const service of sorted) {
    const { namespace, name } = service;
    if (service.spec.clusterIP === "None") {
      out.skipped.push({ namespace, name, reason: "headless (clusterIP: None)" });
      continue;
    }
    if (service.spec.type === "ExternalName") {
      out.skipped.push({ namespace, name, reason: "ExternalName: a name elsewhere, not pods" });
      continue;
    }
    const declared = service.spec.ports ?? [];
    const tcp = declared.filter((p) => (p.protocol ?? "TCP") === "TCP");
    if (tcp.length === 0) {
      out.skipped.push({ namespace, name, reason: "no TCP port" });
      continue;
    }
    const subsets = endpointsOf.get(`${namespace}/${name}`)?.subsets ?? [];
    const ports = tcp.map((port) => {
      const found: ProxyEndpoint[] = [];
      for (const subset of subsets) {
        // A subset's port is the Service port of the same name (the only one, when unnamed).
        const target = (subset.ports ?? []).find((p) => (p.name ?? "") === (port.name ?? ""));
        if (!target) continue;
        const add = (a: { ip: string; targetRef?: { name?: string } }, ready: boolean) =>
          found.push({ pod: a.targetRef?.name ?? a.ip, ip: a.ip, port: target.port, ready });
        for (const a of subset.addresses ?? []) add(a, true);
        for (const a of subset.notReadyAddresses ?? []) add(a, false);
      }
      return { port: port.port, ...(port.name ? { name: port.name } : {}), endpoints: found };
    });
    out.services.push({ namespace, name, ports });
  }
  return out;
}

export const proxyBackendName = (port: number) => `p${port}`;

/**
 * The route table of one proxy on one node: `address` says how the node reaches an endpoint (the
 * pod's own address there, its node's published port elsewhere), or undefined when it cannot, and
 * the endpoint is left out.
 */
export function proxyTable(
  service: ProxyService,
  address: (endpoint: ProxyEndpoint) => { address: string; port: number } | undefined,
): RouteTable {
  const backends: Backend[] = service.ports.map((port) => {
    const servers: Server[] = [];
    for (const endpoint of port.endpoints) {
      const at = address(endpoint);
      if (at) servers.push({ name: endpoint.pod, ...at, state: endpoint.ready ? "ready" : "draining" });
    }
    servers.sort((a, b) => compare(`${a.address}:${a.port}`, `${b.address}:${b.port}`));
    return {
      name: proxyBackendName(port.port),
      tenant: "",
      namespace: service.namespace,
      service: service.name,
      port: port.port,
      servers,
    };
  });
  const content = { backends };
  return { version: fnv1a32(canonicalJson(content)).toString(16), frontends: [], backends, problems: [] };
}

/**
 * The proxy's haproxy.cfg: its command socket in `runDir`, one TCP listener per Service port on
 * every address of the container, each with its backend's server slots. One thread (a proxy per
 * Service and node: their number, not their threads, grows with the cluster). Idle connections are kept
 * an hour (database clients hold theirs); a soft stop gives sessions 30 s to finish.
 */
export function renderProxyConfig(table: RouteTable, slots: Slots, runDir: string): string {
  const lines = [
    "global",
    "  nbthread 1",
    "  maxconn 4096",
    `  stats socket ${runDir}/admin.sock mode 600 level admin expose-fd listeners`,
    "  hard-stop-after 30s",
    "",
    "defaults",
    "  mode tcp",
    "  timeout connect 5s",
    "  timeout client 1h",
    "  timeout server 1h",
    "  option redispatch",
    "  retries 3",
  ];
  for (const backend of table.backends) {
    lines.push("", `frontend f${backend.port}`, `  bind :${backend.port}`, `  default_backend ${backend.name}`);
    lines.push("", ...backendSection(backend, slots[backend.name] ?? []));
  }
  return `${lines.join("\n")}\n`;
}

const compare = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);
