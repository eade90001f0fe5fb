import { afterAll, beforeAll, expect, it } from "vitest";
import { createTestDatabase, describePostgres, isPostgresReachable } from "../../test/helpers/db.js";
import { openStore, type Store } from "./index.js";

/**
 * A store re-parses on a list only the pods whose resource version moved (src/db/sqlStore.ts), so what
 * it lists must still follow every write: another process's, and one a transaction took back.
 */
describePostgres("pod lists on Postgres", await isPostgresReachable(), () => {
  let reader: Store;
  let writer: Store;
  let database: Awaited<ReturnType<typeof createTestDatabase>>;
  beforeAll(async () => {
    database = await createTestDatabase();
    reader = await openStore({ databaseUrl: database.url });
    writer = await openStore({ databaseUrl: database.url });
  });
  afterAll(async () => {
    await Promise.all([reader.close(), writer.close()]);
    await database.drop();
  });

  const newPod = (name: string) => ({
    id: `pod-${name}`,
    tenantId: "ten_lists",
    namespace: "default",
    name,
    uid: `uid-${name}`,
    ownerKind: null,
    ownerName: null,
    ownerUid: null,
    labels: { app: "web" },
    annotations: {},
    templateHash: null,
    spec: { containers: [{ name: "web", image: "web:1" }] },
    cpuMillis: 10,
    memoryBytes: 1024,
    createdAt: 1,
  });

  it("shows another store's writes and deletions at the next list", async () => {
    const pod = await writer.createPod(newPod("web-a"));
    await writer.createPod(newPod("web-b"));
    expect((await reader.listPods({ tenantId: "ten_lists" })).map((p) => p.phase)).toEqual(["Pending", "Pending"]);
    await writer.updatePodStatus(
      pod.id,
      { phase: "Running", ready: true, status: { podIP: "10.1.0.9" } },
      { nowMs: 2 },
    );
    const [a] = await reader.listPods({ tenantId: "ten_lists" });
    expect(a).toMatchObject({ phase: "Running", ready: true, status: { podIP: "10.1.0.9" } });
    await writer.deletePod(pod.id);
    expect((await reader.listPods({})).map((p) => p.name)).toEqual(["web-b"]);
  });

  it("shows a pod as it was when the transaction that changed it rolled back", async () => {
    const pod = await reader.createPod(newPod("web-c"));
    await expect(
      reader.transaction(async (tx) => {
        await tx.updatePodStatus(pod.id, { phase: "Failed", ready: false, status: {} }, { nowMs: 3 });
        // Listed inside the transaction: its own write shows, and is what the store has parsed last.
        expect((await tx.listPods({ tenantId: "ten_lists" })).find((p) => p.id === pod.id)?.phase).toBe("Failed");
        throw new Error("rolled back");
      }),
    ).rejects.toThrow("rolled back");
    expect((await reader.listPods({ tenantId: "ten_lists" })).find((p) => p.id === pod.id)?.phase).toBe("Pending");
  });

  it("lists and reads a pod it wrote as written, with no second read of the row, and another store's write after it", async () => {
    const created = await writer.createPod(newPod("web-d"));
    const [written] = await writer.updatePodStatuses(
      [
        {
          id: created.id,
          change: { phase: "Running", ready: false, status: { podIP: "10.1.0.7" } },
          expectedResourceVersion: created.resourceVersion,
        },
      ],
      4,
    );
    // The very record the write answered: kept, frozen, not parsed again.
    expect(Object.isFrozen(written)).toBe(true);
    expect((await writer.listPods({ tenantId: "ten_lists" })).find((p) => p.id === created.id)).toBe(written);
    expect(await writer.getPods([created.id])).toEqual([written]);
    expect((await writer.getPods([created.id]))[0]).toBe(written);
    await reader.updatePodStatus(created.id, { phase: "Running", ready: true, status: {} }, { nowMs: 5 });
    expect(await writer.getPods([created.id])).toEqual([expect.objectContaining({ ready: true })]);
  });
});
