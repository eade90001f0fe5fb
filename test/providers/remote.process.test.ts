/**
 * Simulated nodes in a process of their own (`kubernease nodes --simulated`, here through its
 * `nodes` entry point), reached by a RemoteProvider: what a worker sees when that process hangs,
 * dies, and comes back.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { fileURLToPath } from "node:url";
import { afterAll, describe, expect, it } from "vitest";
import { nodesConfig } from "../../src/cli/nodes.js";
import { ProviderUnreachableError, RemoteProvider } from "../../src/providers/remote/client.js";
import type { PodRuntimeSpec, ProviderEvent } from "../../src/providers/types.js";
import { freePort } from "../helpers/haproxy.js";
import { TYPESCRIPT_LOADER } from "../helpers/processes.js";

const NODES_TS = fileURLToPath(new URL("../../src/cli/nodes.ts", import.meta.url));
const TOKEN = "process-test-token";

async function until(what: string, check: () => boolean | Promise<boolean>, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting until ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

interface NodesProcess {
  child: ChildProcess;
  output(): string;
  exited: Promise<void>;
}

const children: ChildProcess[] = [];
afterAll(() => {
  for (const child of children) if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
});

/** `kubernease nodes --simulated` on `port`, ready once it prints its URL. */
async function startNodes(port: number): Promise<NodesProcess> {
  const script =
    `import(${JSON.stringify(NODES_TS)}).then((m) => m.nodes({ simulated: true, listen: "127.0.0.1:${port}", ` +
    `nodes: "2", seed: "process-test" }))`;
  const child = spawn(process.execPath, ["--import", TYPESCRIPT_LOADER, "-e", script], {
    cwd: fileURLToPath(new URL("../..", import.meta.url)),
    env: { ...process.env, KUBERNEASE_NODES_TOKEN: TOKEN },
    stdio: ["ignore", "pipe", "pipe"],
  });
  children.push(child);
  let out = "";
  child.stdout?.on("data", (d) => (out += d));
  child.stderr?.on("data", (d) => (out += d));
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  await until(`the nodes process serves on ${port}`, () => {
    if (child.exitCode !== null) throw new Error(`the nodes process exited with ${child.exitCode}:\n${out}`);
    return out.includes(`http://127.0.0.1:${port}`);
  });
  return { child, output: () => out, exited };
}

function pod(id: string): PodRuntimeSpec {
  return {
    podId: id,
    uid: `uid-${id}`,
    tenantId: "t1",
    namespace: "default",
    name: id,
    nodeName: "sim-default-1",
    spec: { containers: [{ name: "web", image: "nginx:1.27" }] },
  };
}

const runningIn = (events: ProviderEvent[], podId: string) =>
  events.some((e) => e.type === "pod" && e.pod.podId === podId && e.pod.phase === "Running");

describe("simulated nodes in their own process", () => {
  it("fails to connect, within its bound, when nothing answers", async () => {
    const port = await freePort();
    const connecting = RemoteProvider.connect({ url: `http://127.0.0.1:${port}`, token: TOKEN, connectTimeoutMs: 500 });
    await expect(connecting).rejects.toThrow(/could not be reached/);
  });

  it("parses its flags: --simulated required, --listen, a token made up when none is given", () => {
    expect(() => nodesConfig({}, {})).toThrow(/--simulated/);
    const config = nodesConfig({ simulated: true, listen: "0.0.0.0:7171", nodes: "5", seed: "s" }, {});
    expect(config).toMatchObject({ host: "0.0.0.0", port: 7171, count: 5, seed: "s", tokenGenerated: true });
    expect(config.token.length).toBeGreaterThanOrEqual(32);
    expect(nodesConfig({ simulated: true }, { KUBERNEASE_NODES_TOKEN: "t" })).toMatchObject({
      host: "127.0.0.1",
      port: 7070,
      token: "t",
      tokenGenerated: false,
    });
    expect(() => nodesConfig({ simulated: true, listen: "somewhere" }, {})).toThrow(/--listen/);
    expect(() => nodesConfig({ simulated: true, nodes: "3", "autoscale-max": "2" }, {})).toThrow(/autoscale-max/);
  });

  it("rejects calls, never hangs, while the process is stopped or dead; its events flow again once it is back", async () => {
    const port = await freePort();
    const logs: string[] = [];
    // A worker may start before its nodes: connecting waits (bounded) for the process to answer.
    const connecting = RemoteProvider.connect({
      url: `http://127.0.0.1:${port}`,
      token: TOKEN,
      callTimeoutMs: 2_000,
      reconnectMs: { minMs: 50, maxMs: 500 },
      connectTimeoutMs: 60_000,
      log: (message) => logs.push(message),
    });
    const first = await startNodes(port);
    const provider = await connecting;
    try {
      const events: ProviderEvent[] = [];
      provider.subscribe((e) => events.push(e));
      await until("the event stream is open", () => logs.includes("event stream connected"));
      await provider.startPod(pod("before"));
      await until("the pod runs", () => runningIn(events, "before"));
      expect(await provider.listNodes()).toHaveLength(2);

      // Stopped (SIGSTOP): connections are accepted by the kernel but nothing answers; the timeout ends the call.
      first.child.kill("SIGSTOP");
      await expect(provider.listNodes()).rejects.toThrow(/did not answer in 2000 ms/);
      first.child.kill("SIGCONT");
      expect(await provider.listNodes()).toHaveLength(2);

      // Killed (SIGKILL): nothing listens; calls fail at once, as unreachable.
      first.child.kill("SIGKILL");
      await first.exited;
      const failed = await provider.listPods().catch((error: unknown) => error);
      expect(failed).toBeInstanceOf(ProviderUnreachableError);
      expect(String(failed)).toMatch(/could not be reached/);
      await until("the stream notices", () =>
        logs.some((m) => m === "event stream ended" || m === "event stream broke"),
      );

      // Back on the same port: the stream reconnects by itself, and the new process's events flow.
      const second = await startNodes(port);
      await until("the event stream reconnects", () =>
        logs.includes("event stream reconnected; events meanwhile were missed"),
      );
      await provider.startPod(pod("after"));
      await until("the new process's pod is heard of", () => runningIn(events, "after"));
      // A new process has nodes of its own: the first one's pods went with it.
      expect((await provider.listPods()).map((p) => p.podId)).toEqual(["after"]);
      second.child.kill("SIGTERM");
      await second.exited;
      expect(second.output()).toMatch(/SIGTERM: stopping/);
    } finally {
      await provider.close();
    }
  });
});
