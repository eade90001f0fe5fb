/**
 * Keeps the reverse proxy on the store's route table: loads the table, and hands
 * it to a publisher when its version differs from the last one published. Run on
 * a timer (level-triggered, so a missed kick converges) and kicked on changes;
 * one run at a time, and a kick during a run runs once more after it.
 * Without a proxy the null publisher takes every table and does nothing.
 *
 * With a status to keep (`RoutingSyncOptions.status`), each publish is recorded
 * in the `RoutingStatus` object of the system tenant: the version served, and per
 * pod whether the proxy has it in rotation (since when) or is draining it (and
 * when no request of it was left). Rollouts read it: a new pod counts as
 * available once in rotation, and a deleted pod is stopped once drained
 * (src/jobs/rotation.ts).
 */
import type { Clock } from "../core/clock.js";
import { newId, newUid } from "../core/ids.js";
import type { Rng } from "../core/rng.js";
import { SYSTEM_TENANT } from "../core/tenancy.js";
import { ConflictError, type ObjectRef, type StoreOps } from "../db/types.js";
import type { NodeProvider } from "../providers/types.js";
import { currentRouteTable } from "../routing/load.js";
import type { Reach, RouteTable, Server } from "../routing/table.js";

export interface RoutePublisher {
  publish(table: RouteTable): Promise<{ ok: boolean; version: string | null; error?: string }>;
  /**
   * Whether the proxy has no request left on a server it drains (`timeoutMs` 0: look once). Absent:
   * the publisher keeps no sessions (the null publisher), so a draining server is drained at once.
   */
  drain?(backend: string, server: Pick<Server, "address" | "port">, timeoutMs: number): Promise<boolean>;
}

export const nullRoutePublisher: RoutePublisher = {
  publish: async (table) => ({ ok: true, version: table.version }),
};

export const ROUTING_STATUS_KIND = "RoutingStatus";
export const ROUTING_STATUS_NAME = "proxy";

/**
 * One pod as the proxy serves it: `ready` (in rotation) or `draining`, since when, and when it was drained.
 * `publishing`: a table that puts it in rotation is being published; the proxy may serve it already, or
 * not yet. Neither available to a rollout nor drained.
 */
export interface PodRotation {
  state: "ready" | "draining";
  sinceMs: number;
  drainedAtMs?: number;
  publishing?: true;
}

export interface RoutingStatusSpec {
  /** The table version the proxy serves; null before the first publish. */
  version: string | null;
  publishedAtMs: number | null;
  /** The last failed publish's error, cleared by the next good one. */
  error: string | null;
  /** `tenant/namespace/pod` (tenant by name, as in the table) → how the proxy serves it. */
  pods: Record<string, PodRotation>;
  /** `tenant/namespace/service` of every Service the table routes to. */
  services: string[];
}

/** Where the RoutingStatus object lives (the system tenant), and what it holds; null before bootstrap. */
export async function readRoutingStatus(store: Pick<StoreOps, "getTenantByName" | "getObject">) {
  const systemId = (await store.getTenantByName(SYSTEM_TENANT))?.id;
  if (!systemId) return null;
  const ref: ObjectRef = { tenantId: systemId, kind: ROUTING_STATUS_KIND, namespace: "", name: ROUTING_STATUS_NAME };
  const stored = await store.getObject(ref);
  return {
    ref,
    spec: stored?.spec as unknown as RoutingStatusSpec | undefined,
    resourceVersion: stored?.resourceVersion,
  };
}

export const podRotationKey = (tenant: string, namespace: string, pod: string) => `${tenant}/${namespace}/${pod}`;
export const routedServiceKey = (tenant: string, namespace: string, service: string) =>
  `${tenant}/${namespace}/${service}`;

/** The pods of a published table as the proxy serves them (a pod ready in any backend is ready). */
export function rotationOf(table: RouteTable, previous: RoutingStatusSpec["pods"], nowMs: number) {
  const pods: Record<string, PodRotation> = {};
  for (const backend of table.backends) {
    for (const server of backend.servers) {
      const key = podRotationKey(backend.tenant, backend.namespace, server.name);
      if (pods[key]?.state === "ready") continue;
      const before = previous[key];
      pods[key] =
        before && before.state === server.state
          ? {
              state: before.state,
              sinceMs: before.sinceMs,
              ...(before.drainedAtMs !== undefined ? { drainedAtMs: before.drainedAtMs } : {}),
            }
          : { state: server.state, sinceMs: nowMs };
    }
  }
  const services = [...new Set(table.backends.map((b) => routedServiceKey(b.tenant, b.namespace, b.service)))].sort();
  return { pods, services };
}

/**
 * How the edge proxy, on this machine, reaches endpoints on the provider's nodes of other machines
 * (`remoteNodes`): at the node's address and the port published for the pod, as the provider knows
 * it (a pod whose port is not known yet is left out until it is). Pods of this machine's nodes are
 * reached at their own addresses; an endpoint whose pod is gone from the store is left out, since
 * its address may be another machine's and mean something else here. Undefined when every node is
 * this machine's: pods are reached at their own addresses, and nothing is read.
 */
export async function edgeReach(
  store: Pick<StoreOps, "listTenants" | "listPods">,
  provider: Pick<NodeProvider, "remoteNodes" | "edgeEndpoint">,
): Promise<Reach | undefined> {
  const remote = new Set(provider.remoteNodes?.() ?? []);
  const edge = provider.edgeEndpoint?.bind(provider);
  if (remote.size === 0 || !edge) return undefined;
  const [tenants, pods] = await Promise.all([store.listTenants(), store.listPods({})]);
  const names = new Map(tenants.map((t) => [t.id, t.name]));
  const placed = new Map<string, { podId: string; nodeName: string }>();
  for (const pod of pods) {
    if (!pod.nodeName) continue;
    placed.set(`${names.get(pod.tenantId)}/${pod.namespace}/${pod.name}`, { podId: pod.id, nodeName: pod.nodeName });
  }
  return (source, address, port) => {
    const pod = placed.get(`${source.tenant}/${source.namespace}/${address.targetRef?.name}`);
    if (!pod) return undefined;
    return remote.has(pod.nodeName) ? edge(pod, port) : { address: address.ip, port };
  };
}

export interface RoutingSyncOptions {
  onOutcome?: (outcome: SyncOutcome) => void;
  /** How endpoints are reached, asked before each sync (`edgeReach`); at their own addresses when absent. */
  reach?: () => Promise<Reach | undefined>;
  /** When tenants' certificates are judged: an expired one is not served (the platform's is). Not by date when absent. */
  clock?: Clock;
  /** Where to record what the proxy serves (RoutingStatus); nothing is recorded when absent. */
  status?: {
    store: Pick<StoreOps, "getTenantByName" | "getObject" | "createObject" | "updateObject">;
    clock: Clock;
    rng: Rng;
  };
}

export type SyncOutcome =
  | { status: "unchanged"; version: string }
  | { status: "published"; version: string }
  | { status: "failed"; version: string; error: string };

/** The RoutingStatus object as last read or written. */
type StatusRead = { ref: ObjectRef; spec?: RoutingStatusSpec | undefined; resourceVersion?: string | undefined };

/** How many times a sync announces pods entering rotation and loads the table again, at most. */
const ANNOUNCE_ROUNDS = 5;

/** A sync's outcome when it was stopped before it published. */
const STOPPED = "stopped: another process keeps the proxy";

/** How soon a sync looks again while the proxy still drains a pod. */
const DRAIN_LOOK_MS = 200;

export class RoutingSync {
  private published: RouteTable | null = null;
  private running: Promise<void> | null = null;
  private again = false;
  private stopTimer: (() => void) | null = null;
  /** The status last written (or read back at the first sync), to write only what changed. */
  private recorded: StatusRead | null = null;
  private drainsPending = false;
  /** A publish failed since the last good one: what the proxy serves is not known to be `published`. */
  private unsure = false;
  /** Stopped (`stop`): this process no longer keeps the proxy (another leads); it syncs no more. */
  private stopped = false;
  readonly failures: string[] = [];

  constructor(
    private readonly store: Pick<StoreOps, "listTenants" | "listObjects">,
    private readonly publisher: RoutePublisher,
    private readonly options: RoutingSyncOptions = {},
  ) {}

  /**
   * Loads the table and publishes it when it changed since the last good publish (or a publish failed
   * since: it may have been applied in part). With a status to keep, the pods it puts in rotation are
   * announced first, and the table is loaded again after each announcement: a table is published only
   * once every pod it puts in rotation was announced before it was loaded.
   */
  async sync(): Promise<SyncOutcome> {
    let table = await this.load();
    let outcome: SyncOutcome;
    let refused: string | undefined;
    for (let round = 0; this.options.status && table.version !== this.publishedVersion(); round++) {
      const announced = await this.announce(table);
      if (announced === "none") break;
      if (announced === "conflict" || round === ANNOUNCE_ROUNDS - 1) {
        refused =
          announced === "conflict"
            ? "the routing status changed meanwhile"
            : "pods entered rotation faster than announced";
        break;
      }
      table = await this.load();
    }
    if (this.stopped) {
      // Stopped while loading or announcing: the next leader publishes, and records what it published.
      return { status: "failed", version: table.version, error: STOPPED };
    }
    if (refused) {
      outcome = { status: "failed", version: table.version, error: refused };
      this.failures.push(refused);
    } else if (table.version === this.publishedVersion()) {
      outcome = { status: "unchanged", version: table.version };
    } else {
      const result = await this.publisher.publish(table).catch((e: Error) => ({ ok: false, error: e.message }));
      if (result.ok) {
        this.published = table;
        this.unsure = false;
        outcome = { status: "published", version: table.version };
      } else {
        // The proxy keeps the last good table (perhaps with part of this one); the next run tries again.
        this.unsure = true;
        outcome = { status: "failed", version: table.version, error: result.error ?? "publish failed" };
        this.failures.push(outcome.error);
      }
    }
    if (this.failures.length > 100) this.failures.shift();
    // Stopped during the publish: the status is the next leader's to write, from the tables it publishes.
    if (this.options.status && !this.stopped) await this.record(outcome);
    this.options.onOutcome?.(outcome);
    return outcome;
  }

  /** The version the proxy is known to serve whole; undefined after a failed publish. */
  private publishedVersion(): string | undefined {
    return this.unsure ? undefined : this.published?.version;
  }

  private async load(): Promise<RouteTable> {
    const reach = await this.options.reach?.();
    const nowMs = this.options.clock?.now();
    return currentRouteTable(this.store, {
      ...(reach ? { reach } : {}),
      ...(nowMs !== undefined ? { nowMs } : {}),
    });
  }

  /**
   * Before a table that puts pods in rotation is published, records them as `publishing`: a deletion that
   * reads the status meanwhile waits for their drain, where the status still said drained (or not
   * served) and the pod was stopped while the proxy sent it requests. `none`: each was announced
   * already; `conflict`: the status could not be written (another writer, twice).
   */
  private async announce(table: RouteTable): Promise<"none" | "written" | "conflict"> {
    const { store, clock } = this.options.status as NonNullable<RoutingSyncOptions["status"]>;
    for (let attempt = 0; attempt < 2; attempt++) {
      const nowMs = clock.now();
      const current = this.recorded ?? (await readRoutingStatus(store));
      if (!current) return "none";
      const pods = { ...(current.spec?.pods ?? {}) };
      let entering = false;
      for (const [key, rotation] of Object.entries(rotationOf(table, pods, nowMs).pods)) {
        if (rotation.state !== "ready" || pods[key]?.state === "ready") continue;
        pods[key] = { state: "ready", sinceMs: nowMs, publishing: true };
        entering = true;
      }
      if (!entering) return "none";
      const spec = { version: null, publishedAtMs: null, error: null, services: [], ...current.spec, pods };
      if (await this.write(current, spec, nowMs)) return "written";
    }
    return "conflict";
  }

  /** Writes what the proxy serves now into RoutingStatus, when it changed; looks whether draining pods are drained. */
  private async record(outcome: SyncOutcome): Promise<void> {
    const { store, clock } = this.options.status as NonNullable<RoutingSyncOptions["status"]>;
    const nowMs = clock.now();
    const current = this.recorded ?? (await readRoutingStatus(store));
    if (!current) return;
    const before = current.spec;
    const table = this.published;
    if (!table && before) {
      // Nothing published by this process yet (a new leader whose first publish failed): the proxy
      // serves what the last leader published, which the status says; it is kept, with the error.
      const error = outcome.status === "failed" ? outcome.error : before.error;
      if (error !== before.error) await this.write(current, { ...before, error }, nowMs);
      return;
    }
    const rotation = table ? rotationOf(table, before?.pods ?? {}, nowMs) : { pods: {}, services: [] };
    // A table that failed may have been applied in part: what it put in rotation stays announced
    // until a table is published whole.
    if (outcome.status === "failed") {
      for (const [key, was] of Object.entries(before?.pods ?? {})) {
        if (was.publishing && rotation.pods[key]?.state !== "ready") rotation.pods[key] = was;
      }
    }
    this.drainsPending = false;
    if (table) {
      for (const backend of table.backends) {
        for (const server of backend.servers) {
          const key = podRotationKey(backend.tenant, backend.namespace, server.name);
          const pod = rotation.pods[key];
          if (pod?.state !== "draining" || pod.drainedAtMs !== undefined) continue;
          const drained = this.publisher.drain
            ? await this.publisher.drain(backend.name, server, 0).catch(() => false)
            : true;
          if (drained) pod.drainedAtMs = nowMs;
          else this.drainsPending = true;
        }
      }
    }
    const spec: RoutingStatusSpec = {
      version: table?.version ?? null,
      publishedAtMs: outcome.status === "published" ? nowMs : (before?.publishedAtMs ?? null),
      error:
        outcome.status === "failed" ? outcome.error : outcome.status === "published" ? null : (before?.error ?? null),
      ...rotation,
    };
    if (before && JSON.stringify(before) === JSON.stringify(spec)) return;
    await this.write(current, spec, nowMs);
  }

  /** Writes the status; false when another writer (a sync of another process) got there first, to be read afresh. */
  private async write(current: StatusRead, spec: RoutingStatusSpec, nowMs: number): Promise<boolean> {
    const { store, clock, rng } = this.options.status as NonNullable<RoutingSyncOptions["status"]>;
    const { ref } = current;
    const fields = { apiVersion: "kubernease.dev/v1", labels: {}, annotations: {}, spec: { ...spec } };
    try {
      const written = current.resourceVersion
        ? await store.updateObject(ref, fields, { nowMs, expectedResourceVersion: current.resourceVersion })
        : await store.createObject({
            ...ref,
            ...fields,
            id: newId("obj", clock, rng),
            uid: newUid(rng),
            createdAt: nowMs,
          });
      this.recorded = { ref, spec, resourceVersion: written.resourceVersion };
      return true;
    } catch (error) {
      if (!(error instanceof ConflictError)) throw error;
      this.recorded = null;
      return false;
    }
  }

  /** Runs a sync now, or once more after the one running; resolves when the table is published or failed. */
  kick(): Promise<void> {
    if (this.stopped) return this.running ?? Promise.resolve();
    if (this.running) {
      this.again = true;
      return this.running;
    }
    this.running = (async () => {
      // Bounded: each pass clears `again`; a kick during the last pass is taken by the next kick or timer.
      for (let pass = 0; pass < 10; pass++) {
        this.again = false;
        await this.sync().catch((e: Error) => this.failures.push(e.message));
        if (!this.again || this.stopped) break;
      }
      this.running = null;
    })();
    return this.running;
  }

  /**
   * Stops for good (the process lost the lead): no sync starts after this, a sync under way neither
   * publishes (if it has not begun to) nor records, and the answer resolves once it ended. Another
   * leader's sync writes the status from then on; one of this process's, running on, would erase
   * the pods that leader announced.
   */
  stop(): Promise<void> {
    this.stopped = true;
    this.stopTimer?.();
    this.stopTimer = null;
    return this.running ?? Promise.resolve();
  }

  /** Syncs every `intervalMs` on the clock (sooner while a pod drains) until the returned function is called. */
  start(clock: Clock, intervalMs: number): () => void {
    const tick = () => {
      this.stopTimer = clock.setTimer(this.drainsPending ? Math.min(intervalMs, DRAIN_LOOK_MS) : intervalMs, () => {
        void this.kick().then(() => {
          if (this.stopTimer) tick();
        });
      });
    };
    tick();
    return () => {
      this.stopTimer?.();
      this.stopTimer = null;
    };
  }
}
