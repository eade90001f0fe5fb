import { describe, expect, it } from "vitest";
import { schedule } from "./index.js";
import { GiB, node } from "./testkit.js";
import { type PodDemand, Reason } from "./types.js";

/** The pods of these tests have no labels and no affinity: only resources and node constraints. */
function demand(p: Omit<PodDemand, "namespace" | "labels">): PodDemand {
  return { namespace: "default", labels: {}, ...p };
}

describe("schedule", () => {
  it("places on the emptiest node under spread, and the fullest under binpack", () => {
    const nodes = [node("n1", { allocatedCpuMillis: 3000 }), node("n2", { allocatedCpuMillis: 1000 })];
    const pod = demand({ id: "pod_a", cpuMillis: 500, memoryBytes: GiB });
    expect(schedule(pod, nodes)).toMatchObject({ ok: true, nodeName: "n2" });
    expect(schedule(pod, nodes, { policy: "binpack" })).toMatchObject({ ok: true, nodeName: "n1" });
  });

  it("breaks ties with a PRNG seeded by the pod id: same pod, same node; pods spread over tied nodes", () => {
    const nodes = [node("n1"), node("n2"), node("n3")];
    const first = schedule(demand({ id: "pod_x", cpuMillis: 100, memoryBytes: 0 }), nodes);
    const again = schedule(demand({ id: "pod_x", cpuMillis: 100, memoryBytes: 0 }), [...nodes].reverse());
    expect(again).toEqual(first);
    const picks = new Set<string>();
    for (let i = 0; i < 30; i++) {
      const r = schedule(demand({ id: `pod_${i}`, cpuMillis: 100, memoryBytes: 0 }), nodes);
      if (r.ok) picks.add(r.nodeName);
    }
    expect(picks.size).toBe(3);
  });

  it("never places on a node that is not ready, cordoned, full, or lacks the selected labels", () => {
    const nodes = [
      node("down", { ready: false }),
      node("cordoned", { unschedulable: true }),
      node("full", { allocatedPods: 110 }),
      node("other-pool", { labels: { pool: "b" } }),
      node("ok", { labels: { pool: "a" } }),
    ];
    const r = schedule(demand({ id: "p", cpuMillis: 100, memoryBytes: 0, nodeSelector: { pool: "a" } }), nodes);
    expect(r).toMatchObject({ ok: true, nodeName: "ok" });
  });

  it("explains a pod that fits nowhere with every failing constraint, in resources, naming no node and no count", () => {
    const nodes = [
      node("sim-a-1", { allocatedCpuMillis: 3500 }),
      node("sim-a-2", { allocatedMemoryBytes: 7.5 * GiB }),
      node("sim-a-3", { ready: false }),
    ];
    const r = schedule(demand({ id: "p", cpuMillis: 1000, memoryBytes: 4 * GiB }), nodes);
    expect(r.ok).toBe(false);
    if (r.ok) return;
    const reasons = r.constraints.map((c) => c.reason);
    expect(reasons).toEqual(
      expect.arrayContaining([Reason.InsufficientCpu, Reason.InsufficientMemory, Reason.NodeNotReady]),
    );
    expect(r.tenantMessage).toContain("insufficient cpu");
    expect(r.tenantMessage).toContain("insufficient memory");
    expect(r.tenantMessage).toContain("lower memory request to ≤ 512 MiB");
    expect(r.tenantMessage).toContain("lower cpu request to ≤ 500m CPU");
    expect(r.tenantMessage).not.toMatch(/sim-a|\d+\s*nodes?\b|\d+\s*\/\s*\d+/);
    expect(r.operator.find((o) => o.reason === Reason.InsufficientCpu)?.nodes).toEqual(["sim-a-1"]);
  });

  it("asks for more capacity when no node could take the pod by lowering one request", () => {
    const r = schedule(demand({ id: "p", cpuMillis: 16_000, memoryBytes: 64 * GiB }), [node("n1"), node("n2")]);
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.tenantMessage).toContain("the platform needs more capacity of this shape");
  });

  it("places a pod with a local volume only where the volume lives, and explains the wait without naming it", () => {
    const nodes = [node("n1"), node("n2", { allocatedCpuMillis: 3900 })];
    const pod = demand({ id: "p", cpuMillis: 500, memoryBytes: 0, requiredNodes: [{ node: "n2", why: "volume" }] });
    const r = schedule(pod, nodes);
    expect(r.ok).toBe(false);
    if (r.ok) return;
    expect(r.constraints.map((c) => c.reason).sort()).toEqual([Reason.InsufficientCpu, Reason.VolumeElsewhere].sort());
    expect(r.tenantMessage).toContain("lower cpu request to ≤ 100m CPU");
    expect(r.tenantMessage).not.toMatch(/n1|n2/);
    expect(schedule({ ...pod, cpuMillis: 100 }, nodes)).toMatchObject({ ok: true, nodeName: "n2" });
    expect(schedule({ ...pod, requiredNodes: [{ node: "n1", why: "pinned" as const }] }, nodes)).toMatchObject({
      ok: true,
      nodeName: "n1",
    });
  });
});
