import { describe, expect, it } from "vitest";
import { QUOTA_RETRY_MS } from "../controllers/quota.js";
import type { Action, PodDraft } from "../controllers/types.js";
import { ManualClock } from "../core/clock.js";
import { seededRng } from "../core/rng.js";
import { MemoryStore } from "../db/memoryStore.js";
import type { StoredObject, StoreOps, TenantQuota } from "../db/types.js";
import type { NodeProvider } from "../providers/types.js";
import { applyActions } from "./apply.js";
import type { JobContext } from "./context.js";
import type { QueueName, WorkQueue } from "./queue.js";

const MiB = 2 ** 20;

/** The store, counting the calls made to it (and in its transactions) by name, with the size of a list given. */
function counted<S extends StoreOps>(store: S, calls: Map<string, number[]>): S {
  return new Proxy(store, {
    get(target, property) {
      const value = Reflect.get(target, property, target);
      if (typeof value !== "function") return value;
      if (property === "transaction") {
        return (fn: (tx: StoreOps) => Promise<unknown>) => value.call(target, (tx: StoreOps) => fn(counted(tx, calls)));
      }
      return (...args: unknown[]) => {
        const size = Array.isArray(args[0]) ? args[0].length : 1;
        calls.set(String(property), [...(calls.get(String(property)) ?? []), size]);
        return value.apply(target, args);
      };
    },
  });
}

async function setup(quota?: TenantQuota) {
  const clock = new ManualClock();
  const memory = new MemoryStore();
  const tenant = await memory.createTenant({ id: "ten_a", name: "a", createdAt: 0, quota: quota ?? null });
  const owner: StoredObject = await memory.createObject({
    ...{ id: "obj_rs", tenantId: tenant.id, kind: "ReplicaSet", namespace: "default", name: "web-1" },
    ...{ apiVersion: "apps/v1", uid: "rs-uid", labels: {}, annotations: {}, spec: {}, createdAt: 0 },
  });
  const calls = new Map<string, number[]>();
  const enqueued: string[] = [];
  const queue: WorkQueue = {
    async enqueue(name: QueueName, key: string) {
      enqueued.push(`${name} ${key}`);
    },
    register() {},
    async close() {},
  };
  const ctx: JobContext = {
    store: counted(memory, calls),
    queue,
    provider: {} as NodeProvider,
    clock,
    rng: seededRng("apply"),
    schedulingPolicy: "spread",
    unschedulableRetryMs: 500,
    log: () => {},
  };
  return { ctx, memory, owner, calls, enqueued };
}

function draft(cpuMillis: number, fields: Partial<PodDraft> = {}): PodDraft {
  return {
    ...{ namespace: "default", generateName: "web-1-", labels: { app: "web" }, annotations: {}, templateHash: "1" },
    ...{ spec: { containers: [{ name: "web", image: "web:1" }] }, cpuMillis, memoryBytes: 16 * MiB },
    owner: { kind: "ReplicaSet", name: "web-1", uid: "rs-uid" },
    ...fields,
  };
}

const creates = (drafts: PodDraft[]): Action[] => drafts.map((pod) => ({ type: "createPod", pod }));

describe("applying createPod actions", () => {
  it("creates a run of pods in batches, one store write each, and asks the tenant's schedule job after each", async () => {
    const { ctx, memory, owner, calls, enqueued } = await setup();
    const result = await applyActions(ctx, owner, creates(Array.from({ length: 1_200 }, () => draft(10))));
    expect(result).toBeUndefined();
    expect(calls.get("createPods")).toEqual([1_000, 200]);
    expect(calls.get("createPod")).toBeUndefined();
    const pods = await memory.listPods({ tenantId: "ten_a" });
    expect(pods).toHaveLength(1_200);
    expect(new Set(pods.map((p) => p.name)).size).toBe(1_200);
    expect(pods.every((p) => p.ownerUid === "rs-uid" && p.name.startsWith("web-1-"))).toBe(true);
    // The tenant's job places the first batch while the second is created, and looks once more
    // for the second (src/jobs/schedulePod.ts); no pod has a job of its own.
    expect(enqueued).toEqual(["schedule waiting/ten_a", "schedule waiting/ten_a"]);
  });

  it("asks a schedule job of its own for each pod no batch takes: one with a claim, one pinned to a node", async () => {
    const { ctx, memory, owner, enqueued } = await setup();
    const claimed = draft(10, {
      spec: {
        containers: [{ name: "web", image: "web:1" }],
        volumes: [{ name: "data", persistentVolumeClaim: { claimName: "data-0" } }],
      },
    });
    const pinned = draft(10, { spec: { containers: [{ name: "web", image: "web:1" }], nodeName: "n1" } });
    await applyActions(ctx, owner, creates([draft(10), claimed, draft(10), pinned, draft(10)]));
    const pods = await memory.listPods({ tenantId: "ten_a" });
    const own = pods.filter((p) => p.spec.volumes !== undefined || p.spec.nodeName !== undefined);
    expect(own).toHaveLength(2);
    expect(enqueued).toHaveLength(3);
    for (const pod of own) expect(enqueued).toContain(`schedule ${pod.id}`);
  });

  it("checks each pod of a batch against the quota with the ones before it counted in, under the tenant's lock", async () => {
    const { ctx, memory, owner, calls, enqueued } = await setup({ cpuMillis: 1_000, pods: 3 });
    const result = await applyActions(ctx, owner, creates([draft(600), draft(600), draft(300), draft(50), draft(50)]));
    expect(result).toEqual({ requeueAfterMs: QUOTA_RETRY_MS });
    // 600 fits; 600 more does not; 300 does (900); 50 does (950, the third pod); the fourth pod does not.
    const pods = await memory.listPods({ tenantId: "ten_a" });
    expect(pods.map((p) => p.cpuMillis).sort((a, b) => a - b)).toEqual([50, 300, 600]);
    expect(calls.get("lockTenant")).toEqual([1]);
    expect(calls.get("createPods")).toEqual([3]);
    expect(enqueued).toHaveLength(1);
    const events = await memory.listEvents({ tenantId: "ten_a" });
    expect(events.map((e) => [e.reason, e.count])).toEqual([
      ["FailedCreate", 1],
      ["FailedCreate", 1],
    ]);
    expect(events.map((e) => e.message).join("\n")).toContain("exceeded quota");
  });

  it("creates a pod of a fixed name on its own, and takes one that exists as done", async () => {
    const { ctx, memory, owner, calls, enqueued } = await setup({ pods: 10 });
    const ordinal = (n: number) => draft(10, { name: `db-${n}`, owner: { kind: "StatefulSet", name: "db", uid: "u" } });
    await applyActions(ctx, owner, creates([ordinal(0)]));
    const result = await applyActions(ctx, owner, creates([ordinal(0), ordinal(1), draft(10), draft(10)]));
    expect(result).toBeUndefined();
    expect(calls.get("createPods")).toEqual([1, 1, 1, 2]);
    const names = (await memory.listPods({ tenantId: "ten_a" })).map((p) => p.name);
    expect(names.filter((n) => n.startsWith("db-"))).toEqual(["db-0", "db-1"]);
    expect(names).toHaveLength(4);
    // The tenant's job, once per write that created pods: db-0's, db-1's, the two unnamed pods'.
    expect(enqueued).toEqual(Array.from({ length: 3 }, () => "schedule waiting/ten_a"));
  });
});
