import { describe, expect, it } from "vitest";
import { reconcileDaemonSet } from "./daemonset.js";
import { testPod } from "./testkit.js";
import type { DaemonNode, DaemonSetView, PodView } from "./types.js";

const T0 = Date.UTC(2026, 0, 1);

function daemonSet(image = "agent:1", over: Partial<DaemonSetView["spec"]> = {}): DaemonSetView {
  return {
    name: "agent",
    namespace: "default",
    uid: "uid-agent",
    generation: 1,
    status: {},
    spec: {
      selector: { matchLabels: { app: "agent" } },
      template: { metadata: { labels: { app: "agent" } }, spec: { containers: [{ name: "agent", image }] } },
      ...over,
    },
  };
}

const node = (name: string, labels: Record<string, string> = {}): DaemonNode => ({ name, labels, ready: true });

class World {
  pods = new Map<string, PodView & { image: string }>();
  seq = 0;
  now = T0;
  maxUnavailableSeen = 0;
  constructor(
    public ds: DaemonSetView,
    public nodes: DaemonNode[],
  ) {}

  step(): void {
    this.now += 1000;
    for (const [id, pod] of this.pods) {
      if (pod.deleting) this.pods.delete(id);
      else if (!pod.ready) this.pods.set(id, { ...pod, ready: true, phase: "Running" });
    }
    for (const a of reconcileDaemonSet(this.ds, this.nodes, [...this.pods.values()], this.now)) {
      if (a.type === "createPod") {
        const id = `pod-${++this.seq}`;
        const spec = a.pod.spec as { nodeName: string; containers: { image: string }[] };
        const fields = { id, name: `agent-${this.seq}`, labels: a.pod.labels, templateHash: a.pod.templateHash };
        const pod = testPod({ ...fields, createdAt: this.now, nodeName: spec.nodeName });
        this.pods.set(id, { ...pod, image: spec.containers[0]?.image ?? "" });
      }
      if (a.type === "deletePod") {
        const pod = this.pods.get(a.podId);
        if (pod) this.pods.set(a.podId, { ...pod, deleting: true, ready: false });
      }
      if (a.type === "updateStatus") this.ds = { ...this.ds, status: a.status };
    }
    const ready = [...this.pods.values()].filter((p) => p.ready && !p.deleting).length;
    this.maxUnavailableSeen = Math.max(this.maxUnavailableSeen, this.nodes.length - ready);
  }

  run(n: number): void {
    for (let i = 0; i < n; i++) this.step();
  }

  perNode(): Record<string, string[]> {
    const out: Record<string, string[]> = {};
    for (const p of this.pods.values())
      if (!p.deleting) out[p.nodeName ?? "?"] = [...(out[p.nodeName ?? "?"] ?? []), p.image];
    return out;
  }
}

describe("reconcileDaemonSet", () => {
  it("runs one pod on every eligible node, pinned to it", () => {
    const world = new World(daemonSet(), [node("n1"), node("n2"), node("n3")]);
    world.run(2);
    expect(world.perNode()).toEqual({ n1: ["agent:1"], n2: ["agent:1"], n3: ["agent:1"] });
    expect(world.ds.status).toMatchObject({
      desiredNumberScheduled: 3,
      currentNumberScheduled: 3,
      numberReady: 3,
      updatedNumberScheduled: 3,
    });
  });

  it("follows a node added and a node removed", () => {
    const world = new World(daemonSet(), [node("n1"), node("n2")]);
    world.run(2);
    world.nodes = [...world.nodes, node("n3")];
    world.run(2);
    expect(Object.keys(world.perNode()).sort()).toEqual(["n1", "n2", "n3"]);
    world.nodes = world.nodes.filter((n) => n.name !== "n1");
    world.run(2);
    expect(Object.keys(world.perNode()).sort()).toEqual(["n2", "n3"]);
  });

  it("honours the template's node selector", () => {
    const ds = daemonSet("agent:1");
    ds.spec.template.spec.nodeSelector = { pool: "gpu" };
    const world = new World(ds, [node("n1", { pool: "gpu" }), node("n2", { pool: "cpu" })]);
    world.run(2);
    expect(world.perNode()).toEqual({ n1: ["agent:1"] });
  });

  it("rolls a new template node by node within maxUnavailable", () => {
    const world = new World(daemonSet("agent:1"), [node("n1"), node("n2"), node("n3"), node("n4")]);
    world.run(2);
    world.maxUnavailableSeen = 0;
    world.ds = { ...daemonSet("agent:2"), status: world.ds.status };
    world.run(12);
    expect(Object.values(world.perNode()).flat()).toEqual(["agent:2", "agent:2", "agent:2", "agent:2"]);
    expect(world.maxUnavailableSeen).toBeLessThanOrEqual(1);
  });
});
