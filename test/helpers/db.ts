import { randomBytes } from "node:crypto";
import postgres from "postgres";
import { describe, expect, it } from "vitest";

/** The server tests run against; each test file gets its own database on it. */
export const postgresUrl = process.env.DATABASE_URL ?? "postgres://postgres@127.0.0.1:5432/postgres";

function adminConnection(url = postgresUrl) {
  return postgres(url, { max: 1, connect_timeout: 5, onnotice: () => {} });
}

/** Whether the Postgres server answers, within a few seconds. */
export async function isPostgresReachable(url = postgresUrl): Promise<boolean> {
  const sql = adminConnection(url);
  try {
    await sql`select 1`;
    return true;
  } catch {
    return false;
  } finally {
    await sql.end({ timeout: 1 });
  }
}

/**
 * Creates an empty database with a random name on the test server, so that test
 * files and concurrent runs never see each other's rows. `drop()` removes it,
 * ending any connection a test forgot to close.
 */
export async function createTestDatabase(): Promise<{ url: string; drop(): Promise<void> }> {
  const name = `kn_test_${randomBytes(6).toString("hex")}`;
  const admin = adminConnection();
  try {
    await admin.unsafe(`create database "${name}"`);
  } finally {
    await admin.end();
  }
  const url = new URL(postgresUrl);
  url.pathname = `/${name}`;
  return {
    url: url.toString(),
    async drop() {
      const dropper = adminConnection();
      try {
        await dropper.unsafe(`drop database if exists "${name}" with (force)`);
      } finally {
        await dropper.end();
      }
    },
  };
}

/**
 * Registers a Postgres suite when the server answered (`reachable`). Otherwise it
 * registers a stand-in: failing under `CI=true`, where a missing service is never
 * a skip, and skipped elsewhere, with the reason in its name.
 */
export function describePostgres(title: string, reachable: boolean, suite: () => void): void {
  if (reachable) {
    describe(title, suite);
  } else if (process.env.CI === "true") {
    describe(title, () => {
      it("reaches Postgres (required when CI=true)", () => {
        expect.fail(`Postgres is unreachable at ${postgresUrl}; with CI=true this fails rather than skips`);
      });
    });
  } else {
    describe.skip(`${title} — skipped, Postgres is unreachable at ${postgresUrl}`, () => {
      it("needs Postgres", () => {});
    });
  }
}
