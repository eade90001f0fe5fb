// biome-ignore lint/suspicious/noExplicitAny: API objects are read loosely, as kubectl prints them.
type Obj = Record<string, any>;

/** `5s`, `3m`, `2h`, `4d`, as kubectl prints ages. */
export function age(timestamp: string | undefined, nowMs: number): string {
  if (!timestamp) return "<unknown>";
  const seconds = Math.max(0, Math.floor((nowMs - Date.parse(timestamp)) / 1000));
  if (seconds < 120) return `${seconds}s`;
  if (seconds < 7200) return `${Math.floor(seconds / 60)}m`;
  if (seconds < 172800) return `${Math.floor(seconds / 3600)}h`;
  return `${Math.floor(seconds / 86400)}d`;
}

export function formatTable(rows: string[][]): string {
  const widths = rows[0]?.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? "").length))) ?? [];
  return rows
    .map((r) => r.map((cell, i) => (i === r.length - 1 ? cell : cell.padEnd((widths[i] ?? 0) + 3))).join(""))
    .join("\n");
}

/** kubectl's default columns for each kind. */
export function rowsFor(kind: string, items: Obj[], nowMs: number, allNamespaces: boolean): string[][] {
  const ns = (o: Obj) => (allNamespaces ? [o.metadata?.namespace ?? ""] : []);
  const nsHead = allNamespaces ? ["NAMESPACE"] : [];
  switch (kind) {
    case "deployments":
      return [
        [...nsHead, "NAME", "READY", "UP-TO-DATE", "AVAILABLE", "AGE"],
        ...items.map((o) => [
          ...ns(o),
          o.metadata.name,
          `${o.status?.readyReplicas ?? 0}/${o.spec?.replicas ?? 0}`,
          String(o.status?.updatedReplicas ?? 0),
          String(o.status?.availableReplicas ?? 0),
          age(o.metadata.creationTimestamp, nowMs),
        ]),
      ];
    case "pods":
      return [
        [...nsHead, "NAME", "READY", "STATUS", "RESTARTS", "AGE"],
        ...items.map((o) => {
          const statuses: Obj[] = o.status?.containerStatuses ?? [];
          const ready = statuses.filter((s) => s.ready).length;
          const total = o.spec?.containers?.length ?? statuses.length;
          const restarts = statuses.reduce((n, s) => n + (s.restartCount ?? 0), 0);
          const status = o.metadata.deletionTimestamp
            ? "Terminating"
            : (o.status?.reason ?? o.status?.phase ?? "Unknown");
          return [
            ...ns(o),
            o.metadata.name,
            `${ready}/${total}`,
            status,
            String(restarts),
            age(o.metadata.creationTimestamp, nowMs),
          ];
        }),
      ];
    case "services":
      return [
        [...nsHead, "NAME", "TYPE", "CLUSTER-IP", "PORT(S)", "AGE"],
        ...items.map((o) => [
          ...ns(o),
          o.metadata.name,
          o.spec?.type ?? "ClusterIP",
          o.spec?.clusterIP ?? "<none>",
          (o.spec?.ports ?? []).map((p: Obj) => `${p.port}/${p.protocol ?? "TCP"}`).join(",") || "<none>",
          age(o.metadata.creationTimestamp, nowMs),
        ]),
      ];
    case "nodes":
      return [
        ["NAME", "STATUS", "CPU", "MEMORY", "PODS", "AGE"],
        ...items.map((o) => [
          o.metadata.name,
          o.status?.conditions?.[0]?.status === "True"
            ? o.spec?.unschedulable
              ? "Ready,SchedulingDisabled"
              : "Ready"
            : "NotReady",
          `${o.status?.allocated?.cpu}/${o.status?.capacity?.cpu}`,
          `${o.status?.allocated?.memory}/${o.status?.capacity?.memory}`,
          `${o.status?.allocated?.pods}/${o.status?.capacity?.pods}`,
          age(o.metadata.creationTimestamp, nowMs),
        ]),
      ];
    case "events":
      return [
        ["LAST SEEN", "TYPE", "REASON", "OBJECT", "MESSAGE"],
        ...items.map((o) => [
          age(o.lastTimestamp, nowMs),
          o.type,
          o.reason,
          `${String(o.involvedObject?.kind).toLowerCase()}/${o.involvedObject?.name}`,
          o.message,
        ]),
      ];
    case "statefulsets":
      return [
        [...nsHead, "NAME", "READY", "AGE"],
        ...items.map((o) => [
          ...ns(o),
          o.metadata.name,
          `${o.status?.readyReplicas ?? 0}/${o.spec?.replicas ?? 0}`,
          age(o.metadata.creationTimestamp, nowMs),
        ]),
      ];
    case "replicasets":
    case "replicationcontrollers":
      return [
        [...nsHead, "NAME", "DESIRED", "CURRENT", "READY", "AGE"],
        ...items.map((o) => [
          ...ns(o),
          o.metadata.name,
          String(o.spec?.replicas ?? 0),
          String(o.status?.replicas ?? 0),
          String(o.status?.readyReplicas ?? 0),
          age(o.metadata.creationTimestamp, nowMs),
        ]),
      ];
    case "daemonsets":
      return [
        [...nsHead, "NAME", "DESIRED", "CURRENT", "READY", "UP-TO-DATE", "AVAILABLE", "AGE"],
        ...items.map((o) => [
          ...ns(o),
          o.metadata.name,
          ...[
            "desiredNumberScheduled",
            "currentNumberScheduled",
            "numberReady",
            "updatedNumberScheduled",
            "numberAvailable",
          ].map((f) => String(o.status?.[f] ?? 0)),
          age(o.metadata.creationTimestamp, nowMs),
        ]),
      ];
    case "persistentvolumeclaims":
      return [
        [...nsHead, "NAME", "STATUS", "VOLUME", "CAPACITY", "ACCESS MODES", "STORAGECLASS", "AGE"],
        ...items.map((o) => [
          ...ns(o),
          o.metadata.name,
          o.status?.phase ?? "Pending",
          o.status?.volumeName ?? "",
          o.status?.capacity?.storage ?? "",
          (o.spec?.accessModes ?? []).join(","),
          o.spec?.storageClassName ?? "",
          age(o.metadata.creationTimestamp, nowMs),
        ]),
      ];
    case "configmaps":
      return [
        [...nsHead, "NAME", "DATA", "AGE"],
        ...items.map((o) => [
          ...ns(o),
          o.metadata.name,
          String(Object.keys(o.data ?? {}).length + Object.keys(o.binaryData ?? {}).length),
          age(o.metadata.creationTimestamp, nowMs),
        ]),
      ];
    case "ingresses":
      return [
        [...nsHead, "NAME", "CLASS", "HOSTS", "PORTS", "AGE"],
        ...items.map((o) => [
          ...ns(o),
          o.metadata.name,
          o.spec?.ingressClassName ?? "<none>",
          (o.spec?.rules ?? []).map((r: Obj) => r.host ?? "*").join(",") || "*",
          o.spec?.tls?.length ? "80, 443" : "80",
          age(o.metadata.creationTimestamp, nowMs),
        ]),
      ];
    default:
      return [
        [...nsHead, "NAME", "AGE"],
        ...items.map((o) => [...ns(o), o.metadata?.name ?? "", age(o.metadata?.creationTimestamp, nowMs)]),
      ];
  }
}
