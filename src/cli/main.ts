import { parseArgs } from "node:util";
import type { RunningProcess } from "./processes.js";
import { LOGS_USAGE, NODE_USAGE, NODES_USAGE, SIMULATE_USAGE } from "./usage.js";

// Each command loads its own modules when it runs: a client command (or `--help`) loads none of the
// server's (Postgres, Redis, Docker, the simulator), and starts in a fraction of the time.

const USAGE = `kubernease — here's some stuff to run, please run it, thank you.

Platform:
  kubernease serve [--port 8443] [--host 127.0.0.1] [--data-dir ./.kubernease] [--insecure-http]
                   [--tls-cert FILE --tls-key FILE] [--nodes 3 --node-cpu 4 --node-memory 8Gi] [--seed S]
                   [--autoscale-max N] [--docker [NAME=]unix:///var/run/docker.sock,[NAME=]tcp://HOST:PORT,…]
                   [--provider simulated|docker] [--base-domain apps.example]
                   [--proxy 127.0.0.1:8080 [--proxy-tls 127.0.0.1:8444 [--hsts-max-age N] [--proxy-cert PEM]]
                    [--proxy-attach DIR]]
  kubernease api    --database-url URL --redis-url URL [--port 8443] [serve's TLS, --base-domain]
                    [--docker … | --provider docker | --nodes-url URL]   (the workers' nodes: logs, registrations)
  kubernease worker --database-url URL --redis-url URL [--port 8081] [--concurrency 8] [--queue-prefix kubernease]
                    (--docker … | --nodes-url URL)     Several of each may run; one worker leads the singleton duties.
  ${NODES_USAGE}
  ${NODE_USAGE}
Client:
  kubernease login --server URL [--ca CA.crt] --key KEY
  kubernease apply -f FILE [--dry-run] [-n NAMESPACE]
  kubernease get KIND [NAME] [-n NAMESPACE | -A] [-o yaml|json]
  kubernease describe KIND NAME [-n NAMESPACE]
  kubernease scale deployment NAME --replicas N [-n NAMESPACE]
  kubernease rollout status|history|undo|pause|resume deployment/NAME [--to-revision N] [--timeout SECONDS]
  kubernease delete -f FILE | KIND NAME [-n NAMESPACE]
  ${LOGS_USAGE}
Simulation:
  ${SIMULATE_USAGE}
  kubernease snapshot [-o FILE]      the live cluster (nodes as pools, every tenant's workloads) as a scenario; operator key`;

const OPTIONS = {
  port: { type: "string" },
  host: { type: "string" },
  "data-dir": { type: "string" },
  "database-url": { type: "string" },
  "redis-url": { type: "string" },
  "insecure-http": { type: "boolean" },
  "tls-cert": { type: "string" },
  "tls-key": { type: "string" },
  nodes: { type: "string" },
  "node-cpu": { type: "string" },
  "node-memory": { type: "string" },
  "autoscale-max": { type: "string" },
  docker: { type: "string" },
  "base-domain": { type: "string" },
  provider: { type: "string" },
  proxy: { type: "string" },
  "proxy-tls": { type: "string" },
  "hsts-max-age": { type: "string" },
  "proxy-attach": { type: "string" },
  "proxy-cert": { type: "string" },
  concurrency: { type: "string" },
  "queue-prefix": { type: "string" },
  "nodes-url": { type: "string" },
  simulated: { type: "boolean" },
  listen: { type: "string" },
  token: { type: "string" },
  seed: { type: "string" },
  server: { type: "string" },
  ca: { type: "string" },
  key: { type: "string" },
  filename: { type: "string", short: "f" },
  namespace: { type: "string", short: "n" },
  "all-namespaces": { type: "boolean", short: "A" },
  output: { type: "string", short: "o" },
  "dry-run": { type: "boolean" },
  replicas: { type: "string" },
  "to-revision": { type: "string" },
  timeout: { type: "string" },
  help: { type: "boolean", short: "h" },
} as const;

async function serve(flags: Record<string, string | boolean | undefined>): Promise<void> {
  const { serveConfig } = await import("./config.js");
  const { startPlatform } = await import("./platform.js");
  const config = serveConfig(flags, process.env);
  const platform = await startPlatform({ ...config, autoscaleMax: autoscaleMax(flags, config.nodes.count) });
  const lines = [`kubernease is serving at ${platform.url}`];
  if (platform.caPath) lines.push(`  CA certificate: ${platform.caPath}`);
  for (const url of platform.proxyUrls ?? []) lines.push(`  tenants' routes (HAProxy): ${url}`);
  lines.push(`  store: ${platform.store.backend}${config.databaseUrl ? "" : ` (${config.dataDir})`}`);
  if (platform.bootstrap.newAdminKey) lines.push(`  admin key (shown once): ${platform.bootstrap.newAdminKey}`);
  const tenant = platform.bootstrap.firstTenant;
  if (tenant) {
    lines.push(`  tenant "${tenant.name}" key (shown once): ${tenant.key}`);
    const ca = platform.caPath ? ` --ca ${platform.caPath}` : "";
    lines.push(`  log in: npx kubernease login --server ${platform.url}${ca} --key ${tenant.key}`);
  }
  console.log(lines.join("\n"));
  stopOnSignals(platform);
}

/** Stops the process cleanly on SIGINT or SIGTERM. */
function stopOnSignals(running: Pick<RunningProcess, "stop">): void {
  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    console.error(`${signal}: stopping`);
    await running.stop();
    process.exit(0);
  };
  process.on("SIGINT", () => void stop("SIGINT"));
  process.on("SIGTERM", () => void stop("SIGTERM"));
}

/** `--autoscale-max N` (or KUBERNEASE_AUTOSCALE_MAX): the simulated pool scales between `--nodes` and N nodes. */
function autoscaleMax(flags: Record<string, string | boolean | undefined>, nodes: number): number | undefined {
  const flag = flags["autoscale-max"];
  const value = typeof flag === "string" ? flag : process.env.KUBERNEASE_AUTOSCALE_MAX || undefined;
  if (value === undefined) return undefined;
  const max = Number(value);
  if (!Number.isInteger(max) || max < Math.max(1, nodes)) {
    throw new Error(`--autoscale-max must be a whole number of nodes, at least --nodes (${nodes}), got "${value}"`);
  }
  return max;
}

export async function main(argv: string[]): Promise<number> {
  // `simulate` has flags of its own (--seeds, --json), so it is dispatched before the shared parse.
  if (argv[0] === "simulate") return (await import("./simulate.js")).simulate(argv.slice(1));
  // `logs -f` follows (kubectl's meaning), where every other command's -f names a file.
  if (argv[0] === "logs") return (await import("./logs.js")).logs(argv.slice(1));
  const { values, positionals } = parseArgs({ args: argv, options: OPTIONS, allowPositionals: true, strict: true });
  const [command, ...args] = positionals;
  if (values.help || !command) {
    console.log(USAGE);
    return command || values.help ? 0 : 1;
  }
  const commands: Record<string, () => Promise<string | undefined>> = {
    serve: async () => {
      await serve(values);
      return undefined;
    },
    login: async () => (await import("./commands.js")).login(values),
    snapshot: async () => (await import("./commands.js")).snapshot(values),
    apply: async () => (await import("./commands.js")).apply(values),
    get: async () => (await import("./commands.js")).get(args, values),
    delete: async () => (await import("./commands.js")).del(args, values),
    scale: async () => (await import("./commands.js")).scale(args, values),
    describe: async () => (await import("./describe.js")).describe(args, values),
    rollout: async () => (await import("./rollout.js")).rollout(args, values),
    node: async () => (await import("./firewall.js")).node(args),
    nodes: async () => {
      await (await import("./nodes.js")).nodes(values);
      return undefined;
    },
    api: async () => {
      const { workerConfig } = await import("./config.js");
      const { startApi } = await import("./processes.js");
      const api = await startApi(workerConfig(values, process.env));
      console.log(`kubernease api is serving at ${api.url}${api.caPath ? `\n  CA certificate: ${api.caPath}` : ""}`);
      stopOnSignals(api);
      return undefined;
    },
    worker: async () => {
      const { workerConfig } = await import("./config.js");
      const { startWorker } = await import("./processes.js");
      const config = { ...workerConfig(values, process.env), ...(values.port ? {} : { port: 8081 }) };
      const worker = await startWorker(config);
      console.log(`kubernease worker is running; health at ${worker.url}/healthz`);
      stopOnSignals(worker);
      return undefined;
    },
  };
  const run = commands[command];
  if (!run) {
    console.error(`unknown command "${command}"\n\n${USAGE}`);
    return 1;
  }
  const output = await run();
  if (output) console.log(output);
  return 0;
}

main(process.argv.slice(2)).then(
  (code) => {
    if (code !== 0) process.exit(code);
  },
  (error: unknown) => {
    console.error(`error: ${error instanceof Error ? error.message : String(error)}`);
    process.exit(1);
  },
);
