import { existsSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { isAbsolute, join } from "node:path";
import postgres from "postgres";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTestDatabase, describePostgres, isPostgresReachable } from "../../test/helpers/db.js";
import { migrationsFolder, openStore } from "./index.js";

describe("migrations", () => {
  it("are found from this file, whatever the working directory", () => {
    expect(isAbsolute(migrationsFolder)).toBe(true);
    expect(existsSync(join(migrationsFolder, "meta", "_journal.json"))).toBe(true);
  });
});

describe("PGlite in a data folder", () => {
  let parent: string;

  beforeAll(async () => {
    parent = await mkdtemp(join(tmpdir(), "kn-pglite-"));
  });

  afterAll(async () => {
    await rm(parent, { recursive: true, force: true });
  });

  it("keeps its state across restarts, migrating only once", async () => {
    const dataDir = join(parent, "nested", "data");
    const first = await openStore({ dataDir });
    await first.createTenant({ id: "ten_1", name: "acme", createdAt: 1 });
    await first.close();
    const second = await openStore({ dataDir });
    expect(await second.getTenantByName("acme")).toEqual({ id: "ten_1", name: "acme", quota: null, createdAt: 1 });
    await second.close();
  });
});

const reachable = await isPostgresReachable();

describePostgres("Postgres start-up", reachable, () => {
  it("survives several processes migrating one database at once", async () => {
    const database = await createTestDatabase();
    try {
      const stores = await Promise.all(Array.from({ length: 4 }, () => openStore({ databaseUrl: database.url })));
      await stores[0]?.createTenant({ id: "ten_1", name: "acme", createdAt: 1 });
      for (const store of stores) expect((await store.getTenant("ten_1"))?.name).toBe("acme");
      await Promise.all(stores.map((store) => store.close()));

      const sql = postgres(database.url, { max: 1, onnotice: () => {} });
      const applied = await sql`select count(*)::int as n from drizzle.__drizzle_migrations`;
      await sql.end();
      const journal = await import(join(migrationsFolder, "meta", "_journal.json"), { with: { type: "json" } });
      expect(applied[0]?.n).toBe(journal.default.entries.length);
    } finally {
      await database.drop();
    }
  });

  it("leaves room in the pods table's pages, so a pod's status writes can stay on its page", async () => {
    const database = await createTestDatabase();
    try {
      await (await openStore({ databaseUrl: database.url })).close();
      const sql = postgres(database.url, { max: 1, onnotice: () => {} });
      const [row] = await sql`select reloptions from pg_class where relname = 'pods'`;
      await sql.end();
      expect(row?.reloptions).toContain("fillfactor=50");
    } finally {
      await database.drop();
    }
  });
});
