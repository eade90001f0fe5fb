/**
 * `npm run bench:sim`: how fast the simulator runs the production control plane in virtual time.
 * A cluster of 200 nodes (3 zones) runs 5,000 pods (50 Deployments of 100 replicas with readiness
 * probes) for 24 h of virtual time; a random node crashes every 10 minutes and a fresh one joins
 * 5 minutes later. Prints `speed-up: N×` (virtual time / wall time), then where the run went:
 * steps, jobs, store calls and writes, and the wall time per virtual hour.
 *
 * Options (env): BENCH_NODES (200), BENCH_PODS (5000), BENCH_HOURS (24), BENCH_SEED (1),
 * BENCH_TRACE (0: no write hashing, as a plain run; 1: hash every write, as `simulate` does),
 * BENCH_MAX_SECONDS (300): a run still going after this much wall time, setup included (building
 * the cluster and creating the initial pods), stops there, and the speed-up is measured on the
 * virtual time it reached. The bound is kept by a parent process that runs the bench as its child and
 * kills it at the bound: a run can spend minutes in promise work that never lets a timer of its own
 * fire (creating 150,000 pods does). BENCH_SCALE=1: the scale row instead, 5,000
 * nodes and 150,000 pods (BENCH_NODES and BENCH_PODS still override). Every run ends with
 * `peak memory: N MiB` (the process's peak resident set). BENCH_HEAP_MIB (1792): the child's V8
 * heap limit. Left to itself, V8 lets the heap grow to two or three times what is live before it
 * collects (the scale row holds about 1 GiB live and peaked at 2.6 GiB); with a limit it collects
 * sooner, and a run whose live data does not fit fails with an out-of-memory error instead of
 * passing on a machine with memory to spare. The child's young generation is larger than V8's
 * default (64 MiB semi-spaces, 16 by default): the run makes a great deal of short-lived promise
 * work, which a small one promotes to the old generation, where a heap near its limit then spends
 * its time collecting it.
 */
import { spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import { runScenario } from "../src/simulator/run.js";
import { parseScenario } from "../src/simulator/scenario.js";

const maxSeconds = Math.min(Number(process.env.BENCH_MAX_SECONDS ?? 300), 24 * 3600);
const heapMiB = Math.max(256, Number(process.env.BENCH_HEAP_MIB ?? 1792));
if (process.env.BENCH_CHILD !== "1") await watchChild();

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

/**
 * Runs this bench as a child and keeps its wall-time bound: the child's progress lines (stderr) tell
 * the virtual time it reached; at the bound the child is killed and the figures are of that.
 */
async function watchChild(): Promise<never> {
  const startedMs = performance.now();
  const heap = [`--max-old-space-size=${heapMiB}`, "--max-semi-space-size=64"];
  const child = spawn(process.execPath, [...heap, ...process.execArgv, ...process.argv.slice(1)], {
    env: { ...process.env, BENCH_CHILD: "1" },
    stdio: ["ignore", "inherit", "pipe"],
  });
  let reachedMinutes = 0;
  child.stderr.on("data", (chunk: Buffer) => {
    process.stderr.write(chunk);
    for (const match of chunk.toString().matchAll(/(\d+) min virtual after/g)) reachedMinutes = Number(match[1]);
  });
  const bound = setTimeout(() => {
    const wallMs = performance.now() - startedMs;
    const peakMiB = peakMemoryMiB(child.pid);
    child.kill("SIGKILL");
    const reached = reachedMinutes === 0 ? "still in setup (virtual time 0)" : `${reachedMinutes} min virtual`;
    console.log(`stopped at the wall-time bound (${maxSeconds} s): ${reached} reached`);
    printSpeedUp((reachedMinutes * 60_000) / wallMs);
    console.log(`peak memory: ${peakMiB} MiB`);
    process.exit(0);
  }, maxSeconds * 1000);
  const code = await new Promise<number>((resolve) => child.on("exit", (exitCode) => resolve(exitCode ?? 1)));
  clearTimeout(bound);
  process.exit(code);
}

/** A process's peak resident set, from Linux's /proc (VmHWM, in kB); 0 where there is none. */
function peakMemoryMiB(pid: number | undefined): number {
  const status = pid === undefined ? "" : readFileSync(`/proc/${pid}/status`, "utf8");
  return Math.round(Number(/VmHWM:\s+(\d+)/.exec(status)?.[1] ?? 0) / 1024);
}

function printSpeedUp(speedUp: number): void {
  console.log(`speed-up: ${speedUp >= 10 ? Math.round(speedUp) : speedUp.toFixed(2)}×`);
}

const startedMs = performance.now();
let lastReport = 0;
const scenario = await parseScenario(scenarioText(), "bench-sim.yaml", async () => "");
const report = await runScenario(scenario, {
  seed,
  source: "bench-sim.yaml",
  trace,
  onProgress: (elapsedMs) => {
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
printSpeedUp(virtualMs / wallMs);
printPeakMemory();
