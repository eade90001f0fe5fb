/**
 * `npm run bench:sim`: how fast the simulator runs the production control plane in virtual time.
 * A cluster of 200 nodes (3 zones) runs 5,000 pods (50 Deployments of 100 replicas with readiness
 * probes) for 24 h of virtual time; a random node crashes every 10 minutes and a fresh one joins
 * 5 minutes later. Prints `speed-up: N×` (virtual time / wall time), then where the run went:
 * steps, jobs, store calls and writes, and the wall time per virtual hour.
 *
 * Options (env): BENCH_NODES (200), BENCH_PODS (5000), BENCH_HOURS (24), BENCH_SEED (1),
 * BENCH_TRACE (0: no write hashing, as a plain run; 1: hash every write, as `simulate` does),
 * BENCH_MAX_SECONDS (300): a run still going after this much wall time stops there, and the
 * speed-up is measured on the virtual time it reached. BENCH_SCALE=1: the scale row instead, 5,000
 * nodes and 150,000 pods (BENCH_NODES and BENCH_PODS still override). Every run ends with
 * `peak memory: N MiB` (the process's peak resident set).
 */
import { runScenario } from "../src/simulator/run.js";
import { parseScenario } from "../src/simulator/scenario.js";

const scale = process.env.BENCH_SCALE === "1";
const nodes = Math.min(Number(process.env.BENCH_NODES ?? (scale ? 5_000 : 200)), 10_000);
const pods = Math.min(Number(process.env.BENCH_PODS ?? (scale ? 150_000 : 5_000)), 200_000);
const hours = Math.min(Number(process.env.BENCH_HOURS ?? 24), 24 * 30);
const seed = process.env.BENCH_SEED ?? "1";
const trace = process.env.BENCH_TRACE === "1";

const DEPLOYMENTS = 50;
const replicas = Math.max(1, Math.round(pods / DEPLOYMENTS));

function deployment(i: number): string {
  return `apiVersion: apps/v1
kind: Deployment
metadata: { name: app-${i} }
spec:
  replicas: ${replicas}
  selector: { matchLabels: { app: app-${i} } }
  template:
    metadata: { labels: { app: app-${i} } }
    spec:
      containers:
        - name: app
          image: registry.example/app-${i}:1
          readinessProbe: { httpGet: { path: /healthz, port: 8080 }, periodSeconds: 10 }
          resources: { requests: { cpu: 100m, memory: 128Mi } }
`;
}

function scenarioText(): string {
  const timeline: string[] = [];
  for (let minute = 10; minute < hours * 60; minute += 10) {
    timeline.push(`  - { at: ${minute}m, crashNode: random }`);
    timeline.push(`  - { at: ${minute + 5}m, addNodes: { pool: general, count: 1 } }`);
  }
  const manifests = Array.from({ length: DEPLOYMENTS }, (_, i) => deployment(i)).join("---\n");
  return `name: bench-sim
cluster:
  pools: [{ name: general, count: ${nodes}, cpu: 16, memory: 64Gi }]
manifests:
  - inline: ${JSON.stringify(manifests)}
timeline:
${timeline.join("\n") || "  []"}
duration: ${hours}h
limits: { maxStepsPerInstant: 100000 }
`;
}

const scenario = await parseScenario(scenarioText(), "bench-sim.yaml", async () => "");
const startedMs = performance.now();
let lastReport = 0;
let reachedMs = 0;
const maxSeconds = Math.min(Number(process.env.BENCH_MAX_SECONDS ?? 300), 24 * 3600);
/** Thrown from the progress callback once the wall-time bound is passed: the run ends there. */
const WALL_TIME_BOUND = "bench: wall-time bound reached";
class WallTimeBound extends Error {}
const run = runScenario(scenario, {
  seed,
  source: "bench-sim.yaml",
  trace,
  onProgress: (elapsedMs) => {
    reachedMs = elapsedMs;
    if (performance.now() - startedMs > maxSeconds * 1000) throw new WallTimeBound(WALL_TIME_BOUND);
    // A line every virtual minute, to stderr: the figures below are the result.
    const minute = Math.floor(elapsedMs / 60_000);
    if (minute === lastReport) return;
    lastReport = minute;
    const wallS = (performance.now() - startedMs) / 1000;
    process.stderr.write(`  ${minute} min virtual after ${wallS.toFixed(1)} s wall\n`);
  },
});
function printPeakMemory(): void {
  // maxRSS is in KiB.
  console.log(`peak memory: ${Math.round(process.resourceUsage().maxRSS / 1024)} MiB`);
}

/** The run ends at the bound: the simulator reports the bound's error as the reason it stopped. */
function stoppedAtBound(): never {
  const wallMs = performance.now() - startedMs;
  console.log(
    `stopped at the wall-time bound (${maxSeconds} s): ${(reachedMs / 60_000).toFixed(1)} min virtual reached`,
  );
  const speedUp = reachedMs / wallMs;
  console.log(`speed-up: ${speedUp >= 10 ? Math.round(speedUp) : speedUp.toFixed(2)}×`);
  printPeakMemory();
  process.exit(0);
}
const report = await run.catch((error: unknown) => {
  if (error instanceof WallTimeBound) stoppedAtBound();
  throw error;
});
if (report.stopped?.reason === "error" && report.stopped.message.includes(WALL_TIME_BOUND)) stoppedAtBound();
const wallMs = performance.now() - startedMs;
const virtualMs = report.endedAtMs;
const ready = report.workloads.reduce((n, w) => n + w.final.ready, 0);
console.log(
  `scenario: ${nodes} nodes, ${DEPLOYMENTS * replicas} pods, ${hours} h virtual, ${report.faults.length} node crashes, seed ${seed}`,
);
console.log(
  `result: ${report.ok ? "pass" : "FAIL"}${report.stopped ? ` (stopped: ${report.stopped.reason}: ${report.stopped.message.split("\n")[0]})` : ""}; ${ready} pods Ready at the end`,
);
console.log(`virtual: ${(virtualMs / 3_600_000).toFixed(2)} h, wall: ${(wallMs / 1000).toFixed(1)} s`);
console.log(`steps: ${report.stats.steps}, jobs: ${report.stats.jobs}, store writes: ${report.stats.storeWrites}`);
console.log(`wall per virtual hour: ${(wallMs / 1000 / (virtualMs / 3_600_000)).toFixed(1)} s`);
const speedUp = virtualMs / wallMs;
console.log(`speed-up: ${speedUp >= 10 ? Math.round(speedUp) : speedUp.toFixed(2)}×`);
printPeakMemory();
