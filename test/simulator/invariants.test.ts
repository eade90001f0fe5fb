import { describe, expect, it } from "vitest";
import type { Store } from "../../src/db/types.js";
import type { NodeProvider, ProviderEvent } from "../../src/providers/types.js";
import { runScenario } from "../../src/simulator/run.js";
import { parseScenario } from "../../src/simulator/scenario.js";
import type { WorldHooks } from "../../src/simulator/world.js";

/**
 * Each always-true invariant catches a planted bug, and the report names the
 * seed and the command that replays it. Bugs are planted in the system under
 * test (a wrapped store or provider), never in the checkers.
 */
const deployment = (image: string, replicas: number, cpu: string, extra = "") => `
      apiVersion: apps/v1
      kind: Deployment
      metadata: { name: web }
      spec:
        replicas: ${replicas}
        strategy: { rollingUpdate: { maxSurge: 1, maxUnavailable: 0 } }
        selector: { matchLabels: { app: web } }
        template:
          metadata: { labels: { app: web } }
          spec:
            containers:
              - name: web
                image: ${image}
                resources: { requests: { cpu: ${cpu}, memory: 64Mi } }${extra}`;

const statefulSet = (image: string) => `
      apiVersion: apps/v1
      kind: StatefulSet
      metadata: { name: db }
      spec:
        serviceName: db
        replicas: 2
        selector: { matchLabels: { app: db } }
        template:
          metadata: { labels: { app: db } }
          spec:
            containers: [{ name: db, image: ${image}, resources: { requests: { cpu: 100m, memory: 64Mi } } }]`;

function scenarioText(manifest: string, timeline: string): string {
  return `
cluster:
  pools: [{ name: default, count: 3, cpu: 2, memory: 4Gi }]
manifests:
  - inline: |${manifest}
timeline:${timeline}
duration: 2m
`;
}

async function run(text: string, hooks: WorldHooks, seed = "42") {
  const scenario = await parseScenario(text, "planted.yaml", async () => "");
  return runScenario(scenario, { seed, source: "planted.yaml", hooks });
}

/** A store with one method replaced; `this` stays the real store. */
function patchStore(store: Store, name: keyof Store, replacement: (original: any) => unknown): Store {
  return new Proxy(store, {
    get(target, property) {
      const value = Reflect.get(target, property, target);
      if (property === name) return replacement(value.bind(target));
      return typeof value === "function" ? value.bind(target) : value;
    },
  });
}

function patchProvider(provider: NodeProvider, patch: Partial<NodeProvider>): NodeProvider {
  return new Proxy(provider, {
    get(target, property) {
      if (property in patch) return patch[property as keyof NodeProvider];
      const value = Reflect.get(target, property, target);
      return typeof value === "function" ? value.bind(target) : value;
    },
  });
}

function expectCaught(report: Awaited<ReturnType<typeof run>>, invariant: string, seed = "42") {
  expect(report.ok).toBe(false);
  expect(report.stopped?.reason).toBe("invariant");
  expect(report.violations[0]?.invariant).toBe(invariant);
  expect(report.seed).toBe(seed);
  expect(report.reproduce).toBe(`kubernease simulate planted.yaml --seed ${seed}`);
}

describe("invariants catch planted bugs", () => {
  it("node-capacity: a store that believes nodes have twice their CPU over-commits them", async () => {
    const report = await run(scenarioText(deployment("web:1", 8, "900m"), " []"), {
      wrapStore: (store) =>
        patchStore(
          store,
          "upsertNode",
          (upsert) => (node: { cpuMillis: number }, nowMs: number) =>
            upsert({ ...node, cpuMillis: node.cpuMillis * 2 }, nowMs),
        ),
    });
    expectCaught(report, "node-capacity");
    expect(report.violations[0]?.message).toMatch(/requested of 2000m/);
  });

  it("statefulset-ordinal: a provider that loses stop requests runs an ordinal twice after an update", async () => {
    const report = await run(
      scenarioText(
        statefulSet("db:1"),
        `\n  - at: 30s\n    apply: { inline: "${statefulSet("db:2").replace(/\n/g, "\\n")}" }`,
      ),
      { wrapProvider: (provider) => patchProvider(provider, { stopPod: async () => {} }) },
    );
    expectCaught(report, "statefulset-ordinal");
    expect(report.violations[0]?.atMs).toBeGreaterThanOrEqual(30_000);
    expect(report.violations[0]?.message).toMatch(/ordinal db-\d is live 2 times/);
  });

  it("ready-on-crashed-node: a provider that never reports pods gone leaves them Ready on a dead node", async () => {
    const report = await run(
      scenarioText(deployment("web:1", 3, "100m"), "\n  - { at: 30s, crashNode: { pool: default, index: 1 } }"),
      {
        wrapProvider: (provider) =>
          patchProvider(provider, {
            subscribe: (listener: (event: ProviderEvent) => void) =>
              provider.subscribe((event) => {
                if (event.type !== "podGone" && event.type !== "nodeGone") listener(event);
              }),
          }),
      },
    );
    expectCaught(report, "ready-on-crashed-node");
    expect(report.violations[0]?.atMs).toBe(30_000);
  });

  it("ready-on-notready-node: a node monitor that fences a pod but leaves it Ready is caught after the grace period", async () => {
    const text = scenarioText(
      statefulSet("db:1"),
      "\n  - { at: 30s, partitionNode: { pool: default, index: 1 }, for: 40s }",
    );
    const report = await run(text, {
      wrapStore: (store) =>
        patchStore(
          store,
          "updatePodStatus",
          (update) => (id: string, change: any, write: unknown) =>
            update(id, change.phase === "Unknown" ? { ...change, ready: true } : change, write),
        ),
    });
    expectCaught(report, "ready-on-notready-node");
    expect(report.violations[0]?.atMs).toBeGreaterThan(30_000);
    expect(report.violations[0]?.message).toMatch(/pod default\/db-\d is Ready on NotReady node sim-default-1/);
  });

  it("rollout-surge: a controller patched to surge one too many is caught mid-rollout", async () => {
    const report = await run(
      scenarioText(
        deployment("web:1", 4, "100m"),
        `\n  - at: 30s\n    apply: { inline: "${deployment("web:2", 4, "100m").replace(/\n/g, "\\n")}" }`,
      ),
      {
        // Every scale-up of a ReplicaSet asks for one pod more than the controller decided.
        wrapStore: (store) =>
          patchStore(store, "updateObject", (update) => async (ref: any, change: any, write: unknown) => {
            const current = ref.kind === "ReplicaSet" ? await store.getObject(ref) : undefined;
            const grows = current !== undefined && change.spec.replicas > (current.spec.replicas as number);
            return update(
              ref,
              grows ? { ...change, spec: { ...change.spec, replicas: change.spec.replicas + 1 } } : change,
              write,
            );
          }),
      },
      "7",
    );
    expectCaught(report, "rollout-surge", "7");
    expect(report.violations[0]?.message).toMatch(/replicas 4 \+ maxSurge 1 allow 5/);
  });

  it("eventually-reconciled: a controller whose Deployment enqueues are dropped never rolls out the new spec", async () => {
    const rollout = `\n  - at: 30s\n    apply: { inline: "${deployment("web:2", 3, "100m").replace(/\n/g, "\\n")}" }`;
    const text = `${scenarioText(deployment("web:1", 3, "100m"), rollout).replace("duration: 2m", "duration: 4m")}quiet: 1m\n`;
    // After the first rollout converged, every enqueue of a Deployment is lost (the periodic resync's too).
    const hooks: WorldHooks = {
      wrapQueue: (queue, clock) => {
        const startMs = clock.now();
        return {
          register: queue.register.bind(queue),
          close: queue.close.bind(queue),
          enqueue: async (name, key, delayMs) => {
            if (name === "reconcile" && key.startsWith("Deployment/") && clock.now() - startMs >= 20_000) return;
            return queue.enqueue(name, key, delayMs);
          },
        };
      },
    };
    const report = await run(text, hooks);
    expectCaught(report, "eventually-reconciled");
    // Judged one quiet minute after the last change (the apply at 30 s), though nothing was written then.
    expect(report.violations[0]?.atMs).toBe(90_000);
    expect(report.violations[0]?.message).toMatch(
      /^Deployment default\/web was not reconciled at any moment in the 1m after the faults stopped \(at 30s\); at 1m30s: generation 2 observed as 1/,
    );
  });

  it("eventually-reconciled: the same run without the bug passes, and pods short of capacity are not held against it", async () => {
    const grow = "\n  - { at: 30s, scale: { workload: web, replicas: 12 } }";
    // 12 pods of 900m on three 2-CPU nodes: six fit, six wait for capacity to the end.
    const text = `${scenarioText(deployment("web:1", 3, "900m"), grow).replace("duration: 2m", "duration: 4m")}quiet: 1m\n`;
    const report = await run(text, {});
    expect(report.violations).toEqual([]);
    expect(report.ok).toBe(true);
    expect(report.workloads[0]?.final).toEqual({ ready: 6, desired: 12 });
  });

  it("eventually-reconciled is not judged while a fault never stops, nor before the quiet period ends", async () => {
    const { livenessFromMs, faultsStopMs } = await import("../../src/simulator/liveness.js");
    const parse = (timeline: string, extra = "") =>
      parseScenario(`${scenarioText(deployment("web:1", 1, "100m"), timeline)}${extra}`, "t.yaml", async () => "");
    const endless = await parse("\n  - { at: 30s, partitionNode: random }");
    expect(faultsStopMs(endless.timeline)).toBeNull();
    expect(livenessFromMs(endless)).toBeNull();
    const healed = await parse("\n  - { at: 10s, partitionNode: random, for: 20s }", "quiet: 30s\n");
    expect(livenessFromMs(healed)).toBe(60_000);
    // Slow pulls stop one pull after their window; a crash loop after the kubelet's longest back-off (5 min).
    const slow = await parse("\n  - { at: 10s, slowImagePulls: 30s, for: 20s }", "quiet: 30s\n");
    expect(livenessFromMs(slow)).toBe(90_000);
    const loop = await parse("\n  - { at: 10s, crashLoopImage: web:1, for: 20s }");
    expect(faultsStopMs(loop.timeline)).toBe(330_000);
    expect(livenessFromMs(loop)).toBeNull();
    // The default quiet period is two minutes: a 2-minute run with a fault at 30 s is not judged.
    expect(livenessFromMs(await parse("\n  - { at: 30s, crashNode: random }"))).toBeNull();
  });

  it("a bug that feeds itself without end at one instant stops the run as a livelock instead of hanging it", async () => {
    const rollout = `\n  - at: 30s\n    apply: { inline: "${deployment("web:2", 2, "100m").replace(/\n/g, "\\n")}" }`;
    const text = `${scenarioText(deployment("web:1", 2, "100m"), rollout)}limits: { maxStoreCallsPerInstant: 20000 }\n`;
    // Every write of a ReplicaSet asks for one pod more, so the Deployment scales it back, forever.
    const report = await run(text, {
      wrapStore: (store) =>
        patchStore(
          store,
          "updateObject",
          (update) => (ref: any, change: any, write: unknown) =>
            update(
              ref,
              ref.kind === "ReplicaSet"
                ? { ...change, spec: { ...change.spec, replicas: change.spec.replicas + 1 } }
                : change,
              write,
            ),
        ),
    });
    expect(report.ok).toBe(false);
    expect(report.stopped?.reason).toBe("livelock");
    expect(report.stopped?.message).toMatch(/more than 20000 store calls at one instant/);
    expect(report.endedAtMs).toBeGreaterThanOrEqual(30_000);
    expect(report.endedAtMs).toBeLessThan(60_000);
  });

  it("the same bug is caught at the same virtual time with the same seed", async () => {
    const plant: WorldHooks = { wrapProvider: (provider) => patchProvider(provider, { stopPod: async () => {} }) };
    const text = scenarioText(
      statefulSet("db:1"),
      `\n  - at: 30s\n    apply: { inline: "${statefulSet("db:2").replace(/\n/g, "\\n")}" }`,
    );
    const [a, b] = [await run(text, plant, "3"), await run(text, plant, "3")];
    expect(b.violations).toEqual(a.violations);
    expect(b.traceSha256).toBe(a.traceSha256);
  });
});
