import { afterAll, beforeAll, expect, it } from "vitest";
import { createTestDatabase, describePostgres, isPostgresReachable } from "../../test/helpers/db.js";
import { openStore, type Store } from "./index.js";

describePostgres("leases on Postgres", await isPostgresReachable(), () => {
  let store: Store;
  let database: Awaited<ReturnType<typeof createTestDatabase>>;
  beforeAll(async () => {
    database = await createTestDatabase();
    store = await openStore({ databaseUrl: database.url });
  });
  afterAll(async () => {
    await store.close();
    await database.drop();
  });

  it("are taken and renewed while every connection of the store's pool is busy", async () => {
    await store.createTenant({ id: "ten_busy", name: "busy", createdAt: 0 });
    let release = () => {};
    const held = new Promise<void>((resolve) => {
      release = resolve;
    });
    // One transaction holds the tenant's lock until released; the other eleven wait for it, each on a
    // connection of its own, so that the pool (10) has none left.
    const busy = Array.from({ length: 12 }, (_, i) =>
      store.transaction(async (tx) => {
        await tx.lockTenant("ten_busy");
        if (i === 0) await held;
      }),
    );
    try {
      await new Promise((resolve) => setTimeout(resolve, 200));
      const taken = store.acquireLease("control-plane", "me", 3_000, 1_000);
      const outcome = await Promise.race([taken, held.then(() => "pool freed first" as const)]);
      expect(outcome).toMatchObject({ name: "control-plane", holder: "me", term: 1 });
      expect(await store.acquireLease("control-plane", "me", 3_000, 2_000)).toMatchObject({ expiresAt: 5_000 });
      await store.releaseLease("control-plane", "me");
      expect(await store.acquireLease("control-plane", "other", 3_000, 2_000)).toMatchObject({ holder: "other" });
    } finally {
      release();
      await Promise.all(busy);
    }
  });

  it("join the transaction they are called in", async () => {
    await expect(
      store.transaction(async () => {
        // Called on the store itself, inside the transaction: it joins it, as every store call does.
        await store.acquireLease("in-tx", "me", 3_000, 1_000);
        throw new Error("undo");
      }),
    ).rejects.toThrow("undo");
    expect(await store.acquireLease("in-tx", "other", 3_000, 1_000)).toMatchObject({ holder: "other", term: 1 });
  });
});
