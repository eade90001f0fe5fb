import type { Clock } from "../core/clock.js";
import type { Rng } from "../core/rng.js";
import type { Store } from "../db/types.js";

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
}

export type AppEnv = {
  Variables: {
    principal: Principal;
    requestId: string;
  };
};

export const DEFAULT_MAX_BODY_BYTES = 1024 * 1024;
