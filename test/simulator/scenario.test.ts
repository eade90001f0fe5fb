import { describe, expect, it } from "vitest";
import { formatDurationMs, parseDurationMs } from "../../src/simulator/duration.js";
import { Metrics } from "../../src/simulator/metrics.js";
import { parseScenario, ScenarioError } from "../../src/simulator/scenario.js";

const files: Record<string, string> = {
  "web.yaml": `apiVersion: apps/v1
kind: Deployment
metadata: { name: web }
spec:
  selector: { matchLabels: { app: web } }
  template:
    metadata: { labels: { app: web } }
    spec: { containers: [{ name: web, image: web:1 }] }
`,
  "typo.yaml": `apiVersion: apps/v1
kind: Deployment
metadata: { name: web }
spec:
  selector: { matchLabels: { app: web } }
  template:
    metadata: { labels: { app: web } }
    spec: { containers: [{ name: web, imag: web:1 }] }
`,
};
const read = async (path: string) => {
  const text = files[path];
  if (text === undefined) throw new Error(`ENOENT: ${path}`);
  return text;
};

async function problems(text: string): Promise<string[]> {
  try {
    await parseScenario(text, "s.yaml", read);
  } catch (error) {
    if (error instanceof ScenarioError) return error.problems;
    throw error;
  }
  return [];
}

const CLUSTER = "cluster: { pools: [{ name: default, count: 3, cpu: 4, memory: 8Gi }] }\n";

describe("scenario files", () => {
  it("a valid scenario resolves durations, quantities, files and inline manifests", async () => {
    const scenario = await parseScenario(
      `${CLUSTER}manifests: [web.yaml]
timeline:
  - { at: 2m, partitionNode: random, for: 40s }
  - { at: 1m30s, crashNode: { pool: default, index: 2 } }
  - { at: 3m, apply: { inline: "${files["web.yaml"]?.replace(/\n/g, "\\n")}" } }
duration: 10m
assertions:
  minReady: { workload: web, atLeast: 2, forFraction: 0.99 }
  recoversWithin: 15s
  final: { web: 1 }
`,
      "dir/s.yaml",
      read,
    );
    expect(scenario.name).toBe("s");
    expect(scenario.durationMs).toBe(600_000);
    expect(scenario.pools[0]).toMatchObject({
      cpuMillis: 4000,
      memoryBytes: 8 * 2 ** 30,
      zones: ["zone-a", "zone-b", "zone-c"],
    });
    expect(scenario.timeline.map((e) => [e.atMs, e.action.type])).toEqual([
      [90_000, "crashNode"],
      [120_000, "partitionNode"],
      [180_000, "apply"],
    ]);
    expect(scenario.timeline[1]?.action).toMatchObject({ forMs: 40_000 });
    expect(scenario.manifests[0]?.manifests[0]?.kind).toBe("Deployment");
    expect(scenario.assertions).toMatchObject({ recoversWithinMs: 15_000, final: { web: { ready: 1 } } });
  });

  it("errors name the path of the offending field", async () => {
    expect(
      await problems(`${CLUSTER}timeline:
  - { at: 1m, crashNode: random }
  - { at: soon, partitionNode: random, for: 40 parsecs }
  - { at: 2m, crashNode: random, crashZone: zone-a }
  - { at: 3m, crashnode: random }
duration: 10m
`),
    ).toEqual([
      'timeline[1].at: expected a duration like 500ms, 40s, 2m or 1h30m (a bare number counts seconds), got "soon"',
      'timeline[1].for: expected a duration like 500ms, 40s, 2m or 1h30m (a bare number counts seconds), got "40 parsecs"',
      "timeline[2]: expected one action per event, got crashNode and crashZone; give each its own event",
      'timeline[3]: Unrecognized key: "crashnode"',
      "timeline[3]: expected one action: crashNode, crashZone, partitionNode, crashLoopImage, drainNode, slowImagePulls, apply, scale, addNodes",
    ]);
    expect(
      await problems("cluster: { pools: [{ name: a, count: 1, cpu: lots, memory: 1Gi }] }\nduration: 1m\n"),
    ).toEqual(['cluster.pools[0].cpu: expected a cpu quantity like 4 or 500m, got "lots"']);
    expect(
      await problems(`${CLUSTER}duration: 1m\ntimeline: [{ at: 1s, addNodes: { pool: gpu, count: 1 } }]\n`),
    ).toEqual(["timeline[0].addNodes.pool: no pool named gpu in cluster.pools"]);
  });

  it("drainNode, slowImagePulls, quiet and autoscaling pools resolve, with their defaults", async () => {
    const scenario = await parseScenario(
      `cluster:
  pools:
    - { name: default, count: 2, cpu: 4, memory: 8Gi }
    - { name: burst, count: 1, cpu: 2, memory: 4Gi, zones: [zone-a], autoscale: { min: 1, max: 5 } }
platform: { autoscaler: { interval: 2s, scaleDownUnneeded: 5m } }
timeline:
  - { at: 1m, drainNode: { pool: default, index: 1 } }
  - { at: 2m, slowImagePulls: 45s, for: 1m }
  - { at: 3m, slowImagePulls: { pull: 2m, node: { name: sim-default-2 } } }
duration: 10m
quiet: 3m
`,
      "s.yaml",
      read,
    );
    expect(scenario.timeline.map((e) => e.action)).toEqual([
      { type: "drainNode", node: { pool: "default", index: 1 } },
      { type: "slowImagePulls", pullMs: 45_000, forMs: 60_000 },
      { type: "slowImagePulls", pullMs: 120_000, node: { name: "sim-default-2" } },
    ]);
    expect(scenario.quietMs).toBe(180_000);
    expect(scenario.pools[1]).toMatchObject({ name: "burst", zones: ["zone-a"], autoscale: { min: 1, max: 5 } });
    expect(scenario.platform.autoscaler).toEqual({ interval: 2_000, scaleDownUnneeded: 300_000 });
    expect((await parseScenario(`${CLUSTER}duration: 10m\n`, "s.yaml", read)).quietMs).toBe(120_000);
  });

  it("errors in the new actions and pool fields name their paths", async () => {
    expect(
      await problems(`cluster:
  pools:
    - { name: default, count: 1, cpu: 4, memory: 8Gi, autoscale: { min: 3, max: 2 } }
    - { name: b, count: 6, cpu: 4, memory: 8Gi, autoscale: { min: 1, max: 4 } }
timeline:
  - { at: 1m, drainNode: { pool: gpu } }
  - { at: 1m, drainNode: somewhere }
  - { at: 2m, slowImagePulls: { pull: forever } }
  - { at: 2m, slowImagePulls: { pull: 1s, node: { pool: gpu } } }
  - { at: 3m, drainNode: random, for: 1m }
duration: 10m
quiet: later
`),
    ).toEqual([
      "cluster.pools[0].autoscale.max: min must not exceed max",
      "cluster.pools[1].count: count must not exceed autoscale.max",
      'timeline[1].drainNode: expected "random", { name: NODE }, or { pool: POOL, index: N } (index from 1; without it, a random node of the pool)',
      "timeline[2].slowImagePulls: expected a pull duration, or { pull: DURATION, node: NODE } (every node when node is absent)",
      "timeline[4].for: for: applies to partitionNode, crashLoopImage, slowImagePulls only",
      'quiet: expected a duration like 500ms, 40s, 2m or 1h30m (a bare number counts seconds), got "later"',
    ]);
    expect(
      await problems(`${CLUSTER}duration: 10m
timeline:
  - { at: 1m, drainNode: { pool: gpu } }
  - { at: 2m, slowImagePulls: { pull: 1s, node: { pool: gpu, index: 1 } } }
`),
    ).toEqual([
      "timeline[0].drainNode.pool: no pool named gpu in cluster.pools",
      "timeline[1].slowImagePulls.node.pool: no pool named gpu in cluster.pools",
    ]);
  });

  it("a bad manifest is refused with its file, document and field path; a missing file is named", async () => {
    expect(await problems(`${CLUSTER}manifests: [typo.yaml, gone.yaml]\nduration: 1m\n`)).toEqual([
      "manifests[0] (typo.yaml document 0): spec.template.spec.containers[0].image: required",
      'manifests[0] (typo.yaml document 0): spec.template.spec.containers[0].imag: unknown field "imag"',
      "manifests[1]: cannot read gone.yaml: ENOENT: gone.yaml",
    ]);
  });
});

describe("durations", () => {
  it("parse and format both ways", () => {
    expect(["500ms", "40s", "2m", "1h30m", "1.5s", "90"].map((d) => parseDurationMs(d))).toEqual([
      500, 40_000, 120_000, 5_400_000, 1_500, 90_000,
    ]);
    expect(["", "2 m", "m", "-1s", "1x"].map((d) => parseDurationMs(d))).toEqual([
      undefined,
      undefined,
      undefined,
      undefined,
      undefined,
    ]);
    expect([0, 500, 62_000, 125_400, 3_600_000].map(formatDurationMs)).toEqual(["0s", "500ms", "1m2s", "2m5.4s", "1h"]);
  });
});

describe("recovery after a fault", () => {
  const w = (ready: number, desired = 3) => [
    { key: "Deployment/web", kind: "Deployment", namespace: "default", name: "web", desired, ready, images: [] },
  ];

  it("counts to the last return to health before the next event, not into the next fault's effects", () => {
    const m = new Metrics();
    m.observe(w(3), 0);
    m.observe(w(1), 60_000); // fault at 60 s
    m.observe(w(3), 66_000);
    m.observe(w(2), 70_000); // still the fault's doing
    m.observe(w(3), 75_000);
    m.observe(w(0), 120_000); // the next fault, at 120 s
    expect(m.recoveryAfter(60_000, 120_000, false)).toBe(15_000);
    expect(m.recoveryAfter(120_000, 180_000, true)).toBeNull();
    expect(m.recoveryAfter(30_000, 60_000, false)).toBe(0);
  });

  it("a degradation still under way when the next event comes runs on until health returns", () => {
    const m = new Metrics();
    m.observe(w(3), 0);
    m.observe(w(2), 10_000);
    m.observe(w(3), 50_000);
    expect(m.recoveryAfter(10_000, 20_000, false)).toBe(40_000);
    const series = m.series.get("Deployment/web");
    expect(series && m.minReadyShare(series, 3, 100_000)).toEqual({ share: 0.6, sinceMs: 0 });
  });
});
