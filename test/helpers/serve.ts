import { type ChildProcess, spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { Agent, fetch } from "undici";
import { assertNoNodeLeak, type KnownNode } from "./leaks.js";

const BIN = fileURLToPath(new URL("../../bin/kubernease.js", import.meta.url));

export interface Served {
  url: string;
  caPath: string;
  adminKey?: string;
  tenantKey?: string;
  output: () => string;
  stop(): Promise<number | null>;
  /** `kill -9`, as a crash: no shutdown runs. Resolves once the process has exited. */
  kill(): Promise<void>;
}

/**
 * Runs `kubernease serve` as its own process, as a user would, and reads what it prints. `args` are
 * more flags (`--docker …`, `--seed …`).
 */
export async function serve(
  dataDir: string,
  env: Record<string, string> = {},
  timeoutMs = 60_000,
  args: string[] = [],
): Promise<Served> {
  const child: ChildProcess = spawn(process.execPath, [BIN, "serve", "--port", "0", "--data-dir", dataDir, ...args], {
    env: { ...process.env, DATABASE_URL: "", ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let stdout = "";
  let stderr = "";
  child.stdout?.on("data", (d) => (stdout += d));
  child.stderr?.on("data", (d) => (stderr += d));
  const deadline = Date.now() + timeoutMs;
  while (!/serving at (\S+)/.test(stdout)) {
    if (child.exitCode !== null) throw new Error(`serve exited with ${child.exitCode}:\n${stdout}\n${stderr}`);
    if (Date.now() > deadline) {
      child.kill("SIGKILL");
      throw new Error(`serve did not start within ${timeoutMs} ms:\n${stdout}\n${stderr}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  const url = /serving at (\S+)/.exec(stdout)?.[1] as string;
  return {
    url,
    caPath: /CA certificate: (\S+)/.exec(stdout)?.[1] as string,
    adminKey: /admin key \(shown once\): (\S+)/.exec(stdout)?.[1],
    tenantKey: /tenant "default" key \(shown once\): (\S+)/.exec(stdout)?.[1],
    output: () => stdout + stderr,
    stop: () =>
      new Promise((resolve) => {
        if (child.exitCode !== null || child.signalCode !== null) return resolve(child.exitCode);
        const timer = setTimeout(() => child.kill("SIGKILL"), 20_000);
        child.once("exit", (code) => {
          clearTimeout(timer);
          resolve(code);
        });
        child.kill("SIGTERM");
      }),
    kill: () =>
      new Promise((resolve) => {
        if (child.exitCode !== null || child.signalCode !== null) return resolve();
        child.once("exit", () => resolve());
        child.kill("SIGKILL");
      }),
  };
}

/** An HTTPS client that trusts only the platform's CA; tenant responses go through the leak recorder. */
export function httpsClient(url: string, caPath: string, key: string, nodes: () => Promise<KnownNode[]>) {
  const dispatcher = new Agent({ connect: { ca: readFileSync(caPath, "utf8") } });
  return {
    async call(method: string, path: string, body?: string, contentType = "application/yaml") {
      const res = await fetch(new URL(path, url), {
        method,
        dispatcher,
        headers: { authorization: `Bearer ${key}`, ...(body ? { "content-type": contentType } : {}) },
        body,
      });
      const text = await res.text();
      assertNoNodeLeak(`${method} ${path}`, text, await nodes());
      return { status: res.status, body: JSON.parse(text) as any };
    },
    close: () => dispatcher.close(),
  };
}
