import { fileURLToPath } from "node:url";
import type { PgliteDatabase } from "drizzle-orm/pglite";
import { migrate as migratePgliteDb } from "drizzle-orm/pglite/migrator";
import type { PostgresJsDatabase } from "drizzle-orm/postgres-js";
import { migrate as migratePostgresDb } from "drizzle-orm/postgres-js/migrator";
import type { Sql } from "postgres";
import type * as schema from "./schema/index.js";

/** Resolved from this file, not from the working directory, so any cwd works. */
export const migrationsFolder = fileURLToPath(new URL("../../migrations", import.meta.url));

/** An arbitrary constant that every kubernease process agrees on ("knmg"). */
const MIGRATION_LOCK_KEY = 0x6b6e6d67;

/** How long a start-up waits for another process's migration before giving up. */
const MIGRATION_LOCK_TIMEOUT = "120s";

/**
 * Applies pending migrations to a Postgres server. Several API and worker
 * processes may start at once: drizzle's migrator alone would race on creating
 * its bookkeeping table, so the migration runs under a session advisory lock,
 * held on a reserved connection while the migrator uses another.
 */
export async function migratePostgres(db: PostgresJsDatabase<typeof schema>, client: Sql): Promise<void> {
  const lockConnection = await client.reserve();
  try {
    await lockConnection.unsafe(`set lock_timeout = '${MIGRATION_LOCK_TIMEOUT}'`);
    await lockConnection`select pg_advisory_lock(${MIGRATION_LOCK_KEY})`;
    try {
      await migratePostgresDb(db, { migrationsFolder });
    } finally {
      await lockConnection`select pg_advisory_unlock(${MIGRATION_LOCK_KEY})`;
      await lockConnection`reset lock_timeout`;
    }
  } finally {
    lockConnection.release();
  }
}

/** PGlite is embedded in one process, so there is nobody to race with. */
export async function migratePglite(db: PgliteDatabase<typeof schema>): Promise<void> {
  await migratePgliteDb(db, { migrationsFolder });
}
