import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { PodRecord } from "../../src/db/types.js";
import { ADMIN_KEY, createTestApi, type TestApi } from "../helpers/api.js";

const GiB = 2 ** 30;
const MAX_NODES_IN_POOL = 3;

/** 600m each: three fit a 2 CPU node. */
const deployment = (name: string, replicas: number, cpu = "600m") => `apiVersion: apps/v1
kind: Deployment
metadata: { name: ${name} }
spec:
  replicas: ${replicas}
  selector: { matchLabels: { app: ${name} } }
  template:
    metadata: { labels: { app: ${name} } }
    spec:
      containers: [{ name: ${name}, image: ${name}:1, resources: { requests: { cpu: ${cpu}, memory: 256Mi } } }]
`;

const logs: { message: string; fields?: Record<string, unknown> }[] = [];
let api: TestApi;
/** The most nodes the provider ever had at once, sampled every few milliseconds. */
const seen = { maxNodes: 0 };
let stopSampling = () => {};

beforeAll(async () => {
  api = await createTestApi({
    pools: [
      {
        name: "default",
        count: 1,
        cpuMillis: 2000,
        memoryBytes: 4 * GiB,
        autoscale: { min: 1, max: MAX_NODES_IN_POOL },
      },
    ],
    controlPlane: {
      heartbeatMs: 200,
      autoscale: { maxNodes: 10, intervalMs: 100, scaleUpCooldownMs: 500, scaleDownUnneededMs: 1_000 },
    },
    log: (message, fields) => logs.push({ message, fields }),
  });
  stopSampling = sample(10, async () => {
    seen.maxNodes = Math.max(seen.maxNodes, (await api.provider.listNodes()).length);
  });
});
afterAll(async () => {
  stopSampling();
  await api.close();
});

function sample(everyMs: number, look: () => Promise<void>): () => void {
  const handle = setInterval(() => void look(), everyMs);
  return () => clearInterval(handle);
}

const live = async (app: string) =>
  (await api.store.listPods({ tenantId: api.tenant.id })).filter(
    (p) => p.labels.app === app && p.deletionRequestedAt === null && p.phase !== "Failed",
  );
const ready = async (app: string) => (await live(app)).filter((p) => p.ready);
const nodeNames = async () => (await api.provider.listNodes()).map((n) => n.name).sort();
const storeNodeNames = async () => (await api.store.listNodes()).map((n) => n.name).sort();
const apply = async (body: string) => expect((await api.call("POST", "/v1/apply", { body })).status).toBe(200);

describe("node autoscaling", () => {
  it("adds nodes of the pool for replicas that do not fit, never above the pool's max", async () => {
    await apply(deployment("web", 3));
    await api.until(async () => (await ready("web")).length === 3);
    expect(await nodeNames()).toEqual(["sim-default-1"]);

    // Eleven replicas of 600m need four 2 CPU nodes; the pool stops at three: nine run, two wait.
    await apply(deployment("web", 11));
    await api.until(async () => (await ready("web")).length === 9, 30_000);
    expect(await nodeNames()).toEqual(["sim-default-1", "sim-default-2", "sim-default-3"]);
    await api.until(async () => (await storeNodeNames()).length === MAX_NODES_IN_POOL);
    // Well past the cool-down, still three: the waiting two get no fourth node.
    await new Promise((r) => setTimeout(r, 1_500));
    expect(await nodeNames()).toHaveLength(MAX_NODES_IN_POOL);
    expect((await live("web")).filter((p) => p.nodeName === null)).toHaveLength(2);
    expect(seen.maxNodes).toBe(MAX_NODES_IN_POOL);

    // The operator sees the nodes and the log says what happened; the tenant hears capacity is coming, never about nodes.
    const nodes = (await api.call("GET", "/api/v1/nodes", { key: ADMIN_KEY })).body.items;
    expect(nodes.map((n: any) => n.metadata.labels["kubernease.dev/pool"])).toEqual(["default", "default", "default"]);
    expect(logs.some((l) => l.message === "autoscaler added nodes")).toBe(true);
    const events = (await api.call("GET", "/api/v1/namespaces/default/events")).body.items;
    expect(events.some((e: any) => e.reason === "TriggeredScaleUp")).toBe(true);
  });

  it("scaled down, the idle nodes are drained and removed down to the pool's min, the replicas staying ready", async () => {
    const originals = (await ready("web")).filter((p) => p.nodeName === "sim-default-1").map((p) => p.id);
    expect(originals).toHaveLength(3);
    const desired = 2;
    const low = { ready: Number.POSITIVE_INFINITY };
    const stop = sample(10, async () => {
      low.ready = Math.min(low.ready, (await ready("web")).length);
    });
    try {
      // Scale-down removes the newest replicas first: the ones on the added nodes.
      await apply(deployment("web", desired));
      await api.until(async () => (await nodeNames()).length === 1, 30_000);
      await api.until(async () => (await storeNodeNames()).length === 1, 10_000);
      expect(await nodeNames()).toEqual(["sim-default-1"]);
      expect(await ready("web")).toHaveLength(desired);
    } finally {
      stop();
    }
    expect(low.ready).toBeGreaterThanOrEqual(desired);
    expect(logs.filter((l) => l.message === "autoscaler removed a node").map((l) => l.fields?.node)).toEqual([
      "sim-default-2",
      "sim-default-3",
    ]);
    // Never below the min, however long it stays idle.
    await new Promise((r) => setTimeout(r, 1_500));
    expect(await nodeNames()).toEqual(["sim-default-1"]);
  });

  it("drains a node whose pods fit elsewhere by moving them replacement first, then removes it", async () => {
    // 900m pods do not fit beside the two web replicas (1200m): a node is added for both.
    await apply(deployment("batch", 2, "900m"));
    await api.until(async () => (await ready("batch")).length === 2, 30_000);
    const added = (await nodeNames()).filter((n) => n !== "sim-default-1");
    expect(added).toHaveLength(1);

    // Now each node is under half used, and either's pods fit on the other: the emptier one goes.
    await apply(deployment("web", 1));
    await apply(deployment("batch", 1, "900m"));
    await api.until(async () => (await live("web")).length === 1 && (await live("batch")).length === 1, 30_000);
    const low = { web: Number.POSITIVE_INFINITY, batch: Number.POSITIVE_INFINITY };
    const stop = sample(10, async () => {
      low.web = Math.min(low.web, (await ready("web")).length);
      low.batch = Math.min(low.batch, (await ready("batch")).length);
    });
    const survivor = await api
      .until(async () => {
        const names = await nodeNames();
        return names.length === 1 && names[0];
      }, 30_000)
      .finally(stop);
    // The moved replica's replacement was ready before it went: neither workload was ever without a ready replica.
    expect(low).toEqual({ web: 1, batch: 1 });
    expect(survivor).toBe(added[0]);
    await api.until(async () => (await ready("web")).length === 1 && (await ready("batch")).length === 1, 30_000);
    const all: PodRecord[] = [...(await live("web")), ...(await live("batch"))];
    expect(all.every((p) => p.nodeName === survivor)).toBe(true);
    const drained = logs.find((l) => l.message === "autoscaler draining a node");
    expect(drained?.fields).toMatchObject({ node: "sim-default-1", moved: 1, evicted: 0, blocked: 0 });
    const events = (await api.call("GET", "/api/v1/namespaces/default/events")).body.items;
    expect(events.some((e: any) => e.reason === "Rebalancing" && e.message.includes("consolidate"))).toBe(true);
    expect(seen.maxNodes).toBe(MAX_NODES_IN_POOL);
  });
});
