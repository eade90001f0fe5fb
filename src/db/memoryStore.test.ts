import { describe, expect, it } from "vitest";
import { MemoryStore } from "./memoryStore.js";
import type { NewPod } from "./types.js";

function pod(name: string, overrides: Partial<NewPod> = {}): NewPod {
  return {
    ...{ id: `pod_${name}`, tenantId: "ten_a", namespace: "default", name, uid: `uid-${name}` },
    ...{ ownerKind: "ReplicaSet", ownerName: "web-1", ownerUid: "rs-1", labels: {}, annotations: {} },
    ...{ templateHash: null, spec: {}, cpuMillis: 100, memoryBytes: 1024, createdAt: 0 },
    ...overrides,
  };
}

async function withNode() {
  const store = new MemoryStore();
  await store.upsertNode(
    {
      ...{ name: "n1", provider: "simulated", address: "192.0.2.1", labels: {}, cpuMillis: 4_000 },
      ...{ memoryBytes: 2 ** 30, maxPods: 110, ready: true, unschedulable: false, lastHeartbeatAt: 0 },
    },
    0,
  );
  return store;
}

const names = (pods: { name: string }[]) => pods.map((p) => p.name);

describe("memory store indexes", () => {
  it("answers every query from its indexes in list order, and follows binds, deletes and a rollback", async () => {
    const store = await withNode();
    for (const name of ["c", "a", "b"]) await store.createPod(pod(name));
    await store.createPod(pod("z", { namespace: "other", ownerKind: null, ownerName: null, ownerUid: null }));
    await store.createPod(pod("a", { id: "pod_a2", tenantId: "ten_b" }));
    expect(names(await store.listPods({}))).toEqual(["a", "a", "b", "c", "z"]);
    expect(names(await store.listPods({ tenantId: "ten_a", namespace: "default" }))).toEqual(["a", "b", "c"]);
    const owned = { tenantId: "ten_a", namespace: "default", ownerKind: "ReplicaSet", ownerName: "web-1" };
    expect(names(await store.listPods(owned))).toEqual(["a", "b", "c"]);
    expect(names(await store.listPods({ tenantId: "ten_a", ownerless: true }))).toEqual(["z"]);

    expect(await store.bindPod("pod_b", "n1", 1)).toBe("bound");
    expect(names(await store.listPods({ nodeName: "n1" }))).toEqual(["b"]);
    expect(names(await store.listPods({ tenantId: "ten_a", unbound: true }))).toEqual(["a", "c", "z"]);
    expect(await store.deleteNode("n1")).toBe(false);

    // A transaction that binds, creates and deletes, then throws, leaves every index as it was.
    await expect(
      store.transaction(async (tx) => {
        await tx.bindPod("pod_a", "n1", 2);
        await tx.createPod(pod("d"));
        await tx.deletePod("pod_b");
        throw new Error("rolled back");
      }),
    ).rejects.toThrow("rolled back");
    expect(names(await store.listPods({ nodeName: "n1" }))).toEqual(["b"]);
    expect(names(await store.listPods(owned))).toEqual(["a", "b", "c"]);
    expect(names(await store.listPods({}))).toEqual(["a", "a", "b", "c", "z"]);

    await store.deletePod("pod_b");
    expect(await store.listPods({ nodeName: "n1" })).toEqual([]);
    expect(await store.deleteNode("n1")).toBe(true);
  });

  it("lists a pod once that left an index and joined it again between two listings", async () => {
    const store = await withNode();
    for (const name of ["b", "a"]) await store.createPod(pod(name));
    expect(names(await store.listPods({ unbound: true }))).toEqual(["a", "b"]);
    // Bound, then rolled back: "a" leaves the unbound index and joins it again, with no listing between.
    await expect(
      store.transaction(async (tx) => {
        await tx.bindPod("pod_a", "n1", 1);
        throw new Error("rolled back");
      }),
    ).rejects.toThrow("rolled back");
    await store.createPod(pod("c"));
    expect(names(await store.listPods({ unbound: true }))).toEqual(["a", "b", "c"]);
    expect(names(await store.listPods({ nodeName: "n1" }))).toEqual([]);
  });

  it("lists objects by kind, tenant and namespace in list order, following creates, writes and deletes", async () => {
    const store = new MemoryStore();
    const object = (kind: string, name: string, namespace = "default", tenantId = "ten_a") => ({
      ...{ id: `obj_${kind}_${tenantId}_${namespace}_${name}`, tenantId, kind, namespace, name, apiVersion: "v1" },
      ...{ uid: `uid-${name}`, labels: {}, annotations: {}, spec: {}, createdAt: 0 },
    });
    for (const name of ["c", "a", "b"]) await store.createObject(object("Service", name));
    await store.createObject(object("Service", "a", "other"));
    await store.createObject(object("Service", "a", "default", "ten_b"));
    await store.createObject(object("ConfigMap", "a"));
    const listed = async (query: Parameters<MemoryStore["listObjects"]>[0]) =>
      (await store.listObjects(query)).map((o) => `${o.tenantId}/${o.namespace}/${o.name}`);
    expect(await listed({ kind: "Service" })).toEqual([
      "ten_a/default/a",
      "ten_b/default/a",
      "ten_a/default/b",
      "ten_a/default/c",
      "ten_a/other/a",
    ]);
    expect(await listed({ kind: "Service", tenantId: "ten_a", namespace: "default" })).toEqual([
      "ten_a/default/a",
      "ten_a/default/b",
      "ten_a/default/c",
    ]);
    const ref = { tenantId: "ten_a", kind: "Service", namespace: "default", name: "b" };
    const written = await store.updateObjectStatus(ref, { seen: true }, { nowMs: 1 });
    expect((await store.listObjects({ kind: "Service", tenantId: "ten_a", namespace: "default" }))[1]).toBe(written);
    await store.deleteObject(ref, { nowMs: 2 });
    expect(await listed({ kind: "Service", tenantId: "ten_a" })).toEqual([
      "ten_a/default/a",
      "ten_a/default/c",
      "ten_a/other/a",
    ]);
  });

  it("runs a call made while a transaction is open after the transaction, never inside it", async () => {
    const store = await withNode();
    let created!: () => void;
    const inside = new Promise<void>((resolve) => {
      created = resolve;
    });
    let finish!: () => void;
    const open = store.transaction(async (tx) => {
      await tx.createPod(pod("a"));
      created();
      await new Promise<void>((resolve) => {
        finish = resolve;
      });
      throw new Error("rolled back");
    });
    await inside;
    const listed = store.listPods({});
    finish();
    await expect(open).rejects.toThrow("rolled back");
    expect(await listed).toEqual([]);
  });

  it("finds the open transaction from its call chain again after an earlier one ended", async () => {
    const store = await withNode();
    let finishFirst!: () => void;
    const holding = new Promise<void>((reached) => {
      void store.transaction(async (tx) => {
        await tx.createPod(pod("a"));
        await new Promise<void>((resolve) => {
          finishFirst = resolve;
          reached();
        });
      });
    });
    await holding;
    // Queued behind the first; its store calls through `store` (not `tx`) run inside it, as `insertPods` does.
    const second = store.transaction(async () => {
      await store.createPod(pod("b"));
      const inside = (await store.listPods({})).map((p) => p.name);
      throw Object.assign(new Error("rolled back"), { inside });
    });
    finishFirst();
    const failure = await second.catch((error: { inside: string[] }) => error);
    expect(failure.inside).toEqual(["a", "b"]);
    expect((await store.listPods({})).map((p) => p.name)).toEqual(["a"]);
  });

  it("hands out frozen records: a caller cannot change what is stored, nor through what it passed in", async () => {
    const store = await withNode();
    const input = pod("a", { labels: { app: "web" } });
    const created = await store.createPod(input);
    input.labels.app = "changed";
    expect(() => {
      created.labels.app = "mutated";
    }).toThrow(TypeError);
    const [listed] = await store.listPods({});
    expect(() => {
      (listed?.status as Record<string, unknown>).phase = "Running";
    }).toThrow(TypeError);
    expect((await store.getPod("pod_a"))?.labels).toEqual({ app: "web" });
    const nodes = await store.listNodes();
    expect(Object.isFrozen(nodes[0])).toBe(true);
  });

  it("shares with the record it replaces what a write passed back unchanged, and copies what it built anew", async () => {
    const store = await withNode();
    await store.createPod(pod("a", { status: { conditions: [{ type: "PodScheduled", status: "True" }] } }));
    const before = await store.getPod("pod_a");
    if (!before) throw new Error("no pod");
    const conditions = [...(before.status.conditions as object[]), { type: "Ready", status: "False" }];
    // A frozen part whose children are not all frozen is the caller's to change: it is copied.
    const extra = Object.freeze({ inner: { note: "mutable" } });
    const status = { ...before.status, conditions, extra };
    const after = await store.updatePodStatus("pod_a", { phase: "Running", ready: false, status }, { nowMs: 1 });
    const kept = after.status.conditions as object[];
    expect(kept[0]).toBe((before.status.conditions as object[])[0]);
    expect(kept).not.toBe(conditions);
    expect(kept[1]).not.toBe(conditions[1]);
    expect(after.status.extra).not.toBe(extra);
    extra.inner.note = "changed";
    expect(after.status.extra).toEqual({ inner: { note: "mutable" } });
    expect(Object.isFrozen(kept[1])).toBe(true);
  });
});
