import { mkdir } from "node:fs/promises";
import { dirname } from "node:path";
import { PGlite } from "@electric-sql/pglite";
import { drizzle as drizzlePglite } from "drizzle-orm/pglite";
import { drizzle as drizzlePostgres } from "drizzle-orm/postgres-js";
import postgres from "postgres";
import { MemoryStore } from "./memoryStore.js";
import { migratePglite, migratePostgres } from "./migrate.js";
import * as schema from "./schema/index.js";
import { SqlStore } from "./sqlStore.js";
import type { Store } from "./types.js";

export { MemoryStore } from "./memoryStore.js";
export { migrationsFolder } from "./migrate.js";
export { SqlStore } from "./sqlStore.js";
export * from "./types.js";

export interface OpenStoreOptions {
  /** A Postgres server (`postgres://…`); wins over `dataDir`. */
  databaseUrl?: string;
  /** PGlite's data folder; without it (and without a URL) PGlite runs in memory. */
  dataDir?: string;
  /** The in-memory store of the simulator and unit tests. */
  memory?: boolean;
}

/** Opens the store the options ask for, with its migrations applied. */
export async function openStore(options: OpenStoreOptions): Promise<Store> {
  if (options.memory) return new MemoryStore();
  if (options.databaseUrl) return openPostgres(options.databaseUrl);
  return openPglite(options.dataDir);
}

async function openPostgres(databaseUrl: string): Promise<Store> {
  // Notices (e.g. "relation already exists, skipping") are noise in our logs.
  const client = postgres(databaseUrl, { max: 10, onnotice: () => {} });
  const db = drizzlePostgres({ client, schema });
  try {
    await migratePostgres(db, client);
  } catch (error) {
    await client.end();
    throw error;
  }
  // Leases get a connection of their own: a renewal must not queue behind a busy process's queries, or
  // the leader loses its lease for being busy, and each new leader's start-up makes everyone busier.
  const leaseClient = postgres(databaseUrl, { max: 1, onnotice: () => {} });
  const leases = drizzlePostgres({ client: leaseClient, schema });
  // Queries still under way get 5 s to finish: a close never waits on a connection that will not answer.
  const close = async () => {
    await Promise.all([client.end({ timeout: 5 }), leaseClient.end({ timeout: 5 })]);
  };
  return new SqlStore(db, "postgres", close, leases);
}

async function openPglite(dataDir: string | undefined): Promise<Store> {
  // PGlite creates its data folder but not the folders above it. PGlite's own
  // schemes (`memory://`, `idb://`) are not paths.
  if (dataDir !== undefined && !dataDir.includes("://")) await mkdir(dirname(dataDir), { recursive: true });
  const client = dataDir === undefined ? new PGlite() : new PGlite(dataDir);
  const db = drizzlePglite({ client, schema });
  try {
    await migratePglite(db);
  } catch (error) {
    await client.close();
    throw error;
  }
  return new SqlStore(db, "pglite", () => client.close());
}
