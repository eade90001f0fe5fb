import { describe, expect, it } from "vitest";
import { planRebalance } from "./rebalance.js";
import { node, pod, ZONE, zoned } from "./testkit.js";
import type { NodeView, PodDemand, TopologySpreadConstraint } from "./types.js";

const APP = { app: "web" };
const spread = (maxSkew: number, topologyKey = ZONE, hard = true): TopologySpreadConstraint => ({
  maxSkew,
  topologyKey,
  whenUnsatisfiable: hard ? "DoNotSchedule" : "ScheduleAnyway",
  labelSelector: { matchLabels: APP },
});

/** A workload of pods placed as `layout` says (pod index → node name), and the plan for it. */
function plan(nodes: NodeView[], layout: string[], constraint?: TopologySpreadConstraint, maxMoves = 5) {
  const demands: PodDemand[] = layout.map((_, i) =>
    pod(`web-${i}`, { labels: APP, ...(constraint ? { topologySpreadConstraints: [constraint] } : {}) }),
  );
  const pods = demands.map((demand, i) => ({ demand, nodeName: layout[i] as string }));
  const placed = pods.map((p) => ({ id: p.demand.id, namespace: "default", labels: APP, nodeName: p.nodeName }));
  return planRebalance({ nodes, placed, groups: [{ key: "web", pods }], maxMoves });
}

const threeZones = () => [zoned("a1", "a"), zoned("b1", "b"), zoned("c1", "c")];

describe("planRebalance", () => {
  it("moves one pod out of the fullest zone when the skew exceeds maxSkew (after a zone came back empty)", () => {
    const moves = plan(threeZones(), ["a1", "a1", "b1", "b1"], spread(1));
    expect(moves).toEqual([
      {
        key: "web",
        podId: "web-1",
        topologyKey: ZONE,
        from: { domain: "a", count: 2 },
        to: { domain: "c", count: 0 },
      },
    ]);
  });

  it("leaves a workload within its maxSkew alone", () => {
    expect(plan(threeZones(), ["a1", "a1", "b1", "c1"], spread(1))).toEqual([]);
    expect(plan(threeZones(), ["a1", "a1", "a1", "b1"], spread(3))).toEqual([]);
  });

  it("leaves a workload without spread constraints alone", () => {
    expect(plan(threeZones(), ["a1", "a1", "a1"])).toEqual([]);
  });

  it("honours ScheduleAnyway constraints too", () => {
    expect(plan(threeZones(), ["a1", "a1", "a1"], spread(1, ZONE, false))).toHaveLength(1);
  });

  it("does not move when no node of an emptier domain has room for the pod", () => {
    const full = { allocatedCpuMillis: 4000 };
    const nodes = [zoned("a1", "a"), zoned("b1", "b"), { ...zoned("c1", "c"), ...full }];
    // The hard constraint cannot be met while zone c is full, so no move would help.
    expect(plan(nodes, ["a1", "a1", "a1", "b1"], spread(1))).toEqual([]);
    // A soft one still gains from a move to zone b.
    expect(plan(nodes, ["a1", "a1", "a1", "b1"], spread(1, ZONE, false))).toEqual([
      expect.objectContaining({ from: { domain: "a", count: 3 }, to: { domain: "b", count: 1 } }),
    ]);
    expect(plan(nodes, ["a1", "a1", "b1", "b1"], spread(1))).toEqual([]);
  });

  it("does not count a domain whose nodes the pod may not use", () => {
    const nodes = threeZones();
    const demands = ["a1", "a1", "b1"].map((nodeName, i) => ({
      demand: pod(`web-${i}`, {
        labels: APP,
        topologySpreadConstraints: [spread(1)],
        affinity: {
          nodeAffinity: {
            requiredDuringSchedulingIgnoredDuringExecution: {
              nodeSelectorTerms: [{ matchExpressions: [{ key: ZONE, operator: "In", values: ["a", "b"] }] }],
            },
          },
        },
      }),
      nodeName,
    }));
    const placed = demands.map((p) => ({ id: p.demand.id, namespace: "default", labels: APP, nodeName: p.nodeName }));
    expect(planRebalance({ nodes, placed, groups: [{ key: "web", pods: demands }], maxMoves: 5 })).toEqual([]);
  });

  it("spreads by hostname too, and stops at maxMoves", () => {
    const nodes = [node("n1"), node("n2"), node("n3")];
    const moves = plan(nodes, ["n1", "n1", "n1", "n2"], spread(1, "kubernetes.io/hostname"));
    expect(moves).toEqual([
      expect.objectContaining({ from: { domain: "n1", count: 3 }, to: { domain: "n3", count: 0 } }),
    ]);
    expect(plan(nodes, ["n1", "n1", "n1", "n2"], spread(1, "kubernetes.io/hostname"), 0)).toEqual([]);
  });
});
