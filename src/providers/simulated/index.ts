import type { Clock } from "../../core/clock.js";
import type { Rng } from "../../core/rng.js";
import type { NodeProvider, ObservedPod, PodRuntimeSpec, ProviderEvent, ProviderNode } from "../types.js";

export interface NodePool {
  name: string;
  count: number;
  cpuMillis: number;
  memoryBytes: number;
  maxPods?: number;
  zone?: string;
}

export interface SimulatedProviderOptions {
  clock: Clock;
  rng: Rng;
  pools?: NodePool[];
  /** A pod's start latency is drawn uniformly from this range. */
  startLatencyMs?: { min: number; max: number };
}

/** Three nodes of 4 CPU and 8 GiB, one per zone. */
export const DEFAULT_POOLS: NodePool[] = [
  { name: "default", count: 3, cpuMillis: 4000, memoryBytes: 8 * 2 ** 30, maxPods: 110 },
];

interface SimPod {
  spec: PodRuntimeSpec;
  observed: ObservedPod;
  cancelStart?: () => void;
}

/**
 * In-memory nodes that "run" pods: a started pod turns Running and Ready after a
 * seeded latency. Time and chance come from the injected Clock and Rng, so the
 * same seed gives the same run, in real time in the server or virtual time in
 * the simulator. Node addresses come from TEST-NET-1 (192.0.2.0/24) and are never dialled.
 */
export class SimulatedProvider implements NodeProvider {
  readonly name = "simulated";
  private readonly nodes = new Map<string, ProviderNode>();
  private readonly pods = new Map<string, SimPod>();
  private readonly listeners = new Set<(event: ProviderEvent) => void>();
  private readonly latencyRng: Rng;
  private readonly ipRng: Rng;
  private readonly latency: { min: number; max: number };

  constructor(private readonly options: SimulatedProviderOptions) {
    this.latencyRng = options.rng.fork("start-latency");
    this.ipRng = options.rng.fork("pod-ip");
    this.latency = options.startLatencyMs ?? { min: 100, max: 600 };
    let index = 0;
    for (const pool of options.pools ?? DEFAULT_POOLS) {
      for (let i = 1; i <= pool.count; i++) {
        index++;
        const zone = pool.zone ?? `zone-${String.fromCharCode(96 + (((i - 1) % 3) + 1))}`;
        this.nodes.set(`sim-${pool.name}-${i}`, {
          name: `sim-${pool.name}-${i}`,
          address: `192.0.2.${index}`,
          labels: {
            "kubernetes.io/hostname": `sim-${pool.name}-${i}`,
            "topology.kubernetes.io/zone": zone,
            "kubernease.dev/pool": pool.name,
          },
          cpuMillis: pool.cpuMillis,
          memoryBytes: pool.memoryBytes,
          maxPods: pool.maxPods ?? 110,
          ready: true,
        });
      }
    }
  }

  async listNodes(): Promise<ProviderNode[]> {
    return [...this.nodes.values()].map((n) => ({ ...n, labels: { ...n.labels } }));
  }

  async startPod(spec: PodRuntimeSpec): Promise<void> {
    if (this.pods.has(spec.podId)) return;
    if (!this.nodes.get(spec.nodeName)?.ready) throw new Error(`simulated node ${spec.nodeName} is not ready`);
    const containers = this.containersOf(spec).map((c) => ({
      name: c.name,
      image: c.image,
      ready: false,
      started: false,
      restartCount: 0,
      state: { waiting: { reason: "ContainerCreating" } },
    }));
    const pod: SimPod = {
      spec,
      observed: { podId: spec.podId, nodeName: spec.nodeName, phase: "Pending", ready: false, containers },
    };
    this.pods.set(spec.podId, pod);
    this.emit({ type: "pod", pod: structuredClone(pod.observed) });
    const latencyMs = this.latency.min + this.latencyRng.int(this.latency.max - this.latency.min + 1);
    pod.cancelStart = this.options.clock.setTimer(latencyMs, () => this.markRunning(pod));
  }

  async stopPod(_nodeName: string, podId: string): Promise<void> {
    const pod = this.pods.get(podId);
    if (!pod) return;
    pod.cancelStart?.();
    this.pods.delete(podId);
    this.emit({ type: "podGone", podId, nodeName: pod.spec.nodeName });
  }

  async listPods(nodeName?: string): Promise<ObservedPod[]> {
    return [...this.pods.values()]
      .filter((p) => nodeName === undefined || p.spec.nodeName === nodeName)
      .map((p) => structuredClone(p.observed));
  }

  subscribe(listener: (event: ProviderEvent) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  async close(): Promise<void> {
    for (const pod of this.pods.values()) pod.cancelStart?.();
    this.listeners.clear();
  }

  private markRunning(pod: SimPod): void {
    if (this.pods.get(pod.spec.podId) !== pod) return;
    const startedAt = this.options.clock.now();
    const startedAtIso = new Date(startedAt).toISOString();
    pod.observed = {
      ...pod.observed,
      phase: "Running",
      ready: true,
      startedAt,
      podIP: `10.244.${this.ipRng.int(256)}.${1 + this.ipRng.int(254)}`,
      containers: pod.observed.containers.map((c) => ({
        ...c,
        ready: true,
        started: true,
        state: { running: { startedAt: startedAtIso } },
      })),
    };
    this.emit({ type: "pod", pod: structuredClone(pod.observed) });
  }

  private containersOf(spec: PodRuntimeSpec): { name: string; image: string }[] {
    const containers = (spec.spec.containers as { name: string; image?: string }[] | undefined) ?? [];
    return containers.map((c) => ({ name: c.name, image: c.image ?? "" }));
  }

  private emit(event: ProviderEvent): void {
    for (const listener of this.listeners) listener(event);
  }
}
