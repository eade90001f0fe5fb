import { describe, expect, it } from "vitest";
import { runScenario } from "../../src/simulator/run.js";
import { loadScenarioFile, parseScenario } from "../../src/simulator/scenario.js";
import { swarmFaults, withFaults } from "../../src/simulator/swarm.js";
import { PASSING_SCENARIOS, SCENARIO_DIR } from "../helpers/scenarios.js";

/** The bar: ten seeds of every example in `npm test` (`npm run sim:determinism` runs 100). */
const SEEDS = Array.from({ length: 10 }, (_, i) => String(i + 1));

describe("examples/scenarios", () => {
  it.each(PASSING_SCENARIOS.flatMap((name) => SEEDS.map((seed) => [name, seed])))(
    "%s passes with seed %s",
    async (name, seed) => {
      const file = await loadScenarioFile(`${SCENARIO_DIR}${name}.yaml`);
      // A swarm scenario runs on the seed's own random fault schedule, as `kubernease simulate` runs it.
      const scenario = withFaults(file, swarmFaults(file, seed));
      const report = await runScenario(scenario, { seed, source: `examples/scenarios/${name}.yaml` });
      const failures = [
        ...report.assertions.filter((a) => !a.ok).map((a) => `${a.assertion}: ${a.detail}`),
        ...report.violations.map((v) => `${v.invariant}: ${v.message}`),
        ...(report.stopped ? [`${report.stopped.reason}: ${report.stopped.message}`] : []),
      ];
      expect(failures).toEqual([]);
      expect(report.ok).toBe(true);
      expect(report.endedAtMs).toBe(scenario.durationMs);
    },
  );
});

describe("capacity-autoscaling", () => {
  it("the production node autoscaler adds nodes for pods that fit nowhere, and removes them once idle", async () => {
    const scenario = await loadScenarioFile(`${SCENARIO_DIR}capacity-autoscaling.yaml`);
    const report = await runScenario(scenario, { seed: "1", source: "capacity-autoscaling.yaml" });
    expect(report.ok).toBe(true);
    const log = report.log.map((l) => [l.atMs, l.message]);
    // Scaled to 12 at 1 m: 4 pods wait until the autoscaler's next look adds a burst node.
    expect(log).toContainEqual([65_000, 'autoscaler added nodes nodes=["sim-burst-1"] forPods=4']);
    expect(report.timeline).toContainEqual(
      expect.objectContaining({ kind: "event", what: expect.stringMatching(/TriggeredScaleUp/) }),
    );
    const series = report.workloads[0]?.series ?? [];
    const full = series.find(([atMs, ready, desired]) => atMs >= 60_000 && desired === 12 && ready === 12);
    expect(full?.[0]).toBeLessThan(90_000);
    // Scaled back to 4 at 7 m: both burst nodes are drained and removed after 2 m unneeded.
    const removed = log.filter(([, m]) => String(m).startsWith("autoscaler removed a node")).map(([, m]) => m);
    expect(removed).toEqual([
      "autoscaler removed a node node=sim-burst-2",
      "autoscaler removed a node node=sim-burst-1",
    ]);
  });

  it("without autoscale on the pool, the same scale-up leaves pods waiting for capacity", async () => {
    const file = await loadScenarioFile(`${SCENARIO_DIR}capacity-autoscaling.yaml`);
    const scenario = { ...file, pools: file.pools.map(({ autoscale: _, ...pool }) => pool) };
    const report = await runScenario(scenario, { seed: "1", source: "capacity-autoscaling.yaml" });
    expect(report.log.some((l) => l.message.startsWith("autoscaler"))).toBe(false);
    const peak = Math.max(...(report.workloads[0]?.series ?? []).map(([, ready]) => ready));
    expect(peak).toBe(8);
  });
});

describe("timeline actions", () => {
  it("every action runs, lands in the timeline, and a target that is not there is reported as skipped", async () => {
    const text = `
cluster:
  pools: [{ name: default, count: 3, cpu: 4, memory: 8Gi, zones: [zone-a, zone-b] }]
  startLatency: { min: 1s, max: 2s }
images:
  "web:1": { readiness: { passAfter: 3s } }
platform: { nodeGracePeriod: 10s }
manifests:
  - inline: |
      apiVersion: apps/v1
      kind: Deployment
      metadata: { name: web }
      spec:
        replicas: 2
        selector: { matchLabels: { app: web } }
        template:
          metadata: { labels: { app: web } }
          spec:
            containers:
              - name: web
                image: web:1
                readinessProbe: { httpGet: { path: /, port: 80 }, periodSeconds: 1 }
                resources: { requests: { cpu: 100m, memory: 64Mi } }
timeline:
  - { at: 20s, scale: { workload: Deployment/web, replicas: 4 } }
  - { at: 40s, addNodes: { pool: default, count: 2 } }
  - { at: 50s, crashZone: zone-a }
  - { at: 60s, partitionNode: { pool: default, index: 4 }, for: 15s }
  - { at: 90s, crashNode: { name: sim-default-1 } }
  - { at: 95s, scale: { workload: nothing, replicas: 1 } }
duration: 3m
assertions:
  final: { web: 4 }
`;
    const scenario = await parseScenario(text, "actions.yaml", async () => "");
    const report = await runScenario(scenario, { seed: "1", source: "actions.yaml" });
    const actions = report.timeline.filter((t) => !["event", "degraded", "recovered"].includes(t.kind));
    expect(actions.map((t) => [t.atMs, t.kind, t.what, t.skipped ?? false])).toEqual([
      [0, "apply", "apply manifests[0] (inline): Deployment/web", false],
      [20_000, "scale", "scale Deployment/web to 4", false],
      [40_000, "addNodes", "add 2 node(s) to pool default: sim-default-4, sim-default-5", false],
      [50_000, "crashZone", "crash zone zone-a: sim-default-1, sim-default-3, sim-default-5", false],
      [60_000, "partitionNode", "partition node sim-default-4 for 15s", false],
      [75_000, "heal", "partition of sim-default-4 heals", false],
      [90_000, "crashNode", "crash node sim-default-1: no such node is up; nothing crashed", true],
      [95_000, "scale", "scale nothing: no such workload", true],
    ]);
    // Started in 1–2 s and Ready 3 s into the run: nothing is Ready before 4 s.
    expect(report.workloads[0]?.series[1]?.[0]).toBeGreaterThanOrEqual(4_000);
    expect(report.faults.map((f) => f.fault)).toEqual([
      "crash zone zone-a: sim-default-1, sim-default-3, sim-default-5",
      "partition node sim-default-4 for 15s",
    ]);
    expect(report.violations).toEqual([]);
    expect(report.ok).toBe(true);
  });
});
