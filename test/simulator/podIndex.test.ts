import { describe, expect, it } from "vitest";
import { MemoryStore } from "../../src/db/index.js";
import type { NewPod } from "../../src/db/types.js";
import { PodIndex, PodWrites, podIndexDifferences } from "../../src/simulator/podIndex.js";
import { runScenario } from "../../src/simulator/run.js";
import { loadScenarioFile } from "../../src/simulator/scenario.js";
import { swarmFaults, withFaults } from "../../src/simulator/swarm.js";
import { PASSING_SCENARIOS, SCENARIO_DIR } from "../helpers/scenarios.js";

function newPod(i: number, ownerUid = "rs-1"): NewPod {
  return {
    id: `pod_${i}`,
    tenantId: "ten_1",
    namespace: "default",
    name: `web-${i}`,
    uid: `uid-${i}`,
    ownerKind: "ReplicaSet",
    ownerName: "web",
    ownerUid,
    labels: {},
    annotations: {},
    templateHash: "h",
    spec: { containers: [{ name: "app", image: "web:1" }] },
    cpuMillis: 100,
    memoryBytes: 1024,
    createdAt: 0,
  };
}

async function storeWithNode(): Promise<MemoryStore> {
  const store = new MemoryStore();
  await store.upsertNode(
    {
      ...{ name: "n1", provider: "sim", address: "10.0.0.1", labels: {}, cpuMillis: 1000, memoryBytes: 1 << 30 },
      ...{ maxPods: 10, ready: true, unschedulable: false, lastHeartbeatAt: null },
    },
    0,
  );
  return store;
}

describe("the run's pod index", () => {
  it("counts a change of the sums bound to nodes, and only such a change", async () => {
    const store = await storeWithNode();
    const writes = new PodWrites();
    const index = new PodIndex();
    const version = async (ids: string[]) => {
      writes.add(ids);
      return (await index.refresh(store, writes)).boundVersion;
    };
    for (const i of [1, 2]) await store.createPod(newPod(i));
    const unbound = await version(["pod_1", "pod_2"]);
    await store.bindPod("pod_1", "n1", 1);
    const bound = await version(["pod_1"]);
    expect(bound).toBeGreaterThan(unbound);
    // A status write leaves the sums as they were: the count stays, however the record changed.
    await store.updatePodStatus("pod_1", { phase: "Running", ready: true, status: {} }, { nowMs: 2 });
    await store.updatePodStatus("pod_2", { phase: "Pending", ready: false, status: { reason: "x" } }, { nowMs: 2 });
    expect(await version(["pod_1", "pod_2"])).toBe(bound);
    await store.deletePod("pod_1");
    expect(await version(["pod_1"])).toBeGreaterThan(bound);
    // Made afresh from every pod, an index counts the same way.
    const fresh = new PodIndex().update(await store.listPods({}));
    const before = fresh.boundVersion;
    fresh.update(await store.listPods({}));
    expect(fresh.boundVersion).toBe(before);
  });

  it("folds in only the pods written, and agrees with an index made afresh", async () => {
    const store = await storeWithNode();
    const writes = new PodWrites();
    const index = new PodIndex();
    for (const i of [1, 2, 3]) await store.createPod(newPod(i));
    await index.refresh(store, writes);
    await store.bindPod("pod_1", "n1", 1);
    await store.updatePodStatus("pod_1", { phase: "Running", ready: true, status: {} }, { nowMs: 2 });
    await store.deletePod("pod_3");
    writes.add(["pod_1", "pod_3"]);
    await index.refresh(store, writes);
    const listed = await store.listPods({});
    expect(podIndexDifferences(index, new PodIndex().update(listed), listed)).toEqual([]);
    expect(index.boundByNode.get("n1")).toEqual({ cpu: 100, memory: 1024, pods: 1 });
    expect(index.readyByOwner.get("rs-1")).toBe(1);
    expect([...(index.readyImagesByOwner.get("rs-1") ?? [])]).toEqual([["web:1", 1]]);
    expect(index.pods().map((p) => p.id)).toEqual(["pod_1", "pod_2"]);
  });

  it("a write it was not told of is a difference the check finds", async () => {
    const store = await storeWithNode();
    const writes = new PodWrites();
    const index = new PodIndex();
    await store.createPod(newPod(1));
    await index.refresh(store, writes);
    await store.bindPod("pod_1", "n1", 1);
    await index.refresh(store, writes);
    const listed = await store.listPods({});
    expect(podIndexDifferences(index, new PodIndex().update(listed), listed)).toHaveLength(2);
  });

  it("writes whose ids cannot be trusted make every look read every pod", () => {
    const writes = new PodWrites(false);
    writes.take();
    writes.add(["pod_1"]);
    expect(writes.take()).toEqual({ any: true });
    const exact = new PodWrites();
    expect(exact.take()).toEqual({ any: true });
    exact.add(["pod_1"]);
    exact.add(["pod_2"]);
    expect(exact.take()).toEqual({ any: false, ids: new Set(["pod_1", "pod_2"]) });
    exact.add(undefined);
    expect(exact.take()).toEqual({ any: true });
  });

  // Every example, with faults, drains, rollouts and autoscaling: at every look the index kept from
  // the writes matches every pod the store lists.
  it.each(PASSING_SCENARIOS)("matches the store at every look of %s", async (name) => {
    const seed = "3";
    const file = await loadScenarioFile(`${SCENARIO_DIR}${name}.yaml`);
    const scenario = withFaults(file, swarmFaults(file, seed));
    const report = await runScenario(scenario, { seed, source: name, verifyPodIndex: true });
    expect(report.violations.filter((v) => v.invariant === "pod-index")).toEqual([]);
    expect(report.ok).toBe(true);
  });
});
