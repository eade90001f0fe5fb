import type { Clock } from "../../core/clock.js";
import type { Store } from "../../db/types.js";
import type { LogOptions, NodeProvider } from "../types.js";
import { loadEndpoints } from "./endpoints.js";
import { type DockerHostConfig, DockerProvider } from "./index.js";

/**
 * Pod logs for an API process (`kubernease api`) over Docker Engines. The workers run the pods; the
 * API reads a container's output straight from its Engine, as the log route asks, and does nothing
 * else there: it follows no events, heartbeats nothing and starts nothing. An Engine registered
 * after the API started (`POST /v1/admin/nodes`, through any process) is read from the store when a
 * pod on it is first asked for. It is also where the API process registers and unregisters Engines
 * (`POST`/`DELETE /v1/admin/nodes` keep them in the store, which the workers follow).
 */
export class EngineLogs implements Pick<NodeProvider, "logs"> {
  private readonly engines: DockerProvider;

  constructor(
    private readonly store: Pick<Store, "getTenantByName" | "listObjects">,
    options: { clock: Clock; hosts: DockerHostConfig[]; owner?: string },
  ) {
    this.engines = new DockerProvider(options);
  }

  async logs(nodeName: string, podId: string, container: string, options?: LogOptions): Promise<AsyncIterable<string>> {
    if (!this.engines.hasHost(nodeName)) {
      for (const host of await loadEndpoints(this.store)) this.engines.addHost(host);
    }
    return this.engines.logs(nodeName, podId, container, options);
  }

  addHost(config: DockerHostConfig): boolean {
    return this.engines.addHost(config);
  }

  removeHost(name: string): boolean {
    return this.engines.removeHost(name);
  }

  hasHost(name: string): boolean {
    return this.engines.hasHost(name);
  }

  close(): Promise<void> {
    return this.engines.close();
  }
}
