import { readFile } from "node:fs/promises";
import { stringify } from "yaml";
import { parseDocuments } from "../manifest/index.js";
import { ApiClient, type ClientConfig, configPath, loadConfig, saveConfig } from "./client.js";
import { formatTable, rowsFor } from "./table.js";

export type Flags = Record<string, string | boolean | undefined>;

/** kubectl's names and short names for each resource, and where it lives in the API. */
const KINDS: Record<string, { plural: string; base: string; namespaced: boolean; kind: string }> = {
  deployments: { plural: "deployments", base: "/apis/apps/v1", namespaced: true, kind: "Deployment" },
  services: { plural: "services", base: "/api/v1", namespaced: true, kind: "Service" },
  pods: { plural: "pods", base: "/api/v1", namespaced: true, kind: "Pod" },
  events: { plural: "events", base: "/api/v1", namespaced: true, kind: "Event" },
  nodes: { plural: "nodes", base: "/api/v1", namespaced: false, kind: "Node" },
};
const ALIASES: Record<string, string> = {
  deployment: "deployments",
  deploy: "deployments",
  "deployment.apps": "deployments",
  "deployments.apps": "deployments",
  service: "services",
  svc: "services",
  pod: "pods",
  po: "pods",
  event: "events",
  ev: "events",
  node: "nodes",
  no: "nodes",
};

export function resource(name: string | undefined) {
  const plural = ALIASES[name?.toLowerCase() ?? ""] ?? name?.toLowerCase() ?? "";
  const found = KINDS[plural];
  if (!found) throw new Error(`unknown resource type "${name}": use one of ${Object.keys(KINDS).join(", ")}`);
  return found;
}

export const namespaceOf = (flags: Flags) => (typeof flags.namespace === "string" ? flags.namespace : "default");

async function readInput(file: string): Promise<string> {
  if (file === "-") {
    const chunks: Buffer[] = [];
    for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
    return Buffer.concat(chunks).toString("utf8");
  }
  return readFile(file, "utf8");
}

export async function withClient<T>(fn: (client: ApiClient) => Promise<T>): Promise<T> {
  const client = new ApiClient(await loadConfig());
  try {
    return await fn(client);
  } finally {
    await client.close();
  }
}

export async function login(flags: Flags): Promise<string> {
  const server = flags.server;
  const key = typeof flags.key === "string" ? flags.key : process.env.KUBERNEASE_KEY;
  if (typeof server !== "string" || !key)
    throw new Error("usage: kubernease login --server URL [--ca CA.crt] --key KEY");
  const config: ClientConfig = {
    server,
    key,
    ...(typeof flags.ca === "string" ? { ca: await readFile(flags.ca, "utf8") } : {}),
  };
  const client = new ApiClient(config);
  try {
    await client.call("GET", "/api/v1/pods");
  } finally {
    await client.close();
  }
  await saveConfig(config);
  return `logged in to ${server} (saved to ${configPath()})`;
}

export async function apply(flags: Flags): Promise<string> {
  if (typeof flags.filename !== "string") throw new Error("usage: kubernease apply -f FILE [--dry-run] [-n NAMESPACE]");
  const text = await readInput(flags.filename);
  const query = new URLSearchParams({ namespace: namespaceOf(flags), ...(flags["dry-run"] ? { dryRun: "true" } : {}) });
  const type = flags.filename.endsWith(".json") ? "application/json" : "application/yaml";
  const result = (await withClient((c) => c.call("POST", `/v1/apply?${query}`, text, type))) as {
    results: { kind: string; name: string; action: string }[];
  };
  const suffix = flags["dry-run"] ? " (dry run)" : "";
  return result.results.map((r) => `${r.kind.toLowerCase()}/${r.name} ${r.action}${suffix}`).join("\n");
}

export async function get(args: string[], flags: Flags): Promise<string> {
  const type = resource(args[0]);
  const name = args[1];
  const all = flags["all-namespaces"] === true;
  const base = type.namespaced && !all ? `${type.base}/namespaces/${namespaceOf(flags)}` : type.base;
  const body = (await withClient((c) => c.call("GET", `${base}/${type.plural}${name ? `/${name}` : ""}`))) as {
    items?: Record<string, unknown>[];
  };
  if (flags.output === "json") return JSON.stringify(body, null, 2);
  if (flags.output === "yaml") return stringify(body).trimEnd();
  const items = name ? [body as Record<string, unknown>] : (body.items ?? []);
  if (items.length === 0)
    return `No resources found${type.namespaced && !all ? ` in ${namespaceOf(flags)} namespace` : ""}.`;
  return formatTable(rowsFor(type.plural, items, Date.now(), all));
}

export async function del(args: string[], flags: Flags): Promise<string> {
  const targets: { plural: string; base: string; name: string; namespace: string }[] = [];
  if (typeof flags.filename === "string") {
    const parsed = parseDocuments(await readInput(flags.filename), flags.filename.endsWith(".json") ? "json" : "yaml");
    if (!parsed.ok) throw new Error(parsed.errors.map((e) => `${e.path}: ${e.message}`).join("; "));
    for (const doc of parsed.documents as { kind?: string; metadata?: { name?: string; namespace?: string } }[]) {
      const type = resource(doc.kind);
      targets.push({
        ...type,
        name: doc.metadata?.name ?? "",
        namespace: doc.metadata?.namespace ?? namespaceOf(flags),
      });
    }
  } else {
    if (!args[1]) throw new Error("usage: kubernease delete -f FILE | KIND NAME [-n NAMESPACE]");
    targets.push({ ...resource(args[0]), name: args[1], namespace: namespaceOf(flags) });
  }
  return withClient(async (client) => {
    const lines: string[] = [];
    for (const t of targets) {
      await client.call("DELETE", `${t.base}/namespaces/${t.namespace}/${t.plural}/${t.name}`);
      lines.push(`${t.plural.replace(/s$/, "")}/${t.name} deleted`);
    }
    return lines.join("\n");
  });
}

export async function scale(args: string[], flags: Flags): Promise<string> {
  const [kindPart, namePart] = args[0]?.includes("/") ? args[0].split("/") : [args[0], args[1]];
  const replicas = Number(flags.replicas);
  if (resource(kindPart).plural !== "deployments" || !namePart || !Number.isInteger(replicas)) {
    throw new Error("usage: kubernease scale deployment NAME --replicas N [-n NAMESPACE]");
  }
  const path = `/apis/apps/v1/namespaces/${namespaceOf(flags)}/deployments/${namePart}/scale`;
  const body = JSON.stringify({ spec: { replicas } });
  await withClient((c) => c.call("PATCH", path, body, "application/merge-patch+json"));
  return `deployment/${namePart} scaled`;
}
