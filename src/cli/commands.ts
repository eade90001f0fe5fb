import { readFile, writeFile } from "node:fs/promises";
import { stringify } from "yaml";
import { KINDS } from "../manifest/kinds.js";
import { ApiClient, type ClientConfig, configPath, loadConfig, saveConfig } from "./client.js";
import { formatTable, rowsFor } from "./table.js";

export type Flags = Record<string, string | boolean | undefined>;

interface CliKind {
  plural: string;
  base: string;
  namespaced: boolean;
  kind: string;
}

/** kubectl's names and short names for each resource, and where it lives in the API: the manifest kinds, and a few read-only ones. */
const CLI_KINDS: CliKind[] = [
  ...KINDS.filter((k) => k.kind !== "App").map((k) => ({
    plural: k.plural,
    base: apiBase(k.apiVersion),
    namespaced: k.namespaced,
    kind: k.kind,
  })),
  { plural: "events", base: "/api/v1", namespaced: true, kind: "Event" },
  { plural: "endpoints", base: "/api/v1", namespaced: true, kind: "Endpoints" },
  { plural: "nodes", base: "/api/v1", namespaced: false, kind: "Node" },
];
const ALIASES = new Map<string, CliKind>();
for (const k of CLI_KINDS) {
  const info = KINDS.find((i) => i.kind === k.kind);
  const names = [
    k.plural,
    k.kind.toLowerCase(),
    ...(info?.shortNames ?? []),
    `${k.plural}.apps`,
    `${k.kind.toLowerCase()}.apps`,
  ];
  for (const name of names) ALIASES.set(name, k);
}
for (const [alias, plural] of [
  ["ev", "events"],
  ["ep", "endpoints"],
  ["no", "nodes"],
] as const) {
  const k = CLI_KINDS.find((c) => c.plural === plural);
  if (k) ALIASES.set(alias, k);
}

function apiBase(apiVersion: string): string {
  return apiVersion === "v1" ? "/api/v1" : `/apis/${apiVersion}`;
}

export function resource(name: string | undefined): CliKind {
  const found = ALIASES.get(name?.toLowerCase() ?? "");
  if (!found)
    throw new Error(`unknown resource type "${name}": use one of ${CLI_KINDS.map((k) => k.plural).join(", ")}`);
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

/**
 * `kubernease snapshot [-o FILE]` (operator key): the live cluster as a simulator scenario (its nodes
 * as pools, every tenant's workloads, a first timeline), for `kubernease simulate FILE`.
 */
export async function snapshot(flags: Flags): Promise<string | undefined> {
  const text = String(await withClient((c) => c.call("GET", "/v1/admin/snapshot")));
  if (typeof flags.output !== "string" || flags.output === "yaml") return text.trimEnd();
  await writeFile(flags.output, text);
  return `wrote ${flags.output}: edit its timeline, then \`kubernease simulate ${flags.output}\``;
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
  const targets: (CliKind & { name: string; namespace: string })[] = [];
  if (typeof flags.filename === "string") {
    // The parser (every kind's schema) is loaded only by the verbs that read a file.
    const { parseDocuments } = await import("../manifest/index.js");
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
      lines.push(`${t.kind.toLowerCase()}/${t.name} deleted`);
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
