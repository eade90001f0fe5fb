import { describe, expect, it } from "vitest";
import { fateOnSilentNode, isFenced, type MonitoredNode, monitorNodes } from "./nodeLifecycle.js";

const NOW = 100_000;
const node = (name: string, secondsSilent: number, pods = 2, ready = true): MonitoredNode => ({
  name,
  ready,
  lastHeartbeatAt: NOW - secondsSilent * 1000,
  pods,
});
const base = { nowMs: NOW, gracePeriodMs: 5_000, lastLookMs: NOW - 1_000, healthySinceMs: 0 };

describe("monitorNodes", () => {
  it("marks a node silent for longer than the grace period NotReady and declares its pods lost", () => {
    const decision = monitorNodes({ ...base, nodes: [node("a", 1), node("b", 6), node("c", 2)] });
    expect(decision).toEqual({ notReady: ["b"], evict: ["b"] });
  });

  it("leaves a node within its grace period alone, and has nothing to declare for an empty NotReady node", () => {
    expect(monitorNodes({ ...base, nodes: [node("a", 4.9), node("b", 9, 0, false), node("c", 0)] })).toEqual({
      notReady: [],
      evict: [],
    });
  });

  it("does nothing after its own stall, nor while heartbeats have only just recovered", () => {
    const nodes = [node("a", 1), node("b", 60), node("c", 1)];
    expect(monitorNodes({ ...base, nodes, lastLookMs: NOW - 30_000 }).holdingBack).toBe("monitor-stalled");
    expect(monitorNodes({ ...base, nodes, healthySinceMs: NOW - 2_000 }).holdingBack).toBe("heartbeats-recovering");
  });

  it("slows down when most nodes are silent, and stops when all are", () => {
    const most = monitorNodes({ ...base, nodes: [node("a", 9), node("b", 9), node("c", 9), node("d", 1)] });
    expect(most.notReady).toEqual(["a", "b", "c"]);
    expect(most.evict).toEqual(["a"]);
    const all = monitorNodes({ ...base, nodes: [node("a", 9), node("b", 9), node("c", 9)] });
    expect(all).toEqual({ notReady: ["a", "b", "c"], evict: [], holdingBack: "all-nodes-silent" });
  });
});

describe("fateOnSilentNode", () => {
  const pod = (ownerKind: string | null, volumes: object[] = []) => ({
    ownerKind,
    spec: { containers: [], volumes },
    phase: "Running",
    status: {},
  });

  it("declares a replaceable pod lost, and fences a StatefulSet replica or a pod with a claim", () => {
    expect(fateOnSilentNode(pod("ReplicaSet"))).toBe("lost");
    expect(fateOnSilentNode(pod(null, [{ name: "c", configMap: { name: "c" } }]))).toBe("lost");
    expect(fateOnSilentNode(pod("StatefulSet"))).toBe("fenced");
    expect(fateOnSilentNode(pod("ReplicaSet", [{ name: "d", persistentVolumeClaim: { claimName: "d" } }]))).toBe(
      "fenced",
    );
  });

  it("knows a pod it has fenced already", () => {
    expect(isFenced({ ...pod("StatefulSet"), phase: "Unknown", status: { reason: "NodeLost" } })).toBe(true);
    expect(isFenced({ ...pod("StatefulSet"), phase: "Unknown", status: {} })).toBe(false);
    expect(isFenced(pod("StatefulSet"))).toBe(false);
  });
});
