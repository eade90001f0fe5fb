import { describe, expect, it } from "vitest";
import { ManualClock } from "../../core/clock.js";
import { seededRng } from "../../core/rng.js";
import type { ObservedPod, PodRuntimeSpec, ProviderEvent } from "../types.js";
import { behaviourOf, repositoryOf } from "./behaviour.js";
import { type ImageBehaviour, SimulatedProvider } from "./index.js";

const NODE = "sim-default-1";
const http = { httpGet: { path: "/healthz", port: 80 } };

function setup(images: Record<string, ImageBehaviour> = {}, seed = "sim") {
  const clock = new ManualClock(0);
  const provider = new SimulatedProvider({
    clock,
    rng: seededRng(seed),
    startLatencyMs: { min: 10, max: 10 },
    pools: [{ name: "default", count: 2, cpuMillis: 4000, memoryBytes: 8 * 2 ** 30 }],
    images,
  });
  const events: ProviderEvent[] = [];
  provider.subscribe((e) => events.push(e));
  const pods = () => events.filter((e): e is { type: "pod"; pod: ObservedPod } => e.type === "pod").map((e) => e.pod);
  const last = () => pods().at(-1) as ObservedPod;
  return { clock, provider, events, pods, last };
}

function pod(image: string, id = "pod_1", node = NODE): PodRuntimeSpec {
  return {
    podId: id,
    uid: "u",
    tenantId: "t",
    namespace: "default",
    name: id,
    nodeName: node,
    spec: { containers: [{ name: "web", image }] },
  };
}

describe("image behaviours", () => {
  it("are found by exact image, then by repository without tag or digest, then `*`", () => {
    const images = new Map<string, ImageBehaviour>([
      ["web:bad", { readiness: "fail" }],
      ["web", { crashAfterMs: 5 }],
      ["*", { liveness: "fail" }],
    ]);
    expect(behaviourOf(images, "web:bad")).toEqual({ readiness: "fail" });
    expect(behaviourOf(images, "web:1.2")).toEqual({ crashAfterMs: 5 });
    expect(behaviourOf(images, "web@sha256:abc")).toEqual({ crashAfterMs: 5 });
    expect(behaviourOf(images, "nginx:1.27")).toEqual({ liveness: "fail" });
    expect(behaviourOf(new Map(), "nginx")).toEqual({});
    expect(repositoryOf("registry:5000/team/web:1.2")).toBe("registry:5000/team/web");
    expect(repositoryOf("registry:5000/team/web")).toBe("registry:5000/team/web");
  });
});

describe("SimulatedProvider", () => {
  it("runs a pod's containers after the start latency, passing every probe by default", async () => {
    const { clock, provider, last } = setup();
    await provider.startPod(pod("nginx:1.27"));
    expect(last().containers[0]?.state).toEqual({ waiting: { reason: "ContainerCreating" } });
    clock.advance(10);
    expect(last()).toMatchObject({ phase: "Running", containers: [{ containerID: expect.any(String) }] });
    expect(last().containers[0]?.state).toEqual({ running: { startedAt: new Date(10).toISOString() } });
    for (const kind of ["readiness", "liveness", "startup"] as const) {
      expect(await provider.probe(NODE, "pod_1", "web", kind, http)).toEqual({ ok: true });
    }
    // Starting it again changes nothing but reports its state again, for a resync to re-learn.
    const before = last();
    await provider.startPod(pod("nginx:1.27"));
    expect(last()).toEqual(before);
    expect(last()).not.toBe(before);
  });

  it("fails the probes an image is told to fail, and changes at run time", async () => {
    const { clock, provider } = setup({ "web:bad": { readiness: "fail", liveness: { failAfterMs: 100 } } });
    await provider.startPod(pod("web:bad"));
    clock.advance(10);
    expect(await provider.probe(NODE, "pod_1", "web", "readiness", http)).toEqual({
      ok: false,
      message: "HTTP probe failed with statuscode: 500",
    });
    expect((await provider.probe(NODE, "pod_1", "web", "liveness", http)).ok).toBe(true);
    clock.advance(100);
    expect((await provider.probe(NODE, "pod_1", "web", "liveness", http)).ok).toBe(false);
    provider.setImageBehaviour("web:bad", { readiness: "pass" });
    expect((await provider.probe(NODE, "pod_1", "web", "readiness", http)).ok).toBe(true);
    expect((await provider.probe(NODE, "pod_1", "web", "liveness", http)).ok).toBe(true);
  });

  it("passes a slow starter's probe only after passAfterMs of its run, and says why a tcp probe failed", async () => {
    const { clock, provider } = setup({ slow: { startup: { passAfterMs: 500 } } });
    await provider.startPod(pod("slow:1"));
    clock.advance(10);
    const tcp = { tcpSocket: { port: 8080 } };
    const early = await provider.probe(NODE, "pod_1", "web", "startup", tcp);
    expect(early.ok).toBe(false);
    expect(early.message).toMatch(/^dial tcp 10\.244\.\d+\.\d+:8080: connect: connection refused$/);
    clock.advance(500);
    expect((await provider.probe(NODE, "pod_1", "web", "startup", tcp)).ok).toBe(true);
  });

  it("draws failRate outcomes from its seed: the same seed, the same outcomes", async () => {
    const outcomes = async (seed: string) => {
      const { clock, provider } = setup({ flaky: { readiness: { failRate: 0.5 } } }, seed);
      await provider.startPod(pod("flaky:1"));
      clock.advance(10);
      const results: boolean[] = [];
      for (let i = 0; i < 40; i++) results.push((await provider.probe(NODE, "pod_1", "web", "readiness", http)).ok);
      return results;
    };
    const a = await outcomes("s1");
    expect(await outcomes("s1")).toEqual(a);
    expect(a.filter(Boolean).length).toBeGreaterThan(5);
    expect(a.filter((ok) => !ok).length).toBeGreaterThan(5);
  });

  it("a crashing container exits after crashAfterMs and stays down until restarted, as a new run", async () => {
    const { clock, provider, last } = setup({ crash: { crashAfterMs: 50, exitCode: 3 } });
    await provider.startPod(pod("crash:1"));
    clock.advance(10);
    const firstId = last().containers[0]?.containerID;
    clock.advance(50);
    expect(last().containers[0]).toMatchObject({
      containerID: firstId,
      state: {
        terminated: {
          exitCode: 3,
          reason: "Error",
          startedAt: new Date(10).toISOString(),
          finishedAt: new Date(60).toISOString(),
        },
      },
    });
    clock.advance(1_000);
    expect(last().containers[0]?.state).toHaveProperty("terminated");
    // A restart that names another run does nothing; the right one starts a new run after the latency.
    await provider.restartContainer(NODE, "pod_1", "web", "another-run");
    await provider.restartContainer(NODE, "pod_1", "web", firstId);
    await provider.restartContainer(NODE, "pod_1", "web", firstId);
    clock.advance(10);
    const second = last().containers[0];
    expect(second?.state).toEqual({ running: { startedAt: new Date(1_070).toISOString() } });
    expect(second?.containerID).not.toBe(firstId);
    clock.advance(50);
    expect(last().containers[0]?.state).toHaveProperty("terminated");
  });

  it("slow image pulls delay a start on the node (or every node) while set; a restart pulls nothing", async () => {
    const { clock, provider, last } = setup({ crash: { crashAfterMs: 5 } });
    expect(() => provider.setImagePullMs(NODE, -1)).toThrow(/0 or more/);
    provider.setImagePullMs(NODE, 1_000);
    provider.setImagePullMs(undefined, 300);
    await provider.startPod(pod("nginx:1.27", "pod_1"));
    await provider.startPod(pod("nginx:1.27", "pod_2", "sim-default-2"));
    // The node's own setting wins over the all-nodes one when slower: 1 s + the 10 ms start here, 300 ms there.
    clock.advance(310);
    expect((await provider.listPods()).map((p) => [p.podId, p.phase])).toEqual([
      ["pod_1", "Pending"],
      ["pod_2", "Running"],
    ]);
    clock.advance(700);
    expect((await provider.listPods()).map((p) => p.phase)).toEqual(["Running", "Running"]);
    // Ended: the next start takes its usual 10 ms, and a restart pulls nothing, even while set.
    provider.setImagePullMs(NODE, undefined);
    provider.setImagePullMs(undefined, undefined);
    await provider.startPod(pod("crash:1", "pod_3"));
    clock.advance(15);
    expect(last().containers[0]?.state).toHaveProperty("terminated");
    provider.setImagePullMs(NODE, 60_000);
    await provider.restartContainer(NODE, "pod_3", "web");
    clock.advance(10);
    expect(last()).toMatchObject({ podId: "pod_3", containers: [{ state: { running: expect.anything() } }] });
  });

  it("kills only the run it is asked to, with exit code 137", async () => {
    const { clock, provider, last } = setup();
    await provider.startPod(pod("nginx"));
    clock.advance(10);
    const id = last().containers[0]?.containerID;
    await provider.killContainer(NODE, "pod_1", "web", "stale-run");
    expect(last().containers[0]?.state).toHaveProperty("running");
    await provider.killContainer(NODE, "pod_1", "web", id);
    expect(last().containers[0]?.state).toMatchObject({ terminated: { exitCode: 137, reason: "Error" } });
    expect((await provider.probe(NODE, "pod_1", "web", "liveness", http)).ok).toBe(false);
  });

  it("completes a container whose image exits 0, and reports OOMKilled when told", async () => {
    const { clock, provider, last } = setup({
      job: { crashAfterMs: 5, exitCode: 0 },
      hog: { crashAfterMs: 5, exitReason: "OOMKilled" },
    });
    await provider.startPod(pod("job:1"));
    clock.advance(15);
    expect(last().containers[0]?.state).toMatchObject({ terminated: { exitCode: 0, reason: "Completed" } });
    await provider.startPod(pod("hog:1", "pod_2"));
    clock.advance(15);
    expect(last().containers[0]?.state).toMatchObject({ terminated: { exitCode: 137, reason: "OOMKilled" } });
  });

  it("adds and removes nodes at run time; a removed node's pods are reported gone", async () => {
    const { clock, provider, events } = setup();
    provider.addNode({ name: "sim-extra-1", labels: { "topology.kubernetes.io/zone": "zone-c" } });
    const nodes = await provider.listNodes();
    expect(nodes.map((n) => n.name)).toEqual(["sim-default-1", "sim-default-2", "sim-extra-1"]);
    expect(nodes[2]).toMatchObject({
      address: "192.0.2.3",
      ready: true,
      cpuMillis: 4000,
      labels: { "kubernetes.io/hostname": "sim-extra-1", "topology.kubernetes.io/zone": "zone-c" },
    });
    await provider.startPod(pod("nginx", "pod_a", "sim-extra-1"));
    await provider.startPod(pod("nginx", "pod_b", NODE));
    clock.advance(10);
    provider.removeNode("sim-extra-1");
    expect(events).toContainEqual({ type: "podGone", podId: "pod_a", nodeName: "sim-extra-1" });
    expect(events.at(-1)).toEqual({ type: "nodeGone", nodeName: "sim-extra-1", atMs: 10 });
    expect((await provider.listPods()).map((p) => p.podId)).toEqual(["pod_b"]);
    await expect(provider.startPod(pod("nginx", "pod_c", "sim-extra-1"))).rejects.toThrow(/not ready/);
    provider.setNodeReady(NODE, false);
    expect((await provider.listNodes())[0]?.ready).toBe(false);
  });

  it("lists its nodes as they are, frozen: a change replaces the node, and what was listed before stays as it was", async () => {
    const { provider, events } = setup();
    const [before] = await provider.listNodes();
    expect(Object.isFrozen(before) && Object.isFrozen(before?.labels)).toBe(true);
    expect(() => {
      (before as { ready: boolean }).ready = false;
    }).toThrow(TypeError);
    expect((await provider.listNodes())[0]).toBe(before);
    provider.setNodeReady(NODE, false);
    const [after] = await provider.listNodes();
    expect([before?.ready, after?.ready]).toEqual([true, false]);
    expect(events.at(-1)).toMatchObject({ type: "node", node: { name: NODE, ready: false } });
  });
});

describe("SimulatedProvider scaling", () => {
  function scalingSetup() {
    const clock = new ManualClock(0);
    const provider = new SimulatedProvider({
      clock,
      rng: seededRng("scaling"),
      pools: [
        { name: "fixed", count: 1, cpuMillis: 4000, memoryBytes: 8 * 2 ** 30 },
        {
          name: "web",
          count: 1,
          cpuMillis: 2000,
          memoryBytes: 4 * 2 ** 30,
          maxPods: 30,
          autoscale: { min: 1, max: 4 },
        },
      ],
    });
    const events: ProviderEvent[] = [];
    provider.subscribe((e) => events.push(e));
    return { clock, provider, events, scaling: provider.scaling as NonNullable<typeof provider.scaling> };
  }

  it("is absent when no pool scales", () => {
    expect(setup().provider.scaling).toBeUndefined();
  });

  it("lists the scaling pools with the shape and labels of the node each would add next", () => {
    const { scaling } = scalingSetup();
    expect(scaling.pools()).toEqual([
      {
        name: "web",
        cpuMillis: 2000,
        memoryBytes: 4 * 2 ** 30,
        maxPods: 30,
        labels: { "topology.kubernetes.io/zone": "zone-b", "kubernease.dev/pool": "web" },
        min: 1,
        max: 4,
      },
    ]);
  });

  it("adds nodes named after the pool, spread over the zones and announced, up to the pool's max", async () => {
    const { clock, provider, events, scaling } = scalingSetup();
    clock.advance(5);
    const added = [await scaling.addNode("web"), await scaling.addNode("web"), await scaling.addNode("web")];
    expect(
      added.map((n) => [n.name, n.labels["topology.kubernetes.io/zone"], n.labels["kubernease.dev/pool"]]),
    ).toEqual([
      ["sim-web-2", "zone-b", "web"],
      ["sim-web-3", "zone-c", "web"],
      ["sim-web-4", "zone-a", "web"],
    ]);
    expect(added[0]).toMatchObject({ cpuMillis: 2000, memoryBytes: 4 * 2 ** 30, maxPods: 30, ready: true });
    expect(events.filter((e) => e.type === "node").map((e) => e.type === "node" && e.node.name)).toEqual([
      "sim-web-2",
      "sim-web-3",
      "sim-web-4",
    ]);
    expect(events[0]).toMatchObject({ type: "node", atMs: 5 });
    await expect(scaling.addNode("web")).rejects.toThrow(/at its max of 4/);
    await expect(scaling.addNode("fixed")).rejects.toThrow(/does not scale/);
    expect((await provider.listNodes()).map((n) => n.name)).toContain("sim-web-4");
  });

  it("removes a scaling pool's node with its pods, never below the min, and never reuses a removed node's name", async () => {
    const { provider, events, scaling } = scalingSetup();
    await scaling.addNode("web");
    await provider.startPod(pod("nginx", "pod_a", "sim-web-2"));
    await scaling.removeNode("sim-web-2");
    expect(events).toContainEqual({ type: "podGone", podId: "pod_a", nodeName: "sim-web-2" });
    expect(events.at(-1)).toMatchObject({ type: "nodeGone", nodeName: "sim-web-2" });
    await scaling.removeNode("sim-web-2");
    await expect(scaling.removeNode("sim-web-1")).rejects.toThrow(/at its min of 1/);
    await expect(scaling.removeNode("sim-fixed-1")).rejects.toThrow(/not in a scaling pool/);
    expect((await scaling.addNode("web")).name).toBe("sim-web-3");
  });

  it("counts a node added by name as its pool's, so the pool never hands out that name again", async () => {
    const { provider, scaling } = scalingSetup();
    provider.addNode({ name: "sim-web-7", labels: { "kubernease.dev/pool": "web" } });
    expect(provider.lastNodeIndex("web")).toBe(7);
    expect((await scaling.addNode("web")).name).toBe("sim-web-8");
    expect(provider.lastNodeIndex("nothing")).toBe(0);
  });

  it("spreads a pool's added nodes over the zones it lists", async () => {
    const provider = new SimulatedProvider({
      clock: new ManualClock(0),
      rng: seededRng("zones"),
      pools: [
        {
          name: "p",
          count: 0,
          cpuMillis: 1000,
          memoryBytes: 2 ** 30,
          zones: ["x", "y"],
          autoscale: { min: 0, max: 3 },
        },
      ],
    });
    const scaling = provider.scaling as NonNullable<typeof provider.scaling>;
    const zones = [];
    for (let i = 0; i < 3; i++) zones.push((await scaling.addNode("p")).labels["topology.kubernetes.io/zone"]);
    expect(zones).toEqual(["x", "y", "x"]);
  });
});

describe("SimulatedProvider logs", () => {
  async function text(chunks: AsyncIterable<string>): Promise<string> {
    let out = "";
    for await (const chunk of chunks) out += chunk;
    return out;
  }

  it("writes a start line with the image and the image's own lines, stamped by the clock; tailLines keeps the last", async () => {
    const { clock, provider } = setup({ web: { logLines: ["listening on :80", "ready"] } });
    await provider.startPod(pod("web:1"));
    await expect(provider.logs(NODE, "pod_1", "web")).rejects.toThrow(/has not started/);
    clock.advance(10);
    expect(await text(await provider.logs(NODE, "pod_1", "web"))).toBe(
      [
        "1970-01-01T00:00:00.010Z started web:1 (run 1)",
        "1970-01-01T00:00:00.010Z listening on :80",
        "1970-01-01T00:00:00.010Z ready",
        "",
      ].join("\n"),
    );
    expect(await text(await provider.logs(NODE, "pod_1", "web", { tailLines: 1 }))).toBe(
      "1970-01-01T00:00:00.010Z ready\n",
    );
    expect(await text(await provider.logs(NODE, "pod_1", "web", { tailLines: 0 }))).toBe("");
    await expect(provider.logs(NODE, "pod_1", "nope")).rejects.toThrow(/has not started/);
  });

  it("keeps the previous run's log, with its exit line; there is none before the first restart", async () => {
    const { clock, provider } = setup({ web: { crashAfterMs: 5 } });
    await provider.startPod(pod("web:1"));
    clock.advance(10);
    await expect(provider.logs(NODE, "pod_1", "web", { previous: true })).rejects.toThrow(
      /previous terminated container "web" not found/,
    );
    clock.advance(5);
    await provider.restartContainer(NODE, "pod_1", "web");
    clock.advance(10);
    expect(await text(await provider.logs(NODE, "pod_1", "web", { previous: true }))).toBe(
      "1970-01-01T00:00:00.010Z started web:1 (run 1)\n1970-01-01T00:00:00.015Z exited with code 1 (Error)\n",
    );
    expect(await text(await provider.logs(NODE, "pod_1", "web"))).toBe(
      "1970-01-01T00:00:00.025Z started web:1 (run 2)\n",
    );
  });

  it("follows a run until it ends, or until the signal aborts", async () => {
    const { clock, provider } = setup();
    await provider.startPod(pod("web:1"));
    clock.advance(10);
    const followed = text(await provider.logs(NODE, "pod_1", "web", { follow: true }));
    await provider.killContainer(NODE, "pod_1", "web");
    expect(await followed).toBe(
      "1970-01-01T00:00:00.010Z started web:1 (run 1)\n1970-01-01T00:00:00.010Z exited with code 137 (Error)\n",
    );
    await provider.restartContainer(NODE, "pod_1", "web");
    clock.advance(10);
    const abort = new AbortController();
    const chunks: string[] = [];
    const reading = (async () => {
      for await (const chunk of await provider.logs(NODE, "pod_1", "web", { follow: true, signal: abort.signal })) {
        chunks.push(chunk);
      }
    })();
    await Promise.resolve();
    abort.abort();
    await reading;
    expect(chunks).toEqual(["1970-01-01T00:00:00.020Z started web:1 (run 2)\n"]);
  });

  it("ends a follower when the pod stops", async () => {
    const { clock, provider } = setup();
    await provider.startPod(pod("web:1"));
    clock.advance(10);
    const followed = text(await provider.logs(NODE, "pod_1", "web", { follow: true }));
    await provider.stopPod(NODE, "pod_1");
    expect(await followed).toBe("1970-01-01T00:00:00.010Z started web:1 (run 1)\n");
  });
});
