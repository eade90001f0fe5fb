import type { Clock } from "../../core/clock.js";
import { SYSTEM_TENANT } from "../../core/tenancy.js";
import type { Store, StoredObject } from "../../db/types.js";
import type { Json } from "../types.js";
import { clientOf, type DockerHostConfig, type DockerProvider } from "./index.js";
import { within } from "./probe.js";

/**
 * Docker Engines registered at run time (`POST /v1/admin/nodes`) are platform objects of this kind
 * in the reserved `system` tenant, cluster-wide (empty namespace), as PersistentVolumes are; at start
 * the platform reads them back and adds them to the provider. A client key is kept as a Secret's
 * data is (base64 under `data`) and never rendered.
 */
export const ENDPOINT_KIND = "DockerEndpoint";

const KEY_DATA = "tls.key";

/** How a registration names its Engine in messages: `unix:///path` or `tcp://host:port`. */
export function endpointUrl(config: DockerHostConfig): string {
  return config.socketPath ? `unix://${config.socketPath}` : `tcp://${config.host}:${config.port}`;
}

/** The stored spec of a registered Engine: its configuration, the client key as base64 data. */
export function endpointSpec(config: DockerHostConfig): Json {
  const { name: _name, key, ...rest } = config;
  return { ...rest, ...(key ? { data: { [KEY_DATA]: Buffer.from(key, "utf8").toString("base64") } } : {}) };
}

/** The Engine a stored endpoint describes, key included: for the provider, never for a response. */
export function endpointConfig(object: Pick<StoredObject, "name" | "spec">): DockerHostConfig {
  const { data, ...rest } = object.spec as Partial<DockerHostConfig> & { data?: Record<string, string> };
  const key = data?.[KEY_DATA];
  return { ...rest, name: object.name, ...(key ? { key: Buffer.from(key, "base64").toString("utf8") } : {}) };
}

/** What the API shows of a registered Engine: everything but the client key, which reads `[redacted]`. */
export function renderEndpoint(config: DockerHostConfig, createdAtMs?: number): Record<string, unknown> {
  const tls =
    config.protocol === "https"
      ? {
          tls: {
            ...(config.ca ? { ca: config.ca } : {}),
            ...(config.cert ? { cert: config.cert } : {}),
            ...(config.key ? { key: "[redacted]" } : {}),
          },
        }
      : {};
  return {
    name: config.name,
    endpoint: endpointUrl(config),
    ...(config.socketPath ? { socketPath: config.socketPath } : { host: config.host, port: config.port }),
    ...tls,
    address: config.address ?? "127.0.0.1",
    labels: config.labels ?? {},
    ...(config.cpuMillis !== undefined ? { cpu: `${config.cpuMillis}m` } : {}),
    ...(config.memoryBytes !== undefined ? { memory: String(config.memoryBytes) } : {}),
    ...(config.maxPods !== undefined ? { maxPods: config.maxPods } : {}),
    ...(createdAtMs !== undefined ? { registeredAt: new Date(createdAtMs).toISOString() } : {}),
  };
}

/** The `system` tenant's id, where registered Engines are kept. */
export async function systemTenantId(store: Pick<Store, "getTenantByName">): Promise<string> {
  const tenant = await store.getTenantByName(SYSTEM_TENANT);
  if (!tenant) throw new Error("the system tenant is missing; the platform was not bootstrapped");
  return tenant.id;
}

/** Every registered Engine, by name, as the provider takes it. */
export async function loadEndpoints(
  store: Pick<Store, "getTenantByName" | "listObjects">,
): Promise<DockerHostConfig[]> {
  const tenantId = await systemTenantId(store);
  return (await store.listObjects({ kind: ENDPOINT_KIND, tenantId })).map(endpointConfig);
}

/** Whether the Engine answers `/_ping` within `timeoutMs` (on the injected clock). */
export async function pingEngine(config: DockerHostConfig, clock: Clock, timeoutMs: number): Promise<boolean> {
  let docker: ReturnType<typeof clientOf>;
  try {
    docker = clientOf(config, timeoutMs);
  } catch {
    return false;
  }
  const answered = docker.ping().then(
    () => true,
    () => false,
  );
  return within(clock, timeoutMs, answered, () => false);
}

/**
 * A worker's provider follows the Engines registered through any API process: those new in the
 * store are added, those unregistered there are forgotten (their node then goes as a removed one
 * does). Engines of the worker's own configuration (`configured`) are left alone. Answers what changed.
 */
export async function followEndpoints(
  provider: Pick<DockerProvider, "addHost" | "removeHost" | "hostNames">,
  store: Pick<Store, "getTenantByName" | "listObjects">,
  configured: ReadonlySet<string>,
): Promise<{ added: string[]; removed: string[] }> {
  const registered = (await loadEndpoints(store)).filter((host) => !configured.has(host.name));
  const added = registered.filter((host) => provider.addHost(host)).map((host) => host.name);
  const names = new Set(registered.map((host) => host.name));
  const removed = provider.hostNames().filter((name) => !configured.has(name) && !names.has(name));
  for (const name of removed) provider.removeHost(name);
  return { added, removed };
}
