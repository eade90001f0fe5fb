import { type Clock, isoTime } from "../../core/clock.js";
import type { Rng } from "../../core/rng.js";
import type {
  ClaimVolumeRef,
  ContainerRuntimeState,
  Json,
  LogOptions,
  NodePoolShape,
  NodeProvider,
  NodeScaling,
  ObservedPod,
  PodRuntimeSpec,
  ProbeKind,
  ProbeResult,
  ProviderEvent,
  ProviderNode,
} from "../types.js";
import { LogsNotFoundError, POOL_LABEL } from "../types.js";
import { behaviourOf, exitOf, type ImageBehaviour, passesUntilMs, probeOutcome } from "./behaviour.js";

export type { ImageBehaviour, ProbeBehaviour } from "./behaviour.js";

export interface NodePool {
  name: string;
  count: number;
  cpuMillis: number;
  memoryBytes: number;
  maxPods?: number;
  /** All of the pool's nodes in this zone; absent: spread over zone-a, zone-b and zone-c. */
  zone?: string;
  /** The pool's nodes spread over these zones (wins over `zone`). */
  zones?: string[];
  /** The pool scales (`scaling.addNode`/`removeNode`) between these node counts. */
  autoscale?: { min: number; max: number };
}

export interface SimulatedProviderOptions {
  clock: Clock;
  rng: Rng;
  pools?: NodePool[];
  /** A pod's start latency is drawn uniformly from this range (an image's behaviour may override it). */
  startLatencyMs?: { min: number; max: number };
  /** What images do when they run, by exact reference, by repository (no tag), or `*`; see `ImageBehaviour`. */
  images?: Record<string, ImageBehaviour>;
}

/** A node to add at run time; unset fields get a 4 CPU, 8 GiB node's values. */
export type NewSimulatedNode = Partial<ProviderNode> & { name: string };

/** Three nodes of 4 CPU and 8 GiB, one per zone. */
export const DEFAULT_POOLS: NodePool[] = [
  { name: "default", count: 3, cpuMillis: 4000, memoryBytes: 8 * 2 ** 30, maxPods: 110 },
];

const ZONE_LABEL = "topology.kubernetes.io/zone";
const SPREAD_ZONES = ["zone-a", "zone-b", "zone-c"];

/** Exit code of a killed run (SIGKILL), as the kubelet reports it. */
const KILLED_EXIT_CODE = 137;

/** Lines kept per run: a chatty simulated image must not grow without bound. */
const MAX_LOG_LINES_PER_RUN = 1000;

interface SimContainer {
  name: string;
  image: string;
  runs: number;
  containerID?: string;
  /** Frozen: a change replaces it, so observations share it. */
  state: ContainerRuntimeState;
  startedAtMs?: number;
  /** A (re)start is under way: the run begins when its latency has passed. */
  starting: boolean;
  cancelStart?: () => void;
  cancelExit?: () => void;
  /** What each run wrote, by run number; only the current run and the one before are kept. */
  logs: Map<number, string[]>;
  /** Followers waiting for a line or for the end of a run. */
  logWaiters: Set<() => void>;
}

interface SimPod {
  spec: PodRuntimeSpec;
  phase: "Pending" | "Running";
  podIP?: string;
  startedAt?: number;
  containers: SimContainer[];
  cancelStart?: () => void;
  /** What `observedPods` hands out until the pod next changes (every change is emitted, which clears it). */
  observed?: Readonly<ObservedPod>;
}

/**
 * In-memory nodes that "run" pods. A started pod's containers run after a
 * seeded latency; what each image does then — probe outcomes, exits — comes from
 * its `ImageBehaviour`, set at construction and changeable at run time
 * (`setImageBehaviour`). Like a real runtime, it never restarts a container on
 * its own: the control plane decides, and calls `restartContainer`.
 * Time and chance come from the injected Clock and Rng (one fork per purpose),
 * so the same seed gives the same run, in real time in the server or virtual
 * time in the simulator. Node addresses come from TEST-NET-1 (192.0.2.0/24) and
 * are never dialled.
 */
export class SimulatedProvider implements NodeProvider {
  readonly name = "simulated";
  /** A start is an entry in memory and a timer, never waited on: a few at once keep up, and more only hold more alive. */
  readonly concurrentStarts = 16;
  /** Frozen: a change replaces a node, so `listNodes` hands them out as they are. */
  private readonly nodes = new Map<string, Readonly<ProviderNode>>();
  private readonly pods = new Map<string, SimPod>();
  private readonly listeners = new Set<(event: ProviderEvent) => void>();
  private readonly images = new Map<string, ImageBehaviour>();
  /** Per node, the claims' volumes it holds (`tenant/namespace/claim`): made by a pod's start, kept until removed. */
  private readonly claimVolumes = new Map<string, Set<string>>();
  private readonly latencyRng: Rng;
  private readonly restartLatencyRng: Rng;
  private readonly ipRng: Rng;
  private readonly probeRng: Rng;
  private readonly latency: { min: number; max: number };
  private addressIndex = 0;
  private closed = false;
  /** Slow image pulls: per node name (`*`: every node), how long each pod's pull takes before it starts. */
  private readonly pullMs = new Map<string, number>();
  private readonly pools = new Map<string, NodePool>();
  /** Per pool, the highest node number handed out, so an added node never takes a removed one's name. */
  private readonly lastIndex = new Map<string, number>();
  /** Present when a pool has `autoscale`. */
  readonly scaling: NodeScaling | undefined;

  constructor(private readonly options: SimulatedProviderOptions) {
    this.latencyRng = options.rng.fork("start-latency");
    this.restartLatencyRng = options.rng.fork("restart-latency");
    this.ipRng = options.rng.fork("pod-ip");
    this.probeRng = options.rng.fork("probe-outcomes");
    this.latency = options.startLatencyMs ?? { min: 100, max: 600 };
    for (const [image, behaviour] of Object.entries(options.images ?? {})) this.images.set(image, behaviour);
    for (const pool of options.pools ?? DEFAULT_POOLS) {
      checkAutoscale(pool);
      this.pools.set(pool.name, pool);
      this.lastIndex.set(pool.name, pool.count);
      const zones = zonesOf(pool);
      for (let i = 1; i <= pool.count; i++) {
        const zone = zones[(i - 1) % zones.length] as string;
        this.nodes.set(
          `sim-${pool.name}-${i}`,
          frozenNode(this.nodeOf({ ...pool, name: `sim-${pool.name}-${i}` }, zone, pool.name)),
        );
      }
    }
    const scaling: NodeScaling = {
      pools: () => this.scalingPools(),
      addNode: async (pool) => this.addPoolNode(pool),
      removeNode: async (name) => this.removePoolNode(name),
    };
    this.scaling = [...this.pools.values()].some((p) => p.autoscale) ? scaling : undefined;
  }

  async listNodes(): Promise<ProviderNode[]> {
    return [...this.nodes.values()];
  }

  /** Test control: what the pod was started with (its resolved environment and files), as a runtime would see it. */
  runtimeSpec(podId: string): PodRuntimeSpec | undefined {
    const pod = this.pods.get(podId);
    return pod && structuredClone(pod.spec);
  }

  async startPod(spec: PodRuntimeSpec): Promise<void> {
    const existing = this.pods.get(spec.podId);
    if (existing) {
      // Level-triggered: a resync that asks again re-learns whatever changed while nobody listened.
      this.emitPod(existing);
      return;
    }
    if (!this.nodes.get(spec.nodeName)?.ready) throw new Error(`simulated node ${spec.nodeName} is not ready`);
    const containers = this.containersOf(spec).map(
      (c): SimContainer => ({
        name: c.name,
        image: c.image,
        runs: 0,
        starting: true,
        state: deepFreeze({ waiting: { reason: "ContainerCreating" } }),
        logs: new Map(),
        logWaiters: new Set(),
      }),
    );
    const pod: SimPod = { spec, phase: "Pending", containers };
    this.pods.set(spec.podId, pod);
    for (const key of claimKeys(spec)) {
      const held = this.claimVolumes.get(spec.nodeName) ?? new Set<string>();
      held.add(key);
      this.claimVolumes.set(spec.nodeName, held);
    }
    this.emitPod(pod);
    const range = this.podLatency(containers);
    // The pull comes first and is not drawn, so slow pulls shift no seeded draw.
    const latencyMs = this.pullMsOn(spec.nodeName) + range.min + this.latencyRng.int(range.max - range.min + 1);
    pod.cancelStart = this.options.clock.setTimer(latencyMs, () => this.sandboxUp(pod));
  }

  async stopPod(_nodeName: string, podId: string): Promise<void> {
    const pod = this.pods.get(podId);
    if (!pod) return;
    this.cancelTimers(pod);
    this.pods.delete(podId);
    this.emit({ type: "podGone", podId, nodeName: pod.spec.nodeName });
  }

  /** A deleted claim's volume goes from its node, unless a pod there still mounts it. */
  async removeVolume(nodeName: string, claim: ClaimVolumeRef): Promise<boolean> {
    const key = claimKey(claim.tenantId, claim.namespace, claim.claimName);
    const inUse = [...this.pods.values()].some((p) => p.spec.nodeName === nodeName && claimKeys(p.spec).includes(key));
    if (inUse) return false;
    this.claimVolumes.get(nodeName)?.delete(key);
    return true;
  }

  /** Test control: the claims' volumes a node holds, as `tenant/namespace/claim`, sorted. */
  volumesOn(nodeName: string): string[] {
    return [...(this.claimVolumes.get(nodeName) ?? [])].sort();
  }

  /**
   * Test and simulator control: every pod as `listPods` sees it, as frozen observations kept until
   * the pod changes, so a checker that looks after every event does not copy every pod each time.
   */
  observedPods(): readonly Readonly<ObservedPod>[] {
    const all: Readonly<ObservedPod>[] = [];
    for (const pod of this.pods.values()) {
      pod.observed ??= deepFreeze(this.observe(pod));
      all.push(pod.observed);
    }
    return all;
  }

  async listPods(nodeName?: string): Promise<ObservedPod[]> {
    return [...this.pods.values()]
      .filter((p) => nodeName === undefined || p.spec.nodeName === nodeName)
      .map((p) => this.observe(p));
  }

  async probe(
    nodeName: string,
    podId: string,
    containerName: string,
    kind: ProbeKind,
    probe: Json,
  ): Promise<ProbeResult> {
    const found = this.container(nodeName, podId, containerName);
    const startedAtMs = found?.container.startedAtMs;
    if (!found || !("running" in found.container.state) || startedAtMs === undefined) {
      return { ok: false, message: `container ${containerName} is not running` };
    }
    const { pod, container } = found;
    const behaviour = behaviourOf(this.images, container.image)[kind];
    const ranMs = this.options.clock.now() - startedAtMs;
    return probeOutcome(behaviour, ranMs, this.probeRng, kind, probe, pod.podIP);
  }

  /**
   * Until when the container's probes of `kind` keep passing, as its image behaves now: `Infinity`
   * when they never fail, `undefined` when it cannot be told (a seeded failure rate, a probe failing
   * now, a container not running). A run changes this only through `setImageBehaviour`.
   */
  probePassesUntil(nodeName: string, podId: string, containerName: string, kind: ProbeKind): number | undefined {
    const found = this.container(nodeName, podId, containerName);
    const startedAtMs = found?.container.startedAtMs;
    if (!found || !("running" in found.container.state) || startedAtMs === undefined) return undefined;
    const behaviour = behaviourOf(this.images, found.container.image)[kind];
    const untilMs = passesUntilMs(behaviour, this.options.clock.now() - startedAtMs);
    return untilMs === undefined ? undefined : startedAtMs + untilMs;
  }

  async killContainer(nodeName: string, podId: string, containerName: string, containerID?: string): Promise<void> {
    const found = this.container(nodeName, podId, containerName);
    if (!found || !("running" in found.container.state)) return;
    if (containerID !== undefined && found.container.containerID !== containerID) return;
    this.exit(found.pod, found.container, { exitCode: KILLED_EXIT_CODE, reason: "Error" });
  }

  async restartContainer(nodeName: string, podId: string, containerName: string, containerID?: string): Promise<void> {
    const found = this.container(nodeName, podId, containerName);
    if (!found || found.container.starting || !("terminated" in found.container.state)) return;
    const { pod, container } = found;
    if (containerID !== undefined && container.containerID !== containerID) return;
    container.starting = true;
    const range = behaviourOf(this.images, container.image).startLatencyMs ?? this.latency;
    const latencyMs = range.min + this.restartLatencyRng.int(range.max - range.min + 1);
    container.cancelStart = this.options.clock.setTimer(latencyMs, () => {
      if (this.pods.get(pod.spec.podId) !== pod) return;
      this.startRun(pod, container);
      this.emitPod(pod);
    });
  }

  /**
   * A run's synthetic output: a start line naming the image, the lines its behaviour defines
   * (`logLines`), and an exit line. Stamped with the injected clock, so a seed replays them exactly.
   */
  async logs(
    nodeName: string,
    podId: string,
    containerName: string,
    options: LogOptions = {},
  ): Promise<AsyncIterable<string>> {
    const found = this.container(nodeName, podId, containerName);
    if (!found || found.container.runs === 0) {
      throw new LogsNotFoundError(`container "${containerName}" has not started`);
    }
    const { pod, container } = found;
    const run = options.previous ? container.runs - 1 : container.runs;
    const lines = container.logs.get(run);
    if (!lines) throw new LogsNotFoundError(`previous terminated container "${containerName}" not found`);
    const from = options.tailLines === undefined ? 0 : Math.max(0, lines.length - options.tailLines);
    const follow = options.follow === true && !options.previous;
    return this.readLog(pod, container, run, from, follow, options.signal);
  }

  private async *readLog(
    pod: SimPod,
    container: SimContainer,
    run: number,
    from: number,
    follow: boolean,
    signal: AbortSignal | undefined,
  ): AsyncGenerator<string> {
    let next = from;
    // Bounded: a run writes at most MAX_LOG_LINES_PER_RUN lines; each pass yields at least one, or waits
    // for a write, the run's end or the signal.
    for (let pass = 0; pass <= 2 * MAX_LOG_LINES_PER_RUN + 4; pass++) {
      // Whether the run had ended is read before its lines, so the lines it wrote last are never missed.
      const gone = this.closed || this.pods.get(pod.spec.podId) !== pod;
      const ended = gone || container.runs !== run || !("running" in container.state);
      const lines = container.logs.get(run) ?? [];
      if (next < lines.length) {
        const chunk = `${lines.slice(next).join("\n")}\n`;
        next = lines.length;
        yield chunk;
        continue;
      }
      if (!follow || ended || signal?.aborted) return;
      await this.nextLogWrite(container, signal);
    }
  }

  /** Resolves at the container's next log write or run end, or when `signal` aborts. */
  private async nextLogWrite(container: SimContainer, signal: AbortSignal | undefined): Promise<void> {
    let wake = () => {};
    const woken = new Promise<void>((resolve) => {
      wake = resolve;
    });
    container.logWaiters.add(wake);
    signal?.addEventListener("abort", wake, { once: true });
    try {
      await woken;
    } finally {
      container.logWaiters.delete(wake);
      signal?.removeEventListener("abort", wake);
    }
  }

  private writeLog(container: SimContainer, line: string): void {
    const lines = container.logs.get(container.runs);
    if (lines && lines.length < MAX_LOG_LINES_PER_RUN)
      lines.push(`${new Date(this.options.clock.now()).toISOString()} ${line}`);
    this.wakeLogReaders(container);
  }

  private wakeLogReaders(container: SimContainer): void {
    const waiters = [...container.logWaiters];
    container.logWaiters.clear();
    for (const wake of waiters) wake();
  }

  subscribe(listener: (event: ProviderEvent) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  async close(): Promise<void> {
    this.closed = true;
    for (const pod of this.pods.values()) this.cancelTimers(pod);
    this.listeners.clear();
  }

  /**
   * Test and scenario control: what an image does from now on. Running
   * containers of the image follow at once (probes, and an exit timed from the
   * start of their run); `undefined` restores the defaults.
   */
  setImageBehaviour(image: string, behaviour: ImageBehaviour | undefined): void {
    if (behaviour) this.images.set(image, behaviour);
    else this.images.delete(image);
    for (const pod of this.pods.values()) {
      for (const container of pod.containers) {
        if ("running" in container.state) this.armExit(pod, container);
      }
    }
  }

  /**
   * Test and scenario control: from now on, a pod started on the node (on every node when
   * `nodeName` is undefined) first pulls its images, which takes `pullMs` more before its
   * containers are created (the slower of a node's own and the all-nodes setting wins);
   * `undefined` ends it. A pull under way when it ends runs its course. A restart pulls
   * nothing: the image is on the node.
   */
  setImagePullMs(nodeName: string | undefined, pullMs: number | undefined): void {
    if (pullMs !== undefined && (!Number.isFinite(pullMs) || pullMs < 0)) {
      throw new Error(`simulated image pull time must be 0 or more milliseconds, got ${pullMs}`);
    }
    const key = nodeName ?? "*";
    if (pullMs === undefined) this.pullMs.delete(key);
    else this.pullMs.set(key, pullMs);
  }

  private pullMsOn(nodeName: string): number {
    return Math.max(this.pullMs.get(nodeName) ?? 0, this.pullMs.get("*") ?? 0);
  }

  /**
   * Test and scenario control: a node joins (an observation follows). One named like a pool's
   * (`sim-POOL-N`) counts as that pool's N-th, so a node the pool adds later never takes its name.
   */
  addNode(node: NewSimulatedNode): ProviderNode {
    if (this.nodes.has(node.name)) throw new Error(`simulated node ${node.name} exists`);
    const base = this.nodeOf({ name: node.name, cpuMillis: 4000, memoryBytes: 8 * 2 ** 30 });
    const joined = this.join({ ...base, ...node, labels: { ...base.labels, ...node.labels } });
    const pool = joined.labels[POOL_LABEL] ?? "";
    const index = joined.name.startsWith(`sim-${pool}-`)
      ? Number(joined.name.slice(`sim-${pool}-`.length))
      : Number.NaN;
    if (this.pools.has(pool) && Number.isInteger(index)) {
      this.lastIndex.set(pool, Math.max(this.lastIndex.get(pool) ?? 0, index));
    }
    return joined;
  }

  /** The highest node number the pool has handed out (`sim-POOL-N`), removed nodes included; 0 for none. */
  lastNodeIndex(pool: string): number {
    return this.lastIndex.get(pool) ?? 0;
  }

  /** Test and scenario control: a node vanishes with every pod on it (each reported gone). */
  removeNode(name: string): void {
    if (!this.nodes.delete(name)) return;
    this.claimVolumes.delete(name);
    for (const pod of [...this.pods.values()]) {
      if (pod.spec.nodeName !== name) continue;
      this.cancelTimers(pod);
      this.pods.delete(pod.spec.podId);
      this.emit({ type: "podGone", podId: pod.spec.podId, nodeName: name });
    }
    this.emit({ type: "nodeGone", nodeName: name, atMs: this.options.clock.now() });
  }

  /** Test and scenario control: a node turns NotReady or Ready; its pods keep running, as on a partitioned node. */
  setNodeReady(name: string, ready: boolean): void {
    const node = this.nodes.get(name);
    if (!node || node.ready === ready) return;
    this.nodes.set(name, frozenNode({ ...node, ready }));
    this.emit({ type: "node", node: { ...node, ready, labels: { ...node.labels } }, atMs: this.options.clock.now() });
  }

  private join(node: ProviderNode): ProviderNode {
    this.nodes.set(node.name, frozenNode(node));
    this.emit({ type: "node", node: { ...node, labels: { ...node.labels } }, atMs: this.options.clock.now() });
    return { ...node, labels: { ...node.labels } };
  }

  private scalingPools(): NodePoolShape[] {
    return [...this.pools.values()].flatMap((pool) =>
      pool.autoscale
        ? [
            {
              name: pool.name,
              cpuMillis: pool.cpuMillis,
              memoryBytes: pool.memoryBytes,
              maxPods: pool.maxPods ?? 110,
              labels: { [ZONE_LABEL]: this.nextZone(pool), [POOL_LABEL]: pool.name },
              min: pool.autoscale.min,
              max: pool.autoscale.max,
            },
          ]
        : [],
    );
  }

  private poolNodes(pool: string): ProviderNode[] {
    return [...this.nodes.values()].filter((n) => n.labels[POOL_LABEL] === pool);
  }

  /** The pool's zone with the fewest of its nodes (the first such, in zone order): added nodes spread over zones. */
  private nextZone(pool: NodePool): string {
    const zones = zonesOf(pool);
    const counts = zones.map((zone) => this.poolNodes(pool.name).filter((n) => n.labels[ZONE_LABEL] === zone).length);
    const fewest = Math.min(...counts);
    return zones[counts.indexOf(fewest)] as string;
  }

  private addPoolNode(poolName: string): ProviderNode {
    const pool = this.pools.get(poolName);
    if (!pool?.autoscale) throw new Error(`simulated pool ${poolName} does not scale`);
    if (this.poolNodes(poolName).length >= pool.autoscale.max) {
      throw new Error(`simulated pool ${poolName} is at its max of ${pool.autoscale.max} nodes`);
    }
    let index = (this.lastIndex.get(poolName) ?? 0) + 1;
    while (this.nodes.has(`sim-${poolName}-${index}`)) index++;
    this.lastIndex.set(poolName, index);
    const name = `sim-${poolName}-${index}`;
    return this.join(this.nodeOf({ ...pool, name }, this.nextZone(pool), poolName));
  }

  private removePoolNode(name: string): void {
    const node = this.nodes.get(name);
    if (!node) return;
    const poolName = node.labels[POOL_LABEL] ?? "";
    const pool = this.pools.get(poolName);
    if (!pool?.autoscale) throw new Error(`simulated node ${name} is not in a scaling pool`);
    if (this.poolNodes(poolName).length <= pool.autoscale.min) {
      throw new Error(`simulated pool ${poolName} is at its min of ${pool.autoscale.min} nodes`);
    }
    this.removeNode(name);
  }

  private nodeOf(
    shape: { name: string; cpuMillis: number; memoryBytes: number; maxPods?: number },
    zone = "zone-a",
    pool = "default",
  ): ProviderNode {
    this.addressIndex++;
    return {
      name: shape.name,
      address: `192.0.2.${this.addressIndex}`,
      labels: {
        "kubernetes.io/hostname": shape.name,
        [ZONE_LABEL]: zone,
        [POOL_LABEL]: pool,
      },
      cpuMillis: shape.cpuMillis,
      memoryBytes: shape.memoryBytes,
      maxPods: shape.maxPods ?? 110,
      ready: true,
    };
  }

  /** The widest start latency of the pod's images: the pod is up when its slowest container could be. */
  private podLatency(containers: SimContainer[]): { min: number; max: number } {
    const ranges = containers.map((c) => behaviourOf(this.images, c.image).startLatencyMs ?? this.latency);
    if (ranges.length === 0) return this.latency;
    return { min: Math.max(...ranges.map((r) => r.min)), max: Math.max(...ranges.map((r) => r.max)) };
  }

  private sandboxUp(pod: SimPod): void {
    if (this.pods.get(pod.spec.podId) !== pod) return;
    pod.phase = "Running";
    pod.startedAt = this.options.clock.now();
    pod.podIP = `10.244.${this.ipRng.int(256)}.${1 + this.ipRng.int(254)}`;
    for (const container of pod.containers) this.startRun(pod, container);
    this.emitPod(pod);
  }

  private startRun(pod: SimPod, container: SimContainer): void {
    const now = this.options.clock.now();
    container.runs++;
    container.starting = false;
    container.cancelStart = undefined;
    container.containerID = `simulated://${pod.spec.podId}-${container.name}-${container.runs}`;
    container.startedAtMs = now;
    container.state = deepFreeze({ running: { startedAt: isoTime(now) } });
    container.logs.set(container.runs, []);
    container.logs.delete(container.runs - 2);
    this.writeLog(container, `started ${container.image} (run ${container.runs})`);
    for (const line of behaviourOf(this.images, container.image).logLines ?? []) this.writeLog(container, line);
    this.armExit(pod, container);
  }

  /** Schedules the run's own exit, if its image has one, timed from the start of the run. */
  private armExit(pod: SimPod, container: SimContainer): void {
    container.cancelExit?.();
    container.cancelExit = undefined;
    const crashAfterMs = behaviourOf(this.images, container.image).crashAfterMs;
    if (crashAfterMs === undefined || container.startedAtMs === undefined) return;
    const delayMs = Math.max(0, container.startedAtMs + crashAfterMs - this.options.clock.now());
    const containerID = container.containerID;
    container.cancelExit = this.options.clock.setTimer(delayMs, () => {
      if (this.pods.get(pod.spec.podId) !== pod || container.containerID !== containerID) return;
      if (!("running" in container.state)) return;
      this.exit(pod, container, exitOf(behaviourOf(this.images, container.image)));
    });
  }

  private exit(pod: SimPod, container: SimContainer, how: { exitCode: number; reason: string }): void {
    container.cancelExit?.();
    container.cancelExit = undefined;
    const now = this.options.clock.now();
    container.state = deepFreeze({
      terminated: {
        exitCode: how.exitCode,
        reason: how.reason,
        ...(container.startedAtMs !== undefined ? { startedAt: isoTime(container.startedAtMs) } : {}),
        finishedAt: isoTime(now),
      },
    });
    this.writeLog(container, `exited with code ${how.exitCode} (${how.reason})`);
    this.emitPod(pod);
  }

  private container(
    nodeName: string,
    podId: string,
    containerName: string,
  ): { pod: SimPod; container: SimContainer } | undefined {
    const pod = this.pods.get(podId);
    if (!pod || pod.spec.nodeName !== nodeName) return undefined;
    const container = pod.containers.find((c) => c.name === containerName);
    return container ? { pod, container } : undefined;
  }

  private cancelTimers(pod: SimPod): void {
    pod.cancelStart?.();
    for (const container of pod.containers) {
      container.cancelStart?.();
      container.cancelExit?.();
      // The pod is gone: its followers end.
      this.wakeLogReaders(container);
    }
  }

  /** The pod as the runtime reports it: a copy, but for the containers' states, which are frozen and replaced on change. */
  private observe(pod: SimPod): ObservedPod {
    return {
      podId: pod.spec.podId,
      nodeName: pod.spec.nodeName,
      phase: pod.phase,
      ...(pod.podIP ? { podIP: pod.podIP } : {}),
      ...(pod.startedAt !== undefined ? { startedAt: pod.startedAt } : {}),
      containers: pod.containers.map((c) => ({
        name: c.name,
        image: c.image,
        ...(c.containerID ? { containerID: c.containerID } : {}),
        state: c.state,
      })),
    };
  }

  private containersOf(spec: PodRuntimeSpec): { name: string; image: string }[] {
    const containers = (spec.spec.containers as { name: string; image?: string }[] | undefined) ?? [];
    return containers.map((c) => ({ name: c.name, image: c.image ?? "" }));
  }

  private emitPod(pod: SimPod): void {
    pod.observed = undefined;
    this.emit({ type: "pod", pod: this.observe(pod) });
  }

  private emit(event: ProviderEvent): void {
    for (const listener of this.listeners) listener(event);
  }
}

function claimKey(tenantId: string, namespace: string, claimName: string): string {
  return `${tenantId}/${namespace}/${claimName}`;
}

/** The claims a pod mounts, as `claimKey`s. */
function claimKeys(spec: PodRuntimeSpec): string[] {
  const volumes = (spec.spec.volumes as { persistentVolumeClaim?: { claimName?: string } }[] | undefined) ?? [];
  return volumes.flatMap((v) =>
    v.persistentVolumeClaim?.claimName
      ? [claimKey(spec.tenantId, spec.namespace, v.persistentVolumeClaim.claimName)]
      : [],
  );
}

function deepFreeze<T>(value: T): T {
  if (value === null || typeof value !== "object" || Object.isFrozen(value)) return value;
  for (const key of Object.keys(value)) deepFreeze((value as Record<string, unknown>)[key]);
  return Object.freeze(value);
}

function zonesOf(pool: NodePool): string[] {
  if (pool.zones && pool.zones.length > 0) return pool.zones;
  return pool.zone ? [pool.zone] : SPREAD_ZONES;
}

function checkAutoscale(pool: NodePool): void {
  const range = pool.autoscale;
  if (!range) return;
  if (!Number.isInteger(range.min) || !Number.isInteger(range.max) || range.min < 0 || range.max < range.min) {
    throw new Error(`simulated pool ${pool.name}: autoscale needs whole numbers 0 <= min <= max`);
  }
}

/** A node as the simulated provider keeps it: frozen, labels too, and replaced when it changes. */
function frozenNode(node: ProviderNode): Readonly<ProviderNode> {
  return Object.freeze({ ...node, labels: Object.freeze({ ...node.labels }) });
}
