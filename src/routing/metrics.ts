/**
 * Prometheus metrics per tenant route, from HAProxy's statistics (`show stat`,
 * CSV). Pure: text in, text out. A route is a backend of the route table,
 * named `tenant.namespace.service.port` (src/routing/table.ts `backendName`);
 * its servers are the Service's endpoints. A tenant sees its own routes only.
 */
import { NOT_FOUND_BACKEND, UNAVAILABLE_BACKEND } from "./haproxy.js";

export interface RouteStats {
  tenant: string;
  namespace: string;
  service: string;
  port: number;
  /** Requests answered, by status class (`1xx` … `5xx`, `other`). */
  responses: Record<string, number>;
  sessionsCurrent: number;
  sessionsTotal: number;
  bytesIn: number;
  bytesOut: number;
  connectionErrors: number;
  responseErrors: number;
  /** Retries and redispatches to another server: requests the proxy saved from a failed server. */
  retries: number;
  redispatches: number;
  /** HAProxy's average over the last 1,024 requests, in ms. */
  responseTimeMs: number;
  /** Server slots in rotation (`UP`), of those holding an endpoint. */
  serversUp: number;
}

/** The statistics of every route backend in `show stat` output (the platform's own backends left out). */
export function parseRouteStats(csv: string): RouteStats[] {
  const lines = csv.split("\n").filter((l) => l.trim() !== "");
  const header = (lines[0] ?? "").replace(/^#\s*/, "").split(",");
  const col = (fields: string[], name: string) => {
    const i = header.indexOf(name);
    return i < 0 ? 0 : Number(fields[i] ?? "0") || 0;
  };
  const text = (fields: string[], name: string) => fields[header.indexOf(name)] ?? "";
  const routes = new Map<string, RouteStats>();
  const upByBackend = new Map<string, number>();
  for (const line of lines.slice(1)) {
    const f = line.split(",");
    const [proxy, server] = [f[0] ?? "", f[1] ?? ""];
    if (proxy === NOT_FOUND_BACKEND || proxy === UNAVAILABLE_BACKEND) continue;
    const parts = proxy.split(".");
    if (parts.length !== 4 || !/^\d+$/.test(parts[3] ?? "")) continue;
    if (server !== "BACKEND") {
      // Servers have no health checks ("no check") unless told; a free slot is in maintenance at
      // 0.0.0.0:0, and a draining one takes no new requests.
      const status = text(f, "status");
      const serving = status === "no check" || status.startsWith("UP");
      if (serving && col(f, "weight") > 0 && !text(f, "addr").startsWith("0.0.0.0")) {
        upByBackend.set(proxy, (upByBackend.get(proxy) ?? 0) + 1);
      }
      continue;
    }
    const [tenant, namespace, service, port] = parts as [string, string, string, string];
    routes.set(proxy, {
      tenant,
      namespace,
      service,
      port: Number(port),
      responses: {
        "1xx": col(f, "hrsp_1xx"),
        "2xx": col(f, "hrsp_2xx"),
        "3xx": col(f, "hrsp_3xx"),
        "4xx": col(f, "hrsp_4xx"),
        "5xx": col(f, "hrsp_5xx"),
        other: col(f, "hrsp_other"),
      },
      sessionsCurrent: col(f, "scur"),
      sessionsTotal: col(f, "stot"),
      bytesIn: col(f, "bin"),
      bytesOut: col(f, "bout"),
      connectionErrors: col(f, "econ"),
      responseErrors: col(f, "eresp"),
      retries: col(f, "wretr"),
      redispatches: col(f, "wredis"),
      responseTimeMs: col(f, "rtime"),
      serversUp: 0,
    });
  }
  for (const [name, route] of routes) route.serversUp = upByBackend.get(name) ?? 0;
  return [...routes.values()].sort((a, b) => routeKey(a).localeCompare(routeKey(b)));
}

const routeKey = (r: RouteStats) => `${r.tenant}/${r.namespace}/${r.service}/${r.port}`;

/** A label value as Prometheus' text format wants it. */
const quoted = (value: string) => `"${value.replaceAll("\\", "\\\\").replaceAll('"', '\\"').replaceAll("\n", "\\n")}"`;

interface Family {
  name: string;
  type: "counter" | "gauge";
  help: string;
  samples: (route: RouteStats) => [Record<string, string>, number][];
}

const FAMILIES: Family[] = [
  {
    name: "kubernease_route_responses_total",
    type: "counter",
    help: "HTTP responses of a route, by status class.",
    samples: (r) => Object.entries(r.responses).map(([code, n]) => [{ code }, n]),
  },
  {
    name: "kubernease_route_sessions",
    type: "gauge",
    help: "Sessions open on a route now.",
    samples: (r) => [[{}, r.sessionsCurrent]],
  },
  {
    name: "kubernease_route_sessions_total",
    type: "counter",
    help: "Sessions a route has served.",
    samples: (r) => [[{}, r.sessionsTotal]],
  },
  {
    name: "kubernease_route_received_bytes_total",
    type: "counter",
    help: "Bytes received from clients on a route.",
    samples: (r) => [[{}, r.bytesIn]],
  },
  {
    name: "kubernease_route_sent_bytes_total",
    type: "counter",
    help: "Bytes sent to clients on a route.",
    samples: (r) => [[{}, r.bytesOut]],
  },
  {
    name: "kubernease_route_connection_errors_total",
    type: "counter",
    help: "Connections to a route's pods that failed.",
    samples: (r) => [[{}, r.connectionErrors]],
  },
  {
    name: "kubernease_route_response_errors_total",
    type: "counter",
    help: "Responses from a route's pods that failed or were aborted.",
    samples: (r) => [[{}, r.responseErrors]],
  },
  {
    name: "kubernease_route_retries_total",
    type: "counter",
    help: "Requests retried (on the same or another pod) after a failed attempt.",
    samples: (r) => [
      [{ kind: "retry" }, r.retries],
      [{ kind: "redispatch" }, r.redispatches],
    ],
  },
  {
    name: "kubernease_route_response_time_seconds",
    type: "gauge",
    help: "Average response time of a route's last 1,024 requests.",
    samples: (r) => [[{}, r.responseTimeMs / 1000]],
  },
  {
    name: "kubernease_route_endpoints_in_rotation",
    type: "gauge",
    help: "Pods of a route the proxy sends requests to now.",
    samples: (r) => [[{}, r.serversUp]],
  },
];

/** The routes in Prometheus' text exposition format (0.0.4); `tenant` keeps one tenant's routes (and drops its label). */
export function renderRouteMetrics(routes: readonly RouteStats[], tenant?: string): string {
  const shown = tenant === undefined ? routes : routes.filter((r) => r.tenant === tenant);
  const out: string[] = [];
  for (const family of FAMILIES) {
    out.push(`# HELP ${family.name} ${family.help}`, `# TYPE ${family.name} ${family.type}`);
    for (const route of shown) {
      const base: Record<string, string> = {
        ...(tenant === undefined ? { tenant: route.tenant } : {}),
        namespace: route.namespace,
        service: route.service,
        port: String(route.port),
      };
      for (const [extra, value] of family.samples(route)) {
        const labels = Object.entries({ ...base, ...extra })
          .map(([k, v]) => `${k}=${quoted(v)}`)
          .join(",");
        out.push(`${family.name}{${labels}} ${value}`);
      }
    }
  }
  return `${out.join("\n")}\n`;
}
