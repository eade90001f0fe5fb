import { describe, expect, it } from "vitest";
import { seededRng } from "../core/rng.js";
import { ClusterIndex, numFeasibleNodesToFind, schedule } from "./index.js";
import { placed, pod, term, ZONE, zoned } from "./testkit.js";
import type { Affinity, NodeView, PlacedPod, PodDemand } from "./types.js";

const anti: Affinity = {
  podAntiAffinity: {
    preferredDuringSchedulingIgnoredDuringExecution: [{ weight: 100, podAffinityTerm: term({ app: "web" }) }],
  },
};

function cluster(count: number): NodeView[] {
  return Array.from({ length: count }, (_, i) => zoned(`n-${String(i).padStart(4, "0")}`, `z${i % 3}`));
}

/** Places pods one by one, as a worker would: bind, then update the node's allocation and the index. */
function placeAll(nodes: NodeView[], pods: PodDemand[], useIndex: boolean): string[] {
  const index = new ClusterIndex(nodes);
  const running: PlacedPod[] = [];
  const out: string[] = [];
  for (const p of pods) {
    const r = useIndex ? schedule(p, nodes, { index }) : schedule(p, nodes, { placed: running });
    if (!r.ok) {
      out.push("pending");
      continue;
    }
    out.push(r.nodeName);
    const target = nodes.find((n) => n.name === r.nodeName) as NodeView;
    target.allocatedCpuMillis += p.cpuMillis;
    target.allocatedPods += 1;
    const bound = { namespace: p.namespace, labels: p.labels, nodeName: r.nodeName, affinity: p.affinity };
    if (useIndex) index.place(bound);
    else running.push(bound);
  }
  return out;
}

describe("ClusterIndex", () => {
  it("kept up to date bind by bind, places exactly as a fresh look at every placed pod does", () => {
    const pods = Array.from({ length: 60 }, (_, i) =>
      pod(`p-${i}`, {
        labels: { app: i % 2 ? "web" : "api" },
        cpuMillis: 300,
        affinity: i % 3 ? anti : undefined,
        topologySpreadConstraints:
          i % 5 === 0
            ? [
                {
                  maxSkew: 1,
                  topologyKey: ZONE,
                  whenUnsatisfiable: "DoNotSchedule",
                  labelSelector: { matchLabels: { app: "api" } },
                },
              ]
            : undefined,
      }),
    );
    expect(placeAll(cluster(12), pods, true)).toEqual(placeAll(cluster(12), pods, false));
  });

  it("forgets a removed pod", () => {
    const nodes = cluster(2);
    const index = new ClusterIndex(nodes);
    const guard = placed(
      "n-0000",
      { app: "db" },
      {
        affinity: { podAntiAffinity: { requiredDuringSchedulingIgnoredDuringExecution: [term({ app: "web" })] } },
      },
    );
    index.place(guard);
    const p = pod("p", { labels: { app: "web" }, requiredNodes: [{ node: "n-0000", why: "pinned" }] });
    expect(schedule(p, nodes, { index }).ok).toBe(false);
    // An equal pod (not the same object) is enough to remove it, as a worker re-reading state would pass.
    expect(index.remove({ ...guard })).toBe(true);
    expect(schedule(p, nodes, { index })).toMatchObject({ ok: true, nodeName: "n-0000" });
  });

  it("refuses an index built over another node list", () => {
    const index = new ClusterIndex(cluster(2));
    expect(() => schedule(pod("p"), cluster(2), { index })).toThrow(/another node list/);
  });
});

describe("sampling", () => {
  it("finds as many feasible nodes as kube-scheduler would", () => {
    expect(numFeasibleNodesToFind(50)).toBe(50);
    expect(numFeasibleNodesToFind(1000)).toBe(420);
    expect(numFeasibleNodesToFind(5000)).toBe(500);
    expect(numFeasibleNodesToFind(5000, 5)).toBe(250);
    expect(numFeasibleNodesToFind(1000, 100)).toBe(1000);
  });

  it("is deterministic, ignores the caller's node order, and spreads pods over the whole cluster", () => {
    const nodes = cluster(1000);
    const reversed = [...nodes].reverse();
    const rng = seededRng("sampling");
    const landed = new Set<string>();
    for (let i = 0; i < 200; i++) {
      const p = pod(`p-${rng.int(1_000_000)}`);
      const r = schedule(p, nodes, { percentageOfNodesToScore: 10 });
      expect(schedule(p, reversed, { percentageOfNodesToScore: 10 })).toEqual(r);
      if (r.ok) landed.add(r.nodeName);
    }
    // With every node tied, a fixed starting point would keep choosing among the same hundred nodes.
    expect(landed.size).toBeGreaterThan(150);
  });

  it("looks at every node when the sample finds nothing, so why pending covers them all", () => {
    const nodes = cluster(400).map((n, i) => ({ ...n, allocatedCpuMillis: i === 399 ? 0 : 4000 }));
    expect(schedule(pod("p", { cpuMillis: 1000 }), nodes)).toMatchObject({ ok: true, nodeName: "n-0399" });
    const full = cluster(400).map((n) => ({ ...n, allocatedCpuMillis: 4000 }));
    const r = schedule(pod("p", { cpuMillis: 1000 }), full);
    expect(r.ok ? [] : r.operator[0]?.nodes).toHaveLength(400);
  });
});
