/**
 * The production processes as tests run them: `kubernease nodes --simulated`, and any number of
 * `kubernease worker`s, each a child process of its own that a test may SIGKILL and start again.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { fileURLToPath } from "node:url";
import { freePort } from "./haproxy.js";

const BIN = fileURLToPath(new URL("../../bin/kubernease.js", import.meta.url));
/** `node --import` this to run a TypeScript file in a child process, as the `kubernease` command does. */
export const TYPESCRIPT_LOADER = fileURLToPath(new URL("../../bin/typescript.mjs", import.meta.url));

export interface Child {
  readonly pid: number | undefined;
  output(): string;
  alive(): boolean;
  /** `kill -9`: no shutdown runs. Resolves once it has exited. */
  kill(): Promise<void>;
  /** SIGTERM, then SIGKILL after `timeoutMs`. */
  stop(timeoutMs?: number): Promise<void>;
}

/** Spawns `kubernease ARGS` and waits (bounded) until its output matches `ready`. */
export async function spawnKubernease(
  args: string[],
  env: Record<string, string>,
  ready: RegExp,
  timeoutMs = 60_000,
): Promise<Child> {
  const child: ChildProcess = spawn(process.execPath, [BIN, ...args], {
    env: { ...process.env, ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let out = "";
  child.stdout?.on("data", (d) => (out += d));
  child.stderr?.on("data", (d) => (out += d));
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  const deadline = Date.now() + timeoutMs;
  while (!ready.test(out)) {
    if (child.exitCode !== null) throw new Error(`kubernease ${args[0]} exited with ${child.exitCode}:\n${out}`);
    if (Date.now() > deadline) {
      child.kill("SIGKILL");
      throw new Error(`kubernease ${args[0]} was not ready within ${timeoutMs} ms:\n${out}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  const alive = () => child.exitCode === null && child.signalCode === null;
  return {
    pid: child.pid,
    output: () => out,
    alive,
    async kill() {
      if (!alive()) return;
      child.kill("SIGKILL");
      await exited;
    },
    async stop(stopMs = 20_000) {
      if (!alive()) return;
      child.kill("SIGTERM");
      const timer = setTimeout(() => child.kill("SIGKILL"), stopMs);
      await exited;
      clearTimeout(timer);
    },
  };
}

/** Simulated nodes in their own process; its URL and token for `--nodes-url`. */
export async function spawnNodes(token: string, nodes = 10, extra: string[] = []): Promise<Child & { url: string }> {
  const port = await freePort();
  const child = await spawnKubernease(
    ["nodes", "--simulated", "--listen", `127.0.0.1:${port}`, "--nodes", String(nodes), ...extra],
    { KUBERNEASE_NODES_TOKEN: token },
    new RegExp(`127\\.0\\.0\\.1:${port}`),
  );
  return { ...child, url: `http://127.0.0.1:${port}` };
}

export interface WorkerEnv {
  databaseUrl: string;
  redisUrl: string;
  queuePrefix: string;
  nodesUrl: string;
  nodesToken: string;
  /** A short lease, so a killed leader is replaced within the test's bounds. */
  leaseTtlMs?: number;
}

/** One `kubernease worker`, ready once it has started its queues and health server. */
export async function spawnWorker(env: WorkerEnv, dataDir: string): Promise<Child> {
  return spawnKubernease(
    [
      "worker",
      "--port",
      "0",
      "--data-dir",
      dataDir,
      "--database-url",
      env.databaseUrl,
      "--redis-url",
      env.redisUrl,
      "--queue-prefix",
      env.queuePrefix,
      "--nodes-url",
      env.nodesUrl,
    ],
    {
      KUBERNEASE_NODES_TOKEN: env.nodesToken,
      KUBERNEASE_LEASE_TTL_MS: String(env.leaseTtlMs ?? 3_000),
    },
    /worker is running/,
  );
}
