import { type Clock, ManualClock } from "../core/clock.js";
import { newId } from "../core/ids.js";
import { type Rng, seededRng } from "../core/rng.js";
import { SYSTEM_TENANT } from "../core/tenancy.js";
import { MemoryStore } from "../db/index.js";
import type { Store } from "../db/types.js";
import type { AutoscaleOptions } from "../jobs/autoscaler.js";
import { ControlPlane, type ControlPlaneOptions } from "../jobs/controlPlane.js";
import { InProcessQueue } from "../jobs/inProcessQueue.js";
import type { WorkQueue } from "../jobs/queue.js";
import { type ImageBehaviour, SimulatedProvider } from "../providers/simulated/index.js";
import type { NodeProvider } from "../providers/types.js";
import { POOL_LABEL } from "../providers/types.js";
import type { ApplyDeps } from "./apply.js";
import { PodWrites } from "./podIndex.js";
import type { ImageSpec, PoolSpec, Scenario } from "./scenario.js";
import { Trace, tracedQueue, tracedStore } from "./trace.js";

/** Virtual time starts here, whatever the seed: reports count from it. */
export const SIMULATION_EPOCH_MS = Date.UTC(2026, 0, 1);

export const ZONE_LABEL = "topology.kubernetes.io/zone";

/** Ways a test plants a bug in the system under test (never in the checkers). */
export interface WorldHooks {
  wrapStore?: (store: Store) => Store;
  wrapProvider?: (provider: NodeProvider) => NodeProvider;
  /** The work queue as the control plane sees it (a dropped enqueue, say), with the virtual clock. */
  wrapQueue?: (queue: WorkQueue, clock: Clock) => WorkQueue;
  /** Every traced line (virtual time, store write or job), for tests that compare runs line by line. */
  onTraceLine?: (line: string) => void;
}

export interface WorldOptions {
  seed: string;
  /** Hash every store write and job (on unless a benchmark turns it off). */
  trace: boolean;
  hooks?: WorldHooks;
}

/** One log line of the control plane, at its virtual time. */
export interface LogLine {
  atMs: number;
  message: string;
}

/** What the control plane logged: the first lines, and how many in all. */
export interface Journal {
  lines: LogLine[];
  count: number;
}

const MAX_LOG_LINES = 200;
/** Keys one queue of the run may hold: a scale run queues each of its 150,000 pods at once. */
const MAX_QUEUED = 1_000_000;

/**
 * The system under test, whole: the production control plane (job handlers,
 * relay, observer, prober, heartbeats, node monitor, resync, rebalancer) over
 * the in-memory store, the in-process queue and the simulated provider, all on
 * one `ManualClock` and one seed, forked per purpose so that a new kind of
 * draw never shifts another's.
 */
export class World {
  /** Per pool, the last node number handed out: an added node never takes a crashed one's name. */
  readonly lastNodeIndex = new Map<string, number>();
  /** What each image does now, as set by the scenario and its faults (exact references only). */
  private readonly images = new Map<string, ImageBehaviour>();

  /** The tenant every manifest of the scenario is applied as; set once in `build`. */
  tenantId = "";

  private constructor(
    readonly clock: ManualClock,
    readonly rng: { faults: Rng; ids: Rng },
    readonly store: Store,
    readonly provider: SimulatedProvider,
    readonly controlPlane: ControlPlane,
    readonly trace: Trace,
    readonly journal: Journal,
    readonly pools: PoolSpec[],
    /** Which pods the writes so far may have changed: what the run's looks fold in. */
    readonly podWrites: PodWrites,
  ) {}

  imageBehaviour(image: string): ImageBehaviour | undefined {
    return this.images.get(image);
  }

  /** Changes what an image does from now on; `undefined` restores the provider's defaults. */
  setImageBehaviour(image: string, behaviour: ImageBehaviour | undefined): void {
    if (behaviour) this.images.set(image, behaviour);
    else this.images.delete(image);
    this.provider.setImageBehaviour(image, behaviour);
    this.controlPlane.probesChanged();
  }

  static async build(scenario: Scenario, options: WorldOptions): Promise<World> {
    const clock = new ManualClock(SIMULATION_EPOCH_MS);
    const root = seededRng(options.seed);
    const trace = new Trace(clock, { hash: options.trace, onLine: options.hooks?.onTraceLine });
    const planted = options.hooks?.wrapStore?.(new MemoryStore()) ?? new MemoryStore();
    // The control plane learns of pod changes as they are written (`push`): see `controlPlaneOptions`.
    let podsChanged = (_ids: readonly string[] | undefined) => {};
    // A planted store may change other pods than a call names: then every look reads them all.
    const exact = options.hooks?.wrapStore === undefined;
    const podWrites = new PodWrites(exact);
    const store = tracedStore(
      watchedPods(planted, (ids) => {
        podWrites.add(ids);
        podsChanged(exact ? ids : undefined);
      }),
      trace,
    );
    const journal: Journal = { lines: [], count: 0 };
    const log = (message: string, fields?: Record<string, unknown>) => {
      journal.count++;
      // Bounded: the first lines tell the story; the count tells the rest.
      if (journal.lines.length < MAX_LOG_LINES) {
        journal.lines.push({ atMs: clock.now() - SIMULATION_EPOCH_MS, message: lineOf(message, fields) });
      }
    };
    const traced: WorkQueue = tracedQueue(
      new InProcessQueue({
        clock,
        // Bounded still, but past the largest cluster a scenario may hold (every pod queued at once).
        maxQueued: MAX_QUEUED,
        onError: (name, key, error) => log("job failed; retrying", { queue: name, key, error: String(error) }),
      }),
      trace,
    );
    const queue = options.hooks?.wrapQueue?.(traced, clock) ?? traced;
    const images = Object.fromEntries(
      Object.entries(scenario.images).map(([image, spec]) => [image, behaviourOf(spec)]),
    );
    const provider = new SimulatedProvider({
      clock,
      rng: root.fork("provider"),
      // The pools' shapes, without nodes: `addNodes` adds them, and a pool with `autoscale` grows and shrinks.
      pools: scenario.pools.map((pool) => ({
        name: pool.name,
        count: 0,
        cpuMillis: pool.cpuMillis,
        memoryBytes: pool.memoryBytes,
        ...(pool.maxPods !== undefined ? { maxPods: pool.maxPods } : {}),
        zones: pool.zones,
        ...(pool.autoscale ? { autoscale: pool.autoscale } : {}),
      })),
      ...(scenario.startLatencyMs ? { startLatencyMs: scenario.startLatencyMs } : {}),
      images,
    });
    const wrapped = options.hooks?.wrapProvider?.(provider);
    const world = new World(
      clock,
      { faults: root.fork("faults"), ids: root.fork("ids") },
      store,
      provider,
      new ControlPlane(
        {
          store,
          queue,
          provider: wrapped ?? provider,
          clock,
          rng: root.fork("workers"),
          schedulingPolicy: "spread",
          unschedulableRetryMs: scenario.platform.unschedulableRetry ?? 5_000,
          log,
        },
        {
          ...controlPlaneOptions(scenario),
          changes: "push",
          // A planted provider may answer probes otherwise than the simulated one forecasts: every probe then runs.
          ...(wrapped ? {} : { probeForecast: provider.probePassesUntil.bind(provider) }),
        },
      ),
      trace,
      journal,
      scenario.pools,
      podWrites,
    );
    podsChanged = (ids) => world.controlPlane.podsChanged(ids);
    for (const [image, behaviour] of Object.entries(images)) world.images.set(image, behaviour);
    for (const pool of scenario.pools) world.addNodes(pool.name, pool.count);
    // The platform's own tenant, as bootstrap makes it: volumes and other platform objects live there.
    await store.createTenant({ id: newId("ten", clock, world.rng.ids), name: SYSTEM_TENANT, createdAt: clock.now() });
    const tenant = await store.createTenant({
      id: newId("ten", clock, world.rng.ids),
      name: "simulation",
      createdAt: clock.now(),
    });
    world.tenantId = tenant.id;
    return world;
  }

  /** Adds `count` nodes to a pool, dealt over its zones, named `sim-POOL-N` with N never reused. */
  addNodes(poolName: string, count: number): string[] {
    const pool = this.pools.find((p) => p.name === poolName);
    if (!pool) throw new Error(`no pool named ${poolName}`);
    const names: string[] = [];
    for (let i = 0; i < count; i++) {
      // The provider counts the nodes the autoscaler added, too.
      const index = Math.max(this.lastNodeIndex.get(poolName) ?? 0, this.provider.lastNodeIndex(poolName)) + 1;
      this.lastNodeIndex.set(poolName, index);
      const name = `sim-${poolName}-${index}`;
      const zone = pool.zones[(index - 1) % pool.zones.length] as string;
      this.provider.addNode({
        name,
        cpuMillis: pool.cpuMillis,
        memoryBytes: pool.memoryBytes,
        maxPods: pool.maxPods ?? 110,
        labels: { "kubernetes.io/hostname": name, [ZONE_LABEL]: zone, [POOL_LABEL]: poolName },
      });
      names.push(name);
    }
    return names;
  }

  /** The applier's dependencies: ids from the `ids` fork, and the relay kicked after each commit. */
  applyDeps(): ApplyDeps {
    return {
      store: this.store,
      clock: this.clock,
      rng: this.rng.ids,
      tenantId: this.tenantId,
      onCommitted: () => this.controlPlane.kick(),
    };
  }

  /** Virtual milliseconds since the start of the run. */
  elapsedMs(): number {
    return this.clock.now() - SIMULATION_EPOCH_MS;
  }
}

/** Store calls that change a pod. */
const POD_WRITES = new Set([
  "createPod",
  "createPods",
  "updatePodStatus",
  "updatePodStatuses",
  "markPodDeleting",
  "bindPod",
  "bindPods",
  "deletePod",
]);

/** Store calls that read pods: any other call whose name speaks of pods is taken to write them. */
const POD_READS = new Set(["getPod", "getPods", "getPodByName", "listPods", "tenantPodUsage"]);

/**
 * The ids of the pods a write names, from its arguments; `undefined` when it cannot tell (a
 * transaction, a call this list does not know), and every pod may have changed.
 */
function podIdsWritten(method: string, args: unknown[]): string[] | undefined {
  const [first] = args as [unknown];
  switch (method) {
    case "createPod":
      return [(first as { id: string }).id];
    case "createPods":
      return (first as { id: string }[]).map((pod) => pod.id);
    case "updatePodStatus":
    case "markPodDeleting":
    case "bindPod":
    case "deletePod":
      return [first as string];
    case "bindPods":
      return (first as { podId: string }[]).map((bind) => bind.podId);
    case "updatePodStatuses":
      return (first as { id: string }[]).map((write) => write.id);
    default:
      return undefined;
  }
}

/**
 * The store, telling `onPodWrite` after each call that may have changed a pod (a transaction's
 * included, once it ends), with the ids of the pods it may have changed (`undefined`: any of them):
 * in the simulator, the control plane's prober learns of changes as they are written instead of
 * re-reading every pod at every tick, as a real one must, and the run's looks fold in only those pods.
 */
function watchedPods(store: Store, onPodWrite: (ids: readonly string[] | undefined) => void): Store {
  // One wrapper per method, made on first use: the store is called hundreds of thousands of times a run.
  const wrappers = new Map<PropertyKey, unknown>();
  return new Proxy(store, {
    get(target, property) {
      const known = wrappers.get(property);
      if (known) return known;
      const value: unknown = Reflect.get(target, property, target);
      if (typeof value !== "function") return value;
      const wrapper = watchedMethod(
        target,
        String(property),
        value as (...args: unknown[]) => Promise<unknown>,
        onPodWrite,
      );
      wrappers.set(property, wrapper);
      return wrapper;
    },
  });
}

function watchedMethod(
  target: Store,
  name: string,
  fn: (...args: unknown[]) => Promise<unknown>,
  onPodWrite: (ids: readonly string[] | undefined) => void,
): (...args: unknown[]) => Promise<unknown> {
  const writesPods = name === "transaction" || POD_WRITES.has(name) || (/pod/i.test(name) && !POD_READS.has(name));
  if (!writesPods) return fn.bind(target);
  return (...args: unknown[]) => {
    // Read before the call: the arguments are the caller's, and it may reuse them once the call ends.
    const ids = podIdsWritten(name, args);
    return fn.apply(target, args).finally(() => onPodWrite(ids));
  };
}

function controlPlaneOptions(scenario: Scenario): ControlPlaneOptions {
  const p = scenario.platform;
  const options: ControlPlaneOptions = {};
  if (p.heartbeat !== undefined) options.heartbeatMs = p.heartbeat;
  if (p.nodeGracePeriod !== undefined) options.nodeGracePeriodMs = p.nodeGracePeriod;
  if (p.nodeMonitor !== undefined) options.nodeMonitorMs = p.nodeMonitor;
  if (p.probeTick !== undefined) options.probeTickMs = p.probeTick;
  if (p.resync !== undefined) options.resyncMs = p.resync;
  if (p.outboxPoll !== undefined) options.outboxPollMs = p.outboxPoll;
  const autoscale = autoscaleOptions(scenario);
  if (autoscale) options.autoscale = autoscale;
  return options;
}

/**
 * The production node autoscaler, on when a pool declares `autoscale: { min, max }`: it may grow
 * the cluster up to every fixed pool's nodes plus every scaling pool's max (added nodes included).
 */
function autoscaleOptions(scenario: Scenario): AutoscaleOptions | undefined {
  if (!scenario.pools.some((p) => p.autoscale)) return undefined;
  const added = scenario.timeline.reduce((n, e) => n + (e.action.type === "addNodes" ? e.action.count : 0), 0);
  const maxNodes = added + scenario.pools.reduce((n, p) => n + Math.max(p.count, p.autoscale?.max ?? 0), 0);
  const a = scenario.platform.autoscaler ?? {};
  return {
    maxNodes,
    ...(a.interval !== undefined ? { intervalMs: a.interval } : {}),
    ...(a.scaleUpCooldown !== undefined ? { scaleUpCooldownMs: a.scaleUpCooldown } : {}),
    ...(a.scaleDownUnneeded !== undefined ? { scaleDownUnneededMs: a.scaleDownUnneeded } : {}),
    ...(a.scaleDownUtilization !== undefined ? { scaleDownUtilization: a.scaleDownUtilization } : {}),
    ...(a.drainTimeout !== undefined ? { drainTimeoutMs: a.drainTimeout } : {}),
  };
}

function behaviourOf(spec: ImageSpec): ImageBehaviour {
  return {
    ...(spec.readiness !== undefined ? { readiness: spec.readiness } : {}),
    ...(spec.liveness !== undefined ? { liveness: spec.liveness } : {}),
    ...(spec.startup !== undefined ? { startup: spec.startup } : {}),
    ...(spec.crashAfter !== undefined ? { crashAfterMs: spec.crashAfter } : {}),
    ...(spec.exitCode !== undefined ? { exitCode: spec.exitCode } : {}),
    ...(spec.startLatency !== undefined ? { startLatencyMs: spec.startLatency } : {}),
  };
}

function lineOf(message: string, fields: Record<string, unknown> | undefined): string {
  if (!fields || Object.keys(fields).length === 0) return message;
  return `${message} ${Object.entries(fields)
    .map(([k, v]) => `${k}=${typeof v === "string" ? v : JSON.stringify(v)}`)
    .join(" ")}`;
}
