/**
 * `npm run bench:scheduler`: placement throughput of the pure scheduler, in process, on one core.
 * A cluster of 5,000 nodes (3 zones, three shapes) takes 10,000 pods of ~10 apps, each app with a
 * preferred pod anti-affinity on hostname (one also spreads over zones with DoNotSchedule, one
 * requires larger shapes by node affinity). Pods are placed one by one, and after each bind the
 * node's allocation and the `ClusterIndex` are updated as the worker would. Prints `pods/s: N` and
 * `placement p99: N ms`, then p50, the slowest placement and how many pods stayed pending.
 *
 * Options (env): BENCH_NODES (default 5000), BENCH_PODS (default 10000), BENCH_SEED (default
 * "bench-scheduler"), BENCH_POLICY (spread | binpack, default spread), BENCH_PERCENTAGE
 * (percentageOfNodesToScore; default kube-scheduler's adaptive share).
 */
import { fnv1a32 } from "../src/core/hash.js";
import { seededRng } from "../src/core/rng.js";
import {
  ClusterIndex,
  type NodeView,
  type PodDemand,
  type SchedulingPolicy,
  schedule,
  type TopologySpreadConstraint,
} from "../src/scheduler/index.js";

const nodeCount = Math.min(Number(process.env.BENCH_NODES ?? 5000), 100_000);
const podCount = Math.min(Number(process.env.BENCH_PODS ?? 10_000), 1_000_000);
const seed = process.env.BENCH_SEED ?? "bench-scheduler";
const policy = (process.env.BENCH_POLICY ?? "spread") as SchedulingPolicy;
const percentage = process.env.BENCH_PERCENTAGE ? Number(process.env.BENCH_PERCENTAGE) : undefined;

const MiB = 2 ** 20;
const GiB = 2 ** 30;
const ZONES = ["zone-a", "zone-b", "zone-c"];
const SHAPES = [
  { type: "small", cpuMillis: 4000, memoryBytes: 16 * GiB, maxPods: 110 },
  { type: "medium", cpuMillis: 8000, memoryBytes: 32 * GiB, maxPods: 110 },
  { type: "large", cpuMillis: 16_000, memoryBytes: 64 * GiB, maxPods: 250 },
];
const CPU_MILLIS = [100, 250, 500, 1000, 2000];
const MEMORY_BYTES = [128 * MiB, 256 * MiB, 512 * MiB, GiB, 4 * GiB];
const APPS = 10;

function nodes(): NodeView[] {
  const rng = seededRng(seed).fork("nodes");
  return Array.from({ length: nodeCount }, (_, i) => {
    const shape = SHAPES[rng.int(SHAPES.length)] ?? SHAPES[0];
    const name = `node-${String(i).padStart(5, "0")}`;
    return {
      name,
      labels: {
        "kubernetes.io/hostname": name,
        "topology.kubernetes.io/zone": ZONES[i % ZONES.length] as string,
        "node.kubernetes.io/instance-type": shape?.type ?? "small",
      },
      cpuMillis: shape?.cpuMillis ?? 4000,
      memoryBytes: shape?.memoryBytes ?? 16 * GiB,
      maxPods: shape?.maxPods ?? 110,
      allocatedCpuMillis: 0,
      allocatedMemoryBytes: 0,
      allocatedPods: 0,
      ready: true,
      unschedulable: false,
    };
  });
}

function pods(): PodDemand[] {
  const rng = seededRng(seed).fork("pods");
  return Array.from({ length: podCount }, (_, i) => {
    const app = `app-${rng.int(APPS)}`;
    const labels = { app };
    const spread: TopologySpreadConstraint[] | undefined =
      app === "app-8"
        ? [
            {
              maxSkew: 1,
              topologyKey: "topology.kubernetes.io/zone",
              whenUnsatisfiable: "DoNotSchedule",
              labelSelector: { matchLabels: labels },
            },
          ]
        : undefined;
    const largerShapes =
      app === "app-9"
        ? {
            requiredDuringSchedulingIgnoredDuringExecution: {
              nodeSelectorTerms: [
                {
                  matchExpressions: [
                    { key: "node.kubernetes.io/instance-type", operator: "In" as const, values: ["medium", "large"] },
                  ],
                },
              ],
            },
          }
        : undefined;
    return {
      id: `pod-${i}`,
      namespace: "bench",
      labels,
      cpuMillis: CPU_MILLIS[rng.int(CPU_MILLIS.length)] ?? 100,
      memoryBytes: MEMORY_BYTES[rng.int(MEMORY_BYTES.length)] ?? 128 * MiB,
      affinity: {
        nodeAffinity: largerShapes,
        podAntiAffinity: {
          preferredDuringSchedulingIgnoredDuringExecution: [
            {
              weight: 100,
              podAffinityTerm: { labelSelector: { matchLabels: labels }, topologyKey: "kubernetes.io/hostname" },
            },
          ],
        },
      },
      topologySpreadConstraints: spread,
    };
  });
}

function percentile(sorted: Float64Array, p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))] ?? Number.NaN;
}

function main(): void {
  console.log(`seed: ${seed} (BENCH_SEED=${seed} npm run bench:scheduler reproduces the placements)`);
  const cluster = nodes();
  const work = pods();
  const byName = new Map(cluster.map((node) => [node.name, node]));
  const started = performance.now();
  const index = new ClusterIndex(cluster);
  const indexMs = performance.now() - started;
  const latencies = new Float64Array(work.length);
  let pending = 0;
  let digest = "";
  for (let i = 0; i < work.length; i++) {
    const pod = work[i] as PodDemand;
    const t0 = performance.now();
    const result = schedule(pod, cluster, { policy, index, percentageOfNodesToScore: percentage });
    digest = String(fnv1a32(`${digest}${result.ok ? result.nodeName : "-"}`));
    if (result.ok) {
      // What the worker's bind does: the node's allocation grows, and the index learns of the pod.
      const node = byName.get(result.nodeName) as NodeView;
      node.allocatedCpuMillis += pod.cpuMillis;
      node.allocatedMemoryBytes += pod.memoryBytes;
      node.allocatedPods += 1;
      index.place({ namespace: pod.namespace, labels: pod.labels, nodeName: result.nodeName, affinity: pod.affinity });
    } else pending++;
    latencies[i] = performance.now() - t0;
  }
  const elapsedMs = performance.now() - started;
  const sorted = latencies.slice().sort();
  const used = new Set<string>();
  for (const node of cluster) if (node.allocatedPods > 0) used.add(node.name);
  console.log(`nodes: ${cluster.length}, pods: ${work.length}, policy: ${policy}`);
  console.log(`pods/s: ${Math.round(work.length / (elapsedMs / 1000))}`);
  console.log(`placement p99: ${percentile(sorted, 99).toFixed(3)} ms`);
  console.log(`placement p50: ${percentile(sorted, 50).toFixed(3)} ms`);
  console.log(`placement max: ${(sorted[sorted.length - 1] ?? 0).toFixed(3)} ms`);
  console.log(`index build: ${indexMs.toFixed(1)} ms (included in pods/s)`);
  console.log(`unschedulable: ${pending}`);
  console.log(`nodes used: ${used.size}`);
  console.log(`placements digest: ${digest} (same seed, same digest)`);
}

main();
