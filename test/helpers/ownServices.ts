/**
 * A Postgres and a Redis of a test's own, on free ports, so that a test may stop and restart them
 * without disturbing any other test (R2 in test/e2e/distributed.test.ts). Postgres comes from
 * Debian's binaries (`initdb`, `pg_ctl`), run as the `postgres` user when the tests run as root;
 * Redis is `redis-server` with no persistence.
 */
import { type ChildProcess, execFile, spawn } from "node:child_process";
import { chownSync, existsSync, mkdtempSync, readdirSync, rmSync } from "node:fs";
import { userInfo } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { freePort } from "./haproxy.js";

const run = promisify(execFile);

/** The newest Debian Postgres binaries folder, or undefined. */
function postgresBin(): string | undefined {
  const root = "/usr/lib/postgresql";
  if (!existsSync(root)) return undefined;
  const versions = readdirSync(root)
    .filter((v) => existsSync(join(root, v, "bin", "initdb")))
    .sort((a, b) => Number(b) - Number(a));
  return versions[0] === undefined ? undefined : join(root, versions[0], "bin");
}

export function canRunOwnServices(): boolean {
  return postgresBin() !== undefined && existsSync("/usr/bin/redis-server");
}

/** Runs a Postgres binary as the `postgres` user when we are root (initdb refuses root). */
async function asPostgres(binary: string, args: string[]): Promise<void> {
  const root = userInfo().uid === 0;
  await run(root ? "runuser" : binary, root ? ["-u", "postgres", "--", binary, ...args] : args, { timeout: 60_000 });
}

export interface OwnService {
  url: string;
  stop(): Promise<void>;
  start(): Promise<void>;
  /** Removes what it wrote. */
  destroy(): Promise<void>;
}

export async function startOwnPostgres(): Promise<OwnService> {
  const bin = postgresBin();
  if (!bin) throw new Error("no Postgres binaries under /usr/lib/postgresql (apt-get install postgresql)");
  const dir = mkdtempSync("/tmp/kn-own-pg-");
  const data = join(dir, "data");
  if (userInfo().uid === 0) chownSync(dir, Number((await run("id", ["-u", "postgres"])).stdout.trim()), -1);
  const port = await freePort();
  await asPostgres(join(bin, "initdb"), ["-D", data, "-A", "trust", "-U", "postgres", "--no-sync"]);
  const options = `-p ${port} -k ${dir} -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=100`;
  const service: OwnService = {
    url: `postgres://postgres@127.0.0.1:${port}/postgres`,
    start: () => asPostgres(join(bin, "pg_ctl"), ["-D", data, "-o", options, "-l", join(dir, "log"), "-w", "start"]),
    stop: () => asPostgres(join(bin, "pg_ctl"), ["-D", data, "-m", "immediate", "-w", "stop"]),
    async destroy() {
      await service.stop().catch(() => {});
      rmSync(dir, { recursive: true, force: true });
    },
  };
  await service.start();
  return service;
}

export async function startOwnRedis(): Promise<OwnService> {
  const port = await freePort();
  let child: ChildProcess | undefined;
  const service: OwnService = {
    url: `redis://127.0.0.1:${port}`,
    async start() {
      child = spawn(
        "redis-server",
        ["--port", String(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
        {
          stdio: "ignore",
        },
      );
      // Bounded: up to 10 s for it to answer.
      for (let i = 0; i < 200; i++) {
        const ok = await run("redis-cli", ["-p", String(port), "ping"], { timeout: 2_000 })
          .then((r) => r.stdout.trim() === "PONG")
          .catch(() => false);
        if (ok) return;
        await new Promise((r) => setTimeout(r, 50));
      }
      throw new Error(`redis-server on ${port} did not answer`);
    },
    async stop() {
      const running = child;
      child = undefined;
      if (!running || running.exitCode !== null) return;
      const exited = new Promise((resolve) => running.once("exit", resolve));
      running.kill("SIGKILL");
      await exited;
    },
    destroy: () => service.stop(),
  };
  await service.start();
  return service;
}
