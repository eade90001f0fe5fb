import { execFile } from "node:child_process";
import { promisify } from "node:util";
import { expect, it } from "vitest";
import { describePostgres, isPostgresReachable, postgresUrl } from "../../test/helpers/db.js";

const run = promisify(execFile);

/**
 * The driver's mend (scripts/patch-deps.mjs): a transaction that goes on after its connection was lost,
 * as ours do while Postgres restarts, gets a catchable CONNECTION_CLOSED, and the process lives on.
 * Unmended, postgres.js 3.4.9 throws from a `setImmediate` and the process dies. In a child process,
 * so that the unmended driver would fail this test rather than the test runner.
 */
describePostgres("the Postgres driver when a connection is lost", await isPostgresReachable(), () => {
  it("fails a query written to a lost connection with CONNECTION_CLOSED, and the pool serves on", async () => {
    const script = `
      import postgres from "postgres";
      const url = process.env.DATABASE_URL;
      const sql = postgres(url, { max: 1, onnotice: () => {} });
      const admin = postgres(url, { max: 1, onnotice: () => {} });
      let body;
      // begin() rejects as soon as the connection closes; the transaction's own code goes on.
      await sql.begin((tx) => (body = (async () => {
        const [{ pid }] = await tx\`select pg_backend_pid() as pid\`;
        await admin\`select pg_terminate_backend(\${pid})\`;
        // Until the connection has seen its socket close.
        for (let i = 0; i < 100 && (await admin\`select count(*)::int as n from pg_stat_activity where pid = \${pid}\`)[0].n > 0; i++)
          await new Promise((resolve) => setTimeout(resolve, 50));
        await new Promise((resolve) => setTimeout(resolve, 200));
        try { await tx\`select 1\`; return "answered"; } catch (error) { return error.code ?? String(error); }
      })())).catch(() => {});
      const outcome = await body;
      const [{ one }] = await sql\`select 1 as one\`;
      console.log(JSON.stringify({ outcome, one }));
      await Promise.all([sql.end(), admin.end()]);
    `;
    const { stdout } = await run(process.execPath, ["--input-type=module", "-e", script], {
      cwd: process.cwd(),
      env: { ...process.env, DATABASE_URL: postgresUrl },
      timeout: 30_000,
    });
    expect(JSON.parse(stdout.trim())).toEqual({ outcome: "CONNECTION_CLOSED", one: 1 });
  }, 60_000);
});
