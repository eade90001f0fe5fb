import { describe, expect, it } from "vitest";
import { ClusterIndex } from "./cluster.js";
import { podContext } from "./context.js";
import {
  BASIC_FILTERS,
  cpuFits,
  existingAntiAffinity,
  fitsBasics,
  memoryFits,
  nodeAffinity,
  nodeReady,
  nodeSelector,
  notCordoned,
  podAffinity,
  podAntiAffinity,
  podsFit,
  requiredNode,
  topologySpread,
} from "./filters.js";
import { GiB, HOSTNAME, node, placed, pod, term, verdicts, ZONE, zoned } from "./testkit.js";
import { type Affinity, type NodeSelectorTerm, Reason, type TopologySpreadConstraint } from "./types.js";

function requiredNodeAffinity(...nodeSelectorTerms: NodeSelectorTerm[]): Affinity {
  return { nodeAffinity: { requiredDuringSchedulingIgnoredDuringExecution: { nodeSelectorTerms } } };
}

describe("node filters", () => {
  it("nodeReady rules out a node that is not ready", () => {
    expect(verdicts(nodeReady, pod("p"), [node("up"), node("down", { ready: false })])).toEqual({
      up: undefined,
      down: Reason.NodeNotReady,
    });
  });

  it("notCordoned rules out a cordoned node", () => {
    expect(verdicts(notCordoned, pod("p"), [node("open"), node("closed", { unschedulable: true })])).toEqual({
      open: undefined,
      closed: Reason.NodeCordoned,
    });
  });

  it("cpuFits rules out a node without the cpu left, counting what is allocated", () => {
    const nodes = [node("roomy", { allocatedCpuMillis: 3000 }), node("tight", { allocatedCpuMillis: 3001 })];
    expect(verdicts(cpuFits, pod("p", { cpuMillis: 1000 }), nodes)).toEqual({
      roomy: undefined,
      tight: Reason.InsufficientCpu,
    });
  });

  it("memoryFits rules out a node without the memory left", () => {
    const nodes = [node("roomy", { allocatedMemoryBytes: 4 * GiB }), node("tight", { allocatedMemoryBytes: 5 * GiB })];
    expect(verdicts(memoryFits, pod("p", { memoryBytes: 4 * GiB }), nodes)).toEqual({
      roomy: undefined,
      tight: Reason.InsufficientMemory,
    });
  });

  it("podsFit rules out a node at its pod limit", () => {
    const nodes = [node("roomy", { allocatedPods: 109 }), node("full", { allocatedPods: 110 })];
    expect(verdicts(podsFit, pod("p"), nodes)).toEqual({ roomy: undefined, full: Reason.TooManyPods });
  });

  it("nodeSelector needs every selected label with its value", () => {
    const nodes = [
      node("both", { labels: { pool: "a", disk: "ssd" } }),
      node("one", { labels: { pool: "a" } }),
      node("other", { labels: { pool: "b", disk: "ssd" } }),
    ];
    expect(verdicts(nodeSelector, pod("p", { nodeSelector: { pool: "a", disk: "ssd" } }), nodes)).toEqual({
      both: undefined,
      one: Reason.NodeSelectorMismatch,
      other: Reason.NodeSelectorMismatch,
    });
  });

  it("requiredNode keeps a pinned pod or a local volume's pod on its node", () => {
    const nodes = [node("n1"), node("n2")];
    expect(verdicts(requiredNode, pod("p", { requiredNodes: [{ node: "n2", why: "volume" }] }), nodes)).toEqual({
      n1: Reason.VolumeElsewhere,
      n2: undefined,
    });
    expect(verdicts(requiredNode, pod("p", { requiredNodes: [{ node: "n1", why: "pinned" }] }), nodes)).toEqual({
      n1: undefined,
      n2: Reason.PinnedElsewhere,
    });
  });
});

describe("fitsBasics", () => {
  it("agrees with the five filters it fuses, node by node", () => {
    const nodes = [
      node("ok"),
      node("down", { ready: false }),
      node("cordoned", { unschedulable: true }),
      node("cpu", { allocatedCpuMillis: 3950 }),
      node("memory", { allocatedMemoryBytes: 8 * GiB }),
      node("pods", { allocatedPods: 110 }),
      node("exact", { allocatedCpuMillis: 3900, allocatedMemoryBytes: 7 * GiB, allocatedPods: 109 }),
    ];
    const p = pod("p", { cpuMillis: 100, memoryBytes: GiB });
    const ctx = podContext(p, new ClusterIndex(nodes));
    const fused = nodes.map((n) => fitsBasics(ctx, n));
    const separate = nodes.map((n, slot) => BASIC_FILTERS.every((f) => f.check(ctx, n, slot) === undefined));
    expect(fused).toEqual(separate);
    expect(fused).toEqual([true, false, false, false, false, false, true]);
  });
});

describe("nodeAffinity (required)", () => {
  const nodes = [
    node("ssd-big", { labels: { disk: "ssd", cpus: "16" } }),
    node("ssd-small", { labels: { disk: "ssd", cpus: "4" } }),
    node("hdd", { labels: { disk: "hdd", cpus: "16", legacy: "true" } }),
    node("bare", { labels: {} }),
  ];
  const check = (affinity: Affinity) => verdicts(nodeAffinity, pod("p", { affinity }), nodes);
  const passing = (affinity: Affinity) =>
    Object.entries(check(affinity))
      .filter(([, reason]) => reason === undefined)
      .map(([name]) => name);

  it("ANDs the expressions of a term, with In, NotIn, Exists, DoesNotExist, Gt and Lt", () => {
    expect(
      passing(requiredNodeAffinity({ matchExpressions: [{ key: "disk", operator: "In", values: ["ssd"] }] })),
    ).toEqual(["ssd-big", "ssd-small"]);
    expect(
      passing(requiredNodeAffinity({ matchExpressions: [{ key: "disk", operator: "NotIn", values: ["ssd"] }] })),
    ).toEqual(["hdd", "bare"]);
    expect(passing(requiredNodeAffinity({ matchExpressions: [{ key: "legacy", operator: "Exists" }] }))).toEqual([
      "hdd",
    ]);
    expect(passing(requiredNodeAffinity({ matchExpressions: [{ key: "disk", operator: "DoesNotExist" }] }))).toEqual([
      "bare",
    ]);
    expect(
      passing(requiredNodeAffinity({ matchExpressions: [{ key: "cpus", operator: "Gt", values: ["8"] }] })),
    ).toEqual(["ssd-big", "hdd"]);
    expect(
      passing(requiredNodeAffinity({ matchExpressions: [{ key: "cpus", operator: "Lt", values: ["8"] }] })),
    ).toEqual(["ssd-small"]);
    const both = requiredNodeAffinity({
      matchExpressions: [
        { key: "disk", operator: "In", values: ["ssd"] },
        { key: "cpus", operator: "Gt", values: ["8"] },
      ],
    });
    expect(check(both)).toEqual({
      "ssd-big": undefined,
      "ssd-small": Reason.NodeAffinityMismatch,
      hdd: Reason.NodeAffinityMismatch,
      bare: Reason.NodeAffinityMismatch,
    });
  });

  it("ORs the terms; an empty term matches nothing; matchFields sees metadata.name", () => {
    const either = requiredNodeAffinity(
      { matchExpressions: [{ key: "legacy", operator: "Exists" }] },
      { matchFields: [{ key: "metadata.name", operator: "In", values: ["bare"] }] },
    );
    expect(passing(either)).toEqual(["hdd", "bare"]);
    expect(passing(requiredNodeAffinity({}))).toEqual([]);
  });

  it("does not match Gt/Lt against a value that is not an integer", () => {
    const odd = [node("odd", { labels: { cpus: "many" } })];
    const affinity = requiredNodeAffinity({ matchExpressions: [{ key: "cpus", operator: "Gt", values: ["1"] }] });
    expect(verdicts(nodeAffinity, pod("p", { affinity }), odd)).toEqual({ odd: Reason.NodeAffinityMismatch });
  });
});

describe("podAntiAffinity (required)", () => {
  const nodes = [zoned("a1", "a"), zoned("a2", "a"), zoned("b1", "b")];
  const anti = (t = term({ app: "web" })): Affinity => ({
    podAntiAffinity: { requiredDuringSchedulingIgnoredDuringExecution: [t] },
  });

  it("keeps the pod off a host that runs a matching pod", () => {
    const web = pod("p", { labels: { app: "web" }, affinity: anti() });
    expect(verdicts(podAntiAffinity, web, nodes, [placed("a1", { app: "web" })])).toEqual({
      a1: Reason.PodAntiAffinity,
      a2: undefined,
      b1: undefined,
    });
  });

  it("keeps the pod out of the whole zone with a zone topology key", () => {
    const web = pod("p", { affinity: anti(term({ app: "web" }, ZONE)) });
    expect(verdicts(podAntiAffinity, web, nodes, [placed("a1", { app: "web" })])).toEqual({
      a1: Reason.PodAntiAffinity,
      a2: Reason.PodAntiAffinity,
      b1: undefined,
    });
  });

  it("looks only in the pod's namespace unless the term names others", () => {
    const elsewhere = [placed("a1", { app: "web" }, { namespace: "other" })];
    expect(verdicts(podAntiAffinity, pod("p", { affinity: anti() }), nodes, elsewhere).a1).toBeUndefined();
    const named = anti({ ...term({ app: "web" }), namespaces: ["other"] });
    expect(verdicts(podAntiAffinity, pod("p", { affinity: named }), nodes, elsewhere).a1).toBe(Reason.PodAntiAffinity);
    const all = anti({ ...term({ app: "web" }), namespaceSelector: {} });
    expect(verdicts(podAntiAffinity, pod("p", { affinity: all }), nodes, elsewhere).a1).toBe(Reason.PodAntiAffinity);
  });

  it("selects nothing without a label selector", () => {
    const bare = anti({ topologyKey: HOSTNAME });
    expect(verdicts(podAntiAffinity, pod("p", { affinity: bare }), nodes, [placed("a1", { app: "web" })]).a1).toBe(
      undefined,
    );
  });
});

describe("existingAntiAffinity (the symmetric half)", () => {
  it("keeps a pod away from placed pods whose required anti-affinity selects it", () => {
    const nodes = [zoned("a1", "a"), zoned("a2", "a"), zoned("b1", "b")];
    const guard = placed(
      "a1",
      { app: "db" },
      {
        affinity: { podAntiAffinity: { requiredDuringSchedulingIgnoredDuringExecution: [term({ app: "web" }, ZONE)] } },
      },
    );
    expect(verdicts(existingAntiAffinity, pod("p", { labels: { app: "web" } }), nodes, [guard])).toEqual({
      a1: Reason.ExistingPodAntiAffinity,
      a2: Reason.ExistingPodAntiAffinity,
      b1: undefined,
    });
    expect(verdicts(existingAntiAffinity, pod("p", { labels: { app: "api" } }), nodes, [guard]).a1).toBeUndefined();
  });
});

describe("podAffinity (required)", () => {
  const nodes = [zoned("a1", "a"), zoned("a2", "a"), zoned("b1", "b")];
  const near = (t = term({ app: "db" }, ZONE)): Affinity => ({
    podAffinity: { requiredDuringSchedulingIgnoredDuringExecution: [t] },
  });

  it("places the pod only in a domain that runs a matching pod", () => {
    expect(verdicts(podAffinity, pod("p", { affinity: near() }), nodes, [placed("a2", { app: "db" })])).toEqual({
      a1: undefined,
      a2: undefined,
      b1: Reason.PodAffinityMismatch,
    });
  });

  it("lets the first of a group that selects itself go anywhere, and nobody else", () => {
    const self = pod("p", { labels: { app: "db" }, affinity: near() });
    expect(Object.values(verdicts(podAffinity, self, nodes))).toEqual([undefined, undefined, undefined]);
    const stranger = pod("p", { labels: { app: "web" }, affinity: near() });
    expect(Object.values(verdicts(podAffinity, stranger, nodes))).toEqual([
      Reason.PodAffinityMismatch,
      Reason.PodAffinityMismatch,
      Reason.PodAffinityMismatch,
    ]);
  });

  it("rules out a node without the topology key", () => {
    const unlabelled = [...nodes, node("x", { labels: {} })];
    const rack = near(term({ app: "db" }, "rack"));
    const withRack = [zoned("r1", "a", { rack: "1" })];
    expect(
      verdicts(podAffinity, pod("p", { affinity: rack }), [...unlabelled, ...withRack], [placed("r1", { app: "db" })]),
    ).toEqual({
      a1: Reason.PodAffinityMismatch,
      a2: Reason.PodAffinityMismatch,
      b1: Reason.PodAffinityMismatch,
      x: Reason.PodAffinityMismatch,
      r1: undefined,
    });
  });
});

describe("topologySpread (DoNotSchedule)", () => {
  const nodes = [zoned("a1", "a"), zoned("b1", "b"), zoned("c1", "c")];
  const spread = (over: Partial<TopologySpreadConstraint> = {}): TopologySpreadConstraint => ({
    maxSkew: 1,
    topologyKey: ZONE,
    whenUnsatisfiable: "DoNotSchedule",
    labelSelector: { matchLabels: { app: "web" } },
    ...over,
  });
  const web = (c: TopologySpreadConstraint, over = {}) =>
    pod("p", { labels: { app: "web" }, topologySpreadConstraints: [c], ...over });

  it("rules out a domain that would exceed maxSkew over the emptiest one", () => {
    const running = [placed("a1", { app: "web" }), placed("b1", { app: "web" })];
    expect(verdicts(topologySpread, web(spread()), nodes, running)).toEqual({
      a1: Reason.TopologySpread,
      b1: Reason.TopologySpread,
      c1: undefined,
    });
    expect(verdicts(topologySpread, web(spread({ maxSkew: 2 })), nodes, running).a1).toBeUndefined();
  });

  it("counts with minDomains: fewer domains than asked make the minimum zero", () => {
    const running = [placed("a1", { app: "web" }), placed("b1", { app: "web" }), placed("c1", { app: "web" })];
    expect(verdicts(topologySpread, web(spread()), nodes, running).a1).toBeUndefined();
    expect(verdicts(topologySpread, web(spread({ minDomains: 4 })), nodes, running).a1).toBe(Reason.TopologySpread);
  });

  it("adds the pod's own values for matchLabelKeys to the selector", () => {
    const running = [placed("a1", { app: "web", rev: "1" }), placed("a1", { app: "web", rev: "1" })];
    const byRevision = spread({ matchLabelKeys: ["rev"] });
    // The old revision's pods do not count against the new one's spread.
    expect(verdicts(topologySpread, web(byRevision, { labels: { app: "web", rev: "2" } }), nodes, running).a1).toBe(
      undefined,
    );
    expect(verdicts(topologySpread, web(byRevision, { labels: { app: "web", rev: "1" } }), nodes, running).a1).toBe(
      Reason.TopologySpread,
    );
  });

  it("rules out a node without the key, and counts only domains of nodes the pod may use", () => {
    const more = [...nodes, node("x", { labels: {} })];
    const running = [placed("a1", { app: "web" }), placed("b1", { app: "web" })];
    const inAB = requiredNodeAffinity({ matchExpressions: [{ key: ZONE, operator: "In", values: ["a", "b"] }] });
    // Zone c is not a domain for a pod that may not go there: a and b hold one each, so a third in a is skew 1.
    const honor = verdicts(topologySpread, web(spread(), { affinity: inAB }), more, running);
    expect(honor.a1).toBeUndefined();
    expect(honor.x).toBe(Reason.TopologySpread);
    // With nodeAffinityPolicy Ignore, the empty zone c counts, and a would be two ahead of it.
    const ignore = verdicts(
      topologySpread,
      web(spread({ nodeAffinityPolicy: "Ignore" }), { affinity: inAB }),
      more,
      running,
    );
    expect(ignore.a1).toBe(Reason.TopologySpread);
  });
});
