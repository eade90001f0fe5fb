import type { Clock } from "../core/clock.js";
import type { Rng } from "../core/rng.js";
import type { Store } from "../db/types.js";
import type { DockerHostConfig } from "../providers/docker/index.js";
import type { NodeProvider } from "../providers/types.js";
import type { Reach } from "../routing/table.js";
import type { PoolShape } from "../simulator/tenant.js";
import type { SimulationLimits } from "./simulations.js";

export interface Principal {
  tenantId: string;
  role: "tenant" | "admin";
  keyId: string;
}

/** What the API needs from the process that runs it. */
export interface ApiDeps {
  store: Store;
  clock: Clock;
  rng: Rng;
  /** Called after a commit that wrote outbox rows, so work starts at once. */
  onCommitted?: () => void;
  /** Whether the process is ready to serve (its back ends answer). */
  ready?: () => Promise<boolean>;
  maxBodyBytes?: number;
  /** Where pod logs are read; without it the log route answers 503 (an API process with no runtime in reach). */
  podLogs?: Pick<NodeProvider, "logs">;
  /** The longest a followed log streams before the server ends it (the client may ask again). */
  logFollowLimitMs?: number;
  /**
   * The operator's base domain for tenants' hosts (`apps.example`): tenant `acme` may route `acme.apps.example`
   * and every name under it, plus the custom domains approved for it. Without it, hosts are held to uniqueness only.
   */
  baseDomain?: string;
  /**
   * Where `POST /v1/admin/nodes` adds Docker Engines and `DELETE` removes them (the Docker provider);
   * absent when the platform runs simulated nodes, and the routes then refuse.
   */
  nodeRegistry?: NodeRegistry;
  /** How the proxy reaches endpoints on nodes of other machines (`edgeReach`), so the routing routes show what it serves. */
  routeReach?: () => Promise<Reach | undefined>;
  /** The managed proxy's statistics (HAProxy's `show stat`), for the metrics routes; absent without a proxy. */
  routeStats?: () => Promise<string>;
  /** Tenants' simulations (`POST /v1/simulations`): the node pool shape they run on, and their bounds. */
  simulations?: { pools?: PoolShape[]; limits?: Partial<SimulationLimits> };
}

/** The part of the Docker provider that adds and forgets Engines at run time (DockerProvider implements it). */
export interface NodeRegistry {
  /** Starts heartbeating the Engine as a node; false when a node of that name is known already. */
  addHost(config: DockerHostConfig): boolean;
  /** Stops following the Engine and forgets it, so its node goes as a removed one; false when unknown. */
  removeHost(name: string): boolean;
  hasHost(name: string): boolean;
}

export type AppEnv = {
  Variables: {
    principal: Principal;
    requestId: string;
  };
};

export const DEFAULT_MAX_BODY_BYTES = 1024 * 1024;

export const DEFAULT_LOG_FOLLOW_LIMIT_MS = 30 * 60 * 1000;
