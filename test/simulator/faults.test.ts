import { describe, expect, it } from "vitest";
import type { Store } from "../../src/db/types.js";
import { runScenario } from "../../src/simulator/run.js";
import { parseScenario } from "../../src/simulator/scenario.js";

/**
 * The timeline faults `drainNode` (the production drain: cordon, then evict through
 * src/jobs/drain.ts, honouring PodDisruptionBudgets) and `slowImagePulls` (the simulated
 * provider's pull time), run end to end on the production control plane.
 */
const web = (replicas: number) => `
      apiVersion: apps/v1
      kind: Deployment
      metadata: { name: web }
      spec:
        replicas: ${replicas}
        selector: { matchLabels: { app: web } }
        template:
          metadata: { labels: { app: web } }
          spec:
            affinity:
              podAntiAffinity:
                requiredDuringSchedulingIgnoredDuringExecution:
                  - topologyKey: kubernetes.io/hostname
                    labelSelector: { matchLabels: { app: web } }
            containers:
              - name: web
                image: web:1
                resources: { requests: { cpu: 100m, memory: 64Mi } }`;

const budget = `
      ---
      apiVersion: policy/v1
      kind: PodDisruptionBudget
      metadata: { name: web }
      spec:
        minAvailable: 3
        selector: { matchLabels: { app: web } }`;

function scenarioText(manifests: string, timeline: string, nodes = 4): string {
  return `
cluster:
  pools: [{ name: default, count: ${nodes}, cpu: 2, memory: 4Gi }]
  startLatency: { min: 1s, max: 1s }
manifests:
  - inline: |${manifests}
timeline:${timeline}
duration: 3m
quiet: 1m
`;
}

/** Runs the scenario and keeps the store, to read the cluster's state after the run. */
async function run(text: string, seed = "1") {
  let store: Store | undefined;
  const scenario = await parseScenario(text, "faults.yaml", async () => "");
  const report = await runScenario(scenario, {
    seed,
    source: "faults.yaml",
    hooks: {
      wrapStore: (s) => {
        store = s;
        return s;
      },
    },
  });
  return { report, store: store as Store };
}

const actions = (report: Awaited<ReturnType<typeof run>>["report"]) =>
  report.timeline.filter((t) => !["event", "degraded", "recovered", "apply"].includes(t.kind));

/** When a workload first had `ready` Ready pods at or after `fromMs`. */
function readyAt(report: Awaited<ReturnType<typeof run>>["report"], ready: number, fromMs: number): number | undefined {
  return report.workloads[0]?.series.find(([atMs, r]) => atMs >= fromMs && r >= ready)?.[0];
}

describe("drainNode", () => {
  it("cordons the node and evicts its pods through the production drain; they come back on the new node", async () => {
    const { report, store } = await run(
      scenarioText(
        web(3),
        "\n  - { at: 20s, addNodes: { pool: default, count: 1 } }\n  - { at: 30s, drainNode: { pool: default, index: 1 } }",
        3,
      ),
    );
    expect(actions(report).map((t) => [t.atMs, t.kind, t.what])).toEqual([
      [20_000, "addNodes", "add 1 node(s) to pool default: sim-default-4"],
      [30_000, "drainNode", "drain node sim-default-1: cordoned, 1 pod(s) evicted"],
    ]);
    expect(report.violations).toEqual([]);
    expect(report.ok).toBe(true);
    expect(report.workloads[0]?.final).toEqual({ ready: 3, desired: 3 });
    expect((await store.listNodes()).find((n) => n.name === "sim-default-1")?.unschedulable).toBe(true);
    const pods = (await store.listPods({})).filter((p) => p.deletionRequestedAt === null);
    expect(pods.map((p) => p.nodeName).sort()).toEqual(["sim-default-2", "sim-default-3", "sim-default-4"]);
    // The evicted pod's replacement is recovered from, as after any fault.
    expect(report.faults).toHaveLength(1);
    expect(report.faults[0]?.recoveredAfterMs).not.toBeNull();
  });

  it("honours a PodDisruptionBudget: the pod it cannot spare stays, on its cordoned node", async () => {
    const { report, store } = await run(
      scenarioText(`${web(3)}${budget}`, "\n  - { at: 30s, drainNode: { name: sim-default-1 } }", 3),
    );
    expect(actions(report).map((t) => t.what)).toEqual([
      "drain node sim-default-1: cordoned, 0 pod(s) evicted; 1 kept by disruption budgets",
    ]);
    const pods = (await store.listPods({})).filter((p) => p.deletionRequestedAt === null);
    expect(pods.map((p) => p.nodeName).sort()).toEqual(["sim-default-1", "sim-default-2", "sim-default-3"]);
    expect(report.ok).toBe(true);
  });

  it("a node that is not there is reported and skipped", async () => {
    const { report } = await run(scenarioText(web(1), "\n  - { at: 30s, drainNode: { name: sim-default-9 } }"));
    expect(actions(report).map((t) => [t.what, t.skipped])).toEqual([
      ["drain node sim-default-9: no such node is up", true],
    ]);
  });
});

describe("slowImagePulls", () => {
  const scaleUp = "\n  - { at: 35s, scale: { workload: web, replicas: 4 } }";

  it("pods started in the window wait for their pull; the window's end is reported; later pods start fast", async () => {
    const fast = await run(scenarioText(web(2), scaleUp));
    // Started in 1 s, Ready at the next probe: the scale-up is served within seconds.
    expect(readyAt(fast.report, 4, 35_000)).toBeLessThan(40_000);

    const slow = await run(
      scenarioText(
        web(2),
        `\n  - { at: 30s, slowImagePulls: 40s, for: 1m }${scaleUp}\n  - { at: 100s, scale: { workload: web, replicas: 2 } }\n  - { at: 110s, scale: { workload: web, replicas: 4 } }`,
        6,
      ),
    );
    expect(actions(slow.report).map((t) => [t.atMs, t.kind, t.what])).toEqual([
      [30_000, "slowImagePulls", "image pulls on every node take 40s for 1m"],
      [35_000, "scale", "scale Deployment/web to 4"],
      [90_000, "heal", "image pulls on every node are fast again"],
      [100_000, "scale", "scale Deployment/web to 2"],
      [110_000, "scale", "scale Deployment/web to 4"],
    ]);
    // 35 s + a 40 s pull + the 1 s start: not before 76 s.
    expect(readyAt(slow.report, 4, 35_000)).toBeGreaterThanOrEqual(76_000);
    // After the window, pulls are fast again.
    expect(readyAt(slow.report, 4, 110_000)).toBeLessThan(115_000);
    expect(slow.report.ok).toBe(true);
  });

  it("on one node only: a pod bound there waits, the others do not", async () => {
    const { report, store } = await run(
      scenarioText(
        web(0),
        `\n  - { at: 10s, slowImagePulls: { pull: 1m, node: { name: sim-default-1 } } }\n  - { at: 20s, scale: { workload: web, replicas: 4 } }`,
      ),
    );
    expect(actions(report)[0]?.what).toBe("image pulls on sim-default-1 take 1m");
    // Three pods on fast nodes are Ready within seconds; the fourth, on sim-default-1, a minute later.
    expect(readyAt(report, 3, 20_000)).toBeLessThan(25_000);
    expect(readyAt(report, 4, 20_000)).toBeGreaterThanOrEqual(81_000);
    const nodes = (await store.listPods({})).map((p) => p.nodeName).sort();
    expect(nodes).toEqual(["sim-default-1", "sim-default-2", "sim-default-3", "sim-default-4"]);
  });
});
