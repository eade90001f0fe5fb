/**
 * `kubernease nodes --simulated`: simulated nodes in a process of their own (as KWOK runs fake
 * kubelets), served over HTTP to every worker through the `NodeProvider` seam (src/providers/remote),
 * so that any number of workers share one simulated cluster, as they would share Docker hosts.
 */
import { randomBytes } from "node:crypto";
import { systemClock } from "../core/clock.js";
import { memoryBytes } from "../core/quantity.js";
import { randomSeed, seededRng } from "../core/rng.js";
import { type ServedProvider, serveProvider } from "../providers/remote/server.js";
import { SimulatedProvider } from "../providers/simulated/index.js";

type Flags = Record<string, string | boolean | undefined>;

export interface NodesConfig {
  host: string;
  port: number;
  token: string;
  /** Whether the token was made up here (and is to be shown), not given. */
  tokenGenerated: boolean;
  seed: string;
  count: number;
  cpuMillis: number;
  memoryBytes: number;
  autoscaleMax?: number;
}

function text(flags: Flags, flag: string, env: string | undefined): string | undefined {
  const value = flags[flag];
  return typeof value === "string" ? value : env || undefined;
}

function wholeNumber(name: string, value: string, min: number): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < min)
    throw new Error(`${name} must be a whole number of at least ${min}, got "${value}"`);
  return n;
}

/** `HOST:PORT`, `[IPv6]:PORT` or a bare port (on 127.0.0.1). */
function listenOf(value: string): { host: string; port: number } {
  const match = /^(?:(\[[0-9a-fA-F:.]+\]|[^:\s]+):)?(\d+)$/.exec(value);
  const port = Number(match?.[2]);
  if (!match || port > 65_535) throw new Error(`--listen must be ADDRESS:PORT such as 127.0.0.1:7070, got "${value}"`);
  return { host: (match[1] ?? "127.0.0.1").replace(/^\[(.*)\]$/, "$1"), port };
}

export function nodesConfig(flags: Flags, env: NodeJS.ProcessEnv): NodesConfig {
  if (flags.simulated !== true) throw new Error("kubernease nodes serves simulated nodes only: pass --simulated");
  const listen = listenOf(text(flags, "listen", env.KUBERNEASE_NODES_LISTEN) ?? "127.0.0.1:7070");
  const cpu = Number(text(flags, "node-cpu", env.KUBERNEASE_NODE_CPU) ?? 4);
  if (!Number.isFinite(cpu) || cpu <= 0) throw new Error("--node-cpu must be a positive number of CPUs");
  const memory = memoryBytes(text(flags, "node-memory", env.KUBERNEASE_NODE_MEMORY) ?? "8Gi");
  if (memory <= 0) throw new Error("--node-memory must be a positive quantity such as 8Gi");
  const count = wholeNumber("--nodes", text(flags, "nodes", env.KUBERNEASE_NODES) ?? "3", 0);
  const max = text(flags, "autoscale-max", env.KUBERNEASE_AUTOSCALE_MAX);
  const given = text(flags, "token", env.KUBERNEASE_NODES_TOKEN);
  return {
    ...listen,
    token: given ?? randomBytes(24).toString("base64url"),
    tokenGenerated: given === undefined,
    seed: text(flags, "seed", env.KUBERNEASE_SEED) ?? randomSeed(),
    count,
    cpuMillis: Math.round(cpu * 1000),
    memoryBytes: memory,
    ...(max !== undefined ? { autoscaleMax: wholeNumber("--autoscale-max", max, Math.max(1, count)) } : {}),
  };
}

export interface RunningNodes extends ServedProvider {
  provider: SimulatedProvider;
  /** Stops serving, then stops the nodes. */
  stop(): Promise<void>;
}

/** The simulated pool served at `host:port`; in real time (the system clock), seeded by `seed`. */
export async function startNodes(config: NodesConfig): Promise<RunningNodes> {
  const provider = new SimulatedProvider({
    clock: systemClock,
    rng: seededRng(config.seed).fork("provider"),
    pools: [
      {
        name: "default",
        count: config.count,
        cpuMillis: config.cpuMillis,
        memoryBytes: config.memoryBytes,
        ...(config.autoscaleMax !== undefined ? { autoscale: { min: config.count, max: config.autoscaleMax } } : {}),
      },
    ],
  });
  let served: ServedProvider;
  try {
    served = await serveProvider(provider, { host: config.host, port: config.port, token: config.token });
  } catch (error) {
    await provider.close();
    throw error;
  }
  return {
    ...served,
    provider,
    async stop() {
      await served.close();
      await provider.close();
    },
  };
}

/** The `kubernease nodes` command: serves until SIGINT or SIGTERM. */
export async function nodes(flags: Flags, env: NodeJS.ProcessEnv = process.env): Promise<void> {
  const config = nodesConfig(flags, env);
  const running = await startNodes(config);
  const lines = [
    `kubernease nodes: ${config.count} simulated nodes served at ${running.url} (seed ${config.seed})`,
    `  workers: --nodes-url ${running.url} with KUBERNEASE_NODES_TOKEN set`,
  ];
  if (config.tokenGenerated) lines.push(`  token (shown once): ${config.token}`);
  console.log(lines.join("\n"));
  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    try {
      console.error(`${signal}: stopping`);
      await running.stop();
    } finally {
      // Whatever went wrong on the way out, the process ends: a supervisor's SIGTERM must not leave it half-stopped.
      process.exit(0);
    }
  };
  process.on("SIGINT", () => void stop("SIGINT"));
  process.on("SIGTERM", () => void stop("SIGTERM"));
}
