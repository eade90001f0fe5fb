import type { ApiClient } from "./client.js";
import { type Flags, namespaceOf, resource, withClient } from "./commands.js";
import { age } from "./table.js";

// biome-ignore lint/suspicious/noExplicitAny: API objects are read loosely, as kubectl reads them.
type Obj = Record<string, any>;

const pairs = (o: Record<string, string> | undefined) =>
  Object.entries(o ?? {})
    .map(([k, v]) => `${k}=${v}`)
    .join(",") || "<none>";

function section(title: string, lines: string[]): string[] {
  return lines.length ? [`${title}:`, ...lines.map((l) => `  ${l}`)] : [`${title}:  <none>`];
}

function conditions(o: Obj): string[] {
  return (o.status?.conditions ?? []).map(
    (c: Obj) => `${c.type.padEnd(16)}${c.status.padEnd(8)}${c.reason ?? ""}${c.message ? `  ${c.message}` : ""}`,
  );
}

function deploymentLines(o: Obj): string[] {
  const s = o.status ?? {};
  const strategy = o.spec.strategy ?? {};
  return [
    `Replicas:           ${o.spec.replicas} desired | ${s.updatedReplicas ?? 0} updated | ${s.replicas ?? 0} total | ${s.availableReplicas ?? 0} available | ${s.unavailableReplicas ?? 0} unavailable`,
    `Strategy:           ${strategy.type ?? "RollingUpdate"}${strategy.rollingUpdate ? ` (max surge ${strategy.rollingUpdate.maxSurge}, max unavailable ${strategy.rollingUpdate.maxUnavailable})` : ""}`,
    `Paused:             ${o.spec.paused ? "yes" : "no"}`,
    ...section("Conditions", conditions(o)),
  ];
}

function podLines(o: Obj): string[] {
  const containers = (o.status?.containerStatuses ?? []) as Obj[];
  return [
    `Status:             ${o.metadata.deletionTimestamp ? "Terminating" : o.status?.phase}`,
    `IP:                 ${o.status?.podIP ?? "<none>"}`,
    `Controlled by:      ${o.metadata.ownerReferences?.map((r: Obj) => `${r.kind}/${r.name}`).join(", ") ?? "<none>"}`,
    ...section(
      "Containers",
      containers.map((c) => {
        const state = Object.keys(c.state ?? {})[0] ?? "unknown";
        const reason = c.state?.[state]?.reason ? ` (${c.state[state].reason})` : "";
        return `${c.name}: ${c.image}  ${state}${reason}  ready=${c.ready}  restarts=${c.restartCount}`;
      }),
    ),
    ...section("Conditions", conditions(o)),
  ];
}

function serviceLines(o: Obj): string[] {
  return [
    `Type:               ${o.spec.type}`,
    `Cluster IP:         ${o.spec.clusterIP ?? "<none>"}`,
    `Selector:           ${pairs(o.spec.selector)}`,
    `Ports:              ${(o.spec.ports ?? []).map((p: Obj) => `${p.name ?? "<unset>"} ${p.port}/${p.protocol} → ${p.targetPort}`).join(", ")}`,
  ];
}

async function events(client: ApiClient, namespace: string, name: string, nowMs: number): Promise<string[]> {
  const list = (await client.call(
    "GET",
    `/api/v1/namespaces/${namespace}/events?fieldSelector=involvedObject.name=${name}`,
  )) as Obj;
  return section(
    "Events",
    (list.items as Obj[]).map(
      (e) =>
        `${age(e.lastTimestamp, nowMs).padEnd(6)}${e.type.padEnd(9)}${e.reason.padEnd(20)}${e.count > 1 ? `(x${e.count}) ` : ""}${e.message}`,
    ),
  );
}

/** `kubernease describe KIND NAME`: the object, its conditions, and what happened to it. */
export async function describe(args: string[], flags: Flags): Promise<string> {
  const type = resource(args[0]);
  const name = args[1];
  if (!name) throw new Error("usage: kubernease describe KIND NAME [-n NAMESPACE]");
  const namespace = namespaceOf(flags);
  return withClient(async (client) => {
    const base = type.namespaced ? `${type.base}/namespaces/${namespace}` : type.base;
    const o = (await client.call("GET", `${base}/${type.plural}/${name}`)) as Obj;
    const nowMs = Date.now();
    const head = [
      `Name:               ${o.metadata.name}`,
      ...(type.namespaced ? [`Namespace:          ${o.metadata.namespace}`] : []),
      `Created:            ${age(o.metadata.creationTimestamp, nowMs)} ago`,
      `Labels:             ${pairs(o.metadata.labels)}`,
    ];
    const body =
      type.kind === "Deployment"
        ? deploymentLines(o)
        : type.kind === "Pod"
          ? podLines(o)
          : type.kind === "Service"
            ? serviceLines(o)
            : [];
    const tail = type.namespaced ? await events(client, namespace, name, nowMs) : [];
    return [...head, ...body, ...tail].join("\n");
  });
}
