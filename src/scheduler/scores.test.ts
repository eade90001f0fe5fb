import { describe, expect, it } from "vitest";
import { schedule } from "./index.js";
import { interPodAffinityScore, nodeAffinityScore, policyScore, topologySpreadScore } from "./scores.js";
import { HOSTNAME, node, placed, pod, scoresOf, term, ZONE, zoned } from "./testkit.js";
import type { Affinity, PlacedPod } from "./types.js";

describe("policy score", () => {
  const nodes = [node("busy", { allocatedCpuMillis: 3000 }), node("idle")];

  it("spread prefers the node left emptiest", () => {
    const scores = scoresOf(policyScore("spread"), pod("p", { cpuMillis: 500 }), nodes);
    expect(scores?.idle).toBeGreaterThan(scores?.busy ?? 100);
  });

  it("binpack prefers the node left fullest", () => {
    const scores = scoresOf(policyScore("binpack"), pod("p", { cpuMillis: 500 }), nodes);
    expect(scores?.busy).toBeGreaterThan(scores?.idle ?? 100);
  });
});

describe("nodeAffinityScore (preferred)", () => {
  it("adds the weights of the preferred terms a node matches, scaled so the best scores 100", () => {
    const nodes = [
      node("ssd-fast", { labels: { disk: "ssd", net: "fast" } }),
      node("ssd", { labels: { disk: "ssd" } }),
      node("plain", { labels: {} }),
    ];
    const affinity: Affinity = {
      nodeAffinity: {
        preferredDuringSchedulingIgnoredDuringExecution: [
          { weight: 80, preference: { matchExpressions: [{ key: "disk", operator: "In", values: ["ssd"] }] } },
          { weight: 20, preference: { matchExpressions: [{ key: "net", operator: "Exists" }] } },
        ],
      },
    };
    expect(scoresOf(nodeAffinityScore, pod("p", { affinity }), nodes)).toEqual({ "ssd-fast": 100, ssd: 80, plain: 0 });
    expect(scoresOf(nodeAffinityScore, pod("p"), nodes)).toBeUndefined();
  });

  it("places the pod on the preferred node even when it is a little busier", () => {
    const busier = { labels: { disk: "ssd" }, allocatedCpuMillis: 500 };
    const nodes = [node("a", { labels: {} }), node("b", busier), node("c", { labels: {} })];
    const affinity: Affinity = {
      nodeAffinity: {
        preferredDuringSchedulingIgnoredDuringExecution: [
          { weight: 1, preference: { matchExpressions: [{ key: "disk", operator: "In", values: ["ssd"] }] } },
        ],
      },
    };
    expect(schedule(pod("p", { affinity }), nodes)).toMatchObject({ ok: true, nodeName: "b" });
  });
});

describe("interPodAffinityScore (preferred, and the placed pods' terms)", () => {
  const nodes = [zoned("a1", "a"), zoned("a2", "a"), zoned("b1", "b")];
  const prefer = (kind: "podAffinity" | "podAntiAffinity", topologyKey: string, weight = 100): Affinity => ({
    [kind]: {
      preferredDuringSchedulingIgnoredDuringExecution: [{ weight, podAffinityTerm: term({ app: "db" }, topologyKey) }],
    },
  });
  const db = [placed("a1", { app: "db" })];

  it("preferred affinity draws the pod into the domain of a matching pod", () => {
    expect(scoresOf(interPodAffinityScore, pod("p", { affinity: prefer("podAffinity", ZONE) }), nodes, db)).toEqual({
      a1: 100,
      a2: 100,
      b1: 0,
    });
  });

  it("preferred anti-affinity pushes the pod out of the domain of a matching pod", () => {
    const affinity = prefer("podAntiAffinity", HOSTNAME);
    expect(scoresOf(interPodAffinityScore, pod("p", { affinity }), nodes, db)).toEqual({ a1: 0, a2: 100, b1: 100 });
  });

  it("a placed pod's preferred anti-affinity repels a pod it selects, even one without terms of its own", () => {
    const shy: PlacedPod = placed(
      "b1",
      { app: "cache" },
      {
        affinity: {
          podAntiAffinity: {
            preferredDuringSchedulingIgnoredDuringExecution: [
              { weight: 50, podAffinityTerm: term({ app: "web" }, ZONE) },
            ],
          },
        },
      },
    );
    expect(scoresOf(interPodAffinityScore, pod("p", { labels: { app: "web" } }), nodes, [shy])).toEqual({
      a1: 100,
      a2: 100,
      b1: 0,
    });
    expect(scoresOf(interPodAffinityScore, pod("p", { labels: { app: "api" } }), nodes, [shy])).toBeUndefined();
  });

  it("spreads replicas over hosts with a preferred anti-affinity on hostname", () => {
    const many = Array.from({ length: 4 }, (_, i) => node(`n${i}`));
    const affinity: Affinity = {
      podAntiAffinity: {
        preferredDuringSchedulingIgnoredDuringExecution: [{ weight: 100, podAffinityTerm: term({ app: "web" }) }],
      },
    };
    const running: PlacedPod[] = [];
    for (let i = 0; i < 4; i++) {
      const r = schedule(pod(`web-${i}`, { labels: { app: "web" }, affinity }), many, {
        policy: "binpack",
        placed: running,
      });
      if (!r.ok) throw new Error(r.tenantMessage);
      running.push(placed(r.nodeName, { app: "web" }, { affinity }));
    }
    expect(new Set(running.map((p) => p.nodeName)).size).toBe(4);
  });
});

describe("topologySpreadScore (ScheduleAnyway)", () => {
  it("prefers the domain with fewer matching pods, and scores a node without the key 0", () => {
    const nodes = [zoned("a1", "a"), zoned("b1", "b"), zoned("c1", "c"), node("x", { labels: {} })];
    const running = [placed("a1", { app: "web" }), placed("a1", { app: "web" }), placed("b1", { app: "web" })];
    const p = pod("p", {
      labels: { app: "web" },
      topologySpreadConstraints: [
        {
          maxSkew: 1,
          topologyKey: ZONE,
          whenUnsatisfiable: "ScheduleAnyway",
          labelSelector: { matchLabels: { app: "web" } },
        },
      ],
    });
    const scores = scoresOf(topologySpreadScore, p, nodes, running);
    expect(scores?.c1).toBe(100);
    expect(scores?.b1).toBeGreaterThan(scores?.a1 ?? 100);
    expect(scores?.x).toBe(0);
    expect(scoresOf(topologySpreadScore, pod("p"), nodes, running)).toBeUndefined();
    // Unlike DoNotSchedule, the pod still goes somewhere when every domain is uneven: to the emptiest.
    expect(schedule(p, nodes, { placed: running })).toMatchObject({ ok: true, nodeName: "c1" });
  });
});
