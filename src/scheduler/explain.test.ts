import { describe, expect, it } from "vitest";
import { explainUnschedulable, schedule } from "./index.js";
import { GiB, node, placed, pod, term, ZONE } from "./testkit.js";
import {
  type Affinity,
  type NodeView,
  type PlacedPod,
  type PodDemand,
  Reason,
  type TopologySpreadConstraint,
} from "./types.js";

function host(name: string, zone: string, labels: Record<string, string>, over: Partial<NodeView> = {}): NodeView {
  return node(name, { labels: { [ZONE]: zone, "kubernetes.io/hostname": name, ...labels }, ...over });
}

const ssdOnly: Affinity["nodeAffinity"] = {
  requiredDuringSchedulingIgnoredDuringExecution: {
    nodeSelectorTerms: [{ matchExpressions: [{ key: "disk", operator: "In", values: ["ssd"] }] }],
  },
};
const notWithWeb: Affinity["podAntiAffinity"] = {
  requiredDuringSchedulingIgnoredDuringExecution: [term({ app: "web" })],
};
const zoneSpread: TopologySpreadConstraint = {
  maxSkew: 1,
  topologyKey: ZONE,
  whenUnsatisfiable: "DoNotSchedule",
  labelSelector: { matchLabels: { app: "web" } },
};
const web = { app: "web" };

interface Case {
  name: string;
  nodes: NodeView[];
  placed: PlacedPod[];
  pod: PodDemand;
  /** Every reason that rules out some node, and nothing else. */
  reasons: Reason[];
  /** Phrases the tenant message must contain. */
  says: string[];
}

const cases: Case[] = [
  {
    name: "resources and node affinity",
    nodes: [host("sim-a-1", "a", { disk: "ssd" }, { allocatedCpuMillis: 3500 }), host("sim-a-2", "a", { disk: "hdd" })],
    placed: [],
    pod: pod("p", { cpuMillis: 1000, affinity: { nodeAffinity: ssdOnly } }),
    reasons: [Reason.InsufficientCpu, Reason.NodeAffinityMismatch],
    says: ["lower cpu request to ≤ 500m CPU", "relax the required node affinity on disk=ssd"],
  },
  {
    name: "memory and pod anti-affinity",
    nodes: [host("sim-a-1", "a", {}), host("sim-b-1", "b", {}, { allocatedMemoryBytes: 4.5 * GiB })],
    placed: [placed("sim-a-1", web)],
    pod: pod("p", { labels: web, memoryBytes: 4 * GiB, affinity: { podAntiAffinity: notWithWeb } }),
    reasons: [Reason.PodAntiAffinity, Reason.InsufficientMemory],
    says: [
      "lower memory request to ≤ 3.5 GiB",
      "relax the required anti-affinity on app=web (topology kubernetes.io/hostname)",
    ],
  },
  {
    name: "pod anti-affinity and topology spread",
    nodes: [host("sim-a-1", "a", {}), host("sim-a-2", "a", {}), host("sim-b-1", "b", {})],
    placed: [placed("sim-a-1", web), placed("sim-a-1", web), placed("sim-b-1", web)],
    pod: pod("p", { labels: web, affinity: { podAntiAffinity: notWithWeb }, topologySpreadConstraints: [zoneSpread] }),
    reasons: [Reason.PodAntiAffinity, Reason.TopologySpread],
    says: [
      "relax the required anti-affinity on app=web (topology kubernetes.io/hostname)",
      "relax the spread constraint on topology.kubernetes.io/zone (maxSkew 1): maxSkew 2",
    ],
  },
  {
    name: "resources, node affinity, pod anti-affinity and spread together",
    nodes: [
      host("sim-a-1", "a", { disk: "ssd" }, { allocatedCpuMillis: 3900 }),
      host("sim-a-2", "a", { disk: "hdd" }),
      host("sim-a-3", "a", { disk: "ssd" }, { allocatedMemoryBytes: 8 * GiB }),
      host("sim-b-1", "b", { disk: "ssd" }),
      host("sim-c-1", "c", { disk: "ssd" }),
      host("sim-c-2", "c", { disk: "ssd" }, { unschedulable: true }),
    ],
    placed: [placed("sim-b-1", web), placed("sim-c-2", web), placed("sim-c-2", web)],
    pod: pod("p", {
      labels: web,
      cpuMillis: 500,
      memoryBytes: GiB,
      affinity: { nodeAffinity: ssdOnly, podAntiAffinity: notWithWeb },
      topologySpreadConstraints: [zoneSpread],
    }),
    reasons: [
      Reason.NodeCordoned,
      Reason.InsufficientCpu,
      Reason.InsufficientMemory,
      Reason.NodeAffinityMismatch,
      Reason.PodAntiAffinity,
      Reason.TopologySpread,
    ],
    says: [
      "lower cpu request to ≤ 100m CPU",
      "relax the required node affinity on disk=ssd",
      "relax the required anti-affinity on app=web (topology kubernetes.io/hostname)",
      "relax the spread constraint on topology.kubernetes.io/zone (maxSkew 1)",
      "no capacity available",
    ],
  },
  {
    name: "placed pods' anti-affinity, pod affinity and the node selector",
    nodes: [host("sim-a-1", "a", { pool: "x" }), host("sim-b-1", "b", { pool: "y" })],
    placed: [
      placed(
        "sim-a-1",
        { app: "db" },
        { affinity: { podAntiAffinity: { requiredDuringSchedulingIgnoredDuringExecution: [term(web, ZONE)] } } },
      ),
    ],
    pod: pod("p", {
      labels: web,
      nodeSelector: { pool: "x" },
      affinity: { podAffinity: { requiredDuringSchedulingIgnoredDuringExecution: [term({ app: "cache" })] } },
    }),
    reasons: [Reason.NodeSelectorMismatch, Reason.PodAffinityMismatch, Reason.ExistingPodAntiAffinity],
    says: [
      "relax the node selector on pool=x",
      "relax the required pod affinity on app=cache (topology kubernetes.io/hostname)",
      "pods already running hold a required anti-affinity on app=web (topology topology.kubernetes.io/zone)",
    ],
  },
];

describe("why pending", () => {
  it.each(cases)("$name: lists every failing constraint, in tenant terms", (c) => {
    const result = schedule(c.pod, c.nodes, { placed: c.placed });
    expect(result.ok).toBe(false);
    if (result.ok) return;
    expect(new Set(result.constraints.map((x) => x.reason))).toEqual(new Set(c.reasons));
    expect(new Set(result.operator.map((x) => x.reason))).toEqual(new Set(c.reasons));
    for (const phrase of c.says) expect(result.tenantMessage).toContain(phrase);
    for (const n of c.nodes) expect(result.tenantMessage).not.toContain(n.name);
    expect(result.tenantMessage).not.toMatch(/\d+\s*nodes?\b|\d+\s*\/\s*\d+/);
    for (const constraint of result.constraints) expect(constraint.suggestion).not.toMatch(/sim-/);
    // The operator's view names the nodes each reason ruled out, and together they cover every node.
    const named = new Set(result.operator.flatMap((x) => x.nodes));
    expect(named).toEqual(new Set(c.nodes.map((n) => n.name)));
  });

  it("says whether relaxing one constraint is enough or others must change too", () => {
    // Each node fails two constraints: no single relaxation helps, and the text says so.
    const nodes = [host("sim-a-1", "a", { disk: "hdd" }), host("sim-b-1", "b", { disk: "hdd" })];
    const p = pod("p", { labels: web, affinity: { nodeAffinity: ssdOnly, podAntiAffinity: notWithWeb } });
    const r = explainUnschedulable(p, nodes, { placed: [placed("sim-a-1", web), placed("sim-b-1", web)] });
    expect(r.constraints).toEqual([
      {
        reason: Reason.NodeAffinityMismatch,
        suggestion: "relax the required node affinity on disk=ssd, together with the other changes listed",
      },
      {
        reason: Reason.PodAntiAffinity,
        suggestion:
          "relax the required anti-affinity on app=web (topology kubernetes.io/hostname), together with the other changes listed",
      },
    ]);
  });

  it("names the shape that would fit when the pod is short of both cpu and memory everywhere", () => {
    const r = explainUnschedulable(pod("p", { cpuMillis: 6000, memoryBytes: 12 * GiB }), [
      node("sim-a-1", { allocatedCpuMillis: 1000, allocatedMemoryBytes: 2 * GiB }),
    ]);
    expect(r.tenantMessage).toContain("lower the requests to ≤ 3 CPU and ≤ 6 GiB together");
  });
});
