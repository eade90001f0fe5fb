import type { Clock } from "../../core/clock.js";
import type { Store } from "../../db/types.js";
import { type LogOptions, LogsNotFoundError, LogsUnavailableError, type NodeProvider } from "../types.js";
import { followEndpoints } from "./endpoints.js";
import { type DockerHostConfig, DockerProvider } from "./index.js";

/**
 * Pod logs for an API process (`kubernease api`) over Docker Engines. The workers run the pods; the
 * API reads a container's output straight from its Engine, as the log route asks, and does nothing
 * else there: it follows no events, heartbeats nothing and starts nothing. Engines registered or
 * unregistered through any process (`POST`/`DELETE /v1/admin/nodes`, kept in the store) are read
 * from the store when a pod is asked for on a node it does not know. It is also where this API
 * process registers and unregisters Engines; only its configured ones (`--docker`) are its own to
 * report as known, since the store already tells of the registered ones.
 */
export class EngineLogs implements Pick<NodeProvider, "logs"> {
  private readonly engines: DockerProvider;
  private readonly configured: ReadonlySet<string>;

  constructor(
    private readonly store: Pick<Store, "getTenantByName" | "listObjects">,
    options: { clock: Clock; hosts: DockerHostConfig[]; owner?: string },
  ) {
    this.engines = new DockerProvider(options);
    this.configured = new Set(options.hosts.map((host) => host.name));
  }

  async logs(nodeName: string, podId: string, container: string, options?: LogOptions): Promise<AsyncIterable<string>> {
    if (!this.engines.hasHost(nodeName)) await followEndpoints(this.engines, this.store, this.configured);
    // Tenants read this: it names no node.
    const unavailable = "the pod's node cannot be reached for logs now; try again later";
    if (!this.engines.hasHost(nodeName)) throw new LogsUnavailableError(unavailable);
    try {
      return await this.engines.logs(nodeName, podId, container, options);
    } catch (error) {
      if (error instanceof LogsNotFoundError) throw error;
      throw new LogsUnavailableError(unavailable);
    }
  }

  /** Registers an Engine with this process (the store holds the registration): any stale entry of that name is replaced. */
  addHost(config: DockerHostConfig): boolean {
    if (this.configured.has(config.name)) return false;
    this.engines.removeHost(config.name);
    return this.engines.addHost(config);
  }

  removeHost(name: string): boolean {
    return this.engines.removeHost(name);
  }

  hasHost(name: string): boolean {
    return this.configured.has(name);
  }

  close(): Promise<void> {
    return this.engines.close();
  }
}
