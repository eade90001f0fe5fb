import { parseArgs } from "node:util";
import { withClient } from "./commands.js";
import { LOGS_USAGE } from "./usage.js";

const OPTIONS = {
  follow: { type: "boolean", short: "f" },
  previous: { type: "boolean", short: "p" },
  container: { type: "string", short: "c" },
  tail: { type: "string" },
  namespace: { type: "string", short: "n" },
  help: { type: "boolean", short: "h" },
} as const;

/**
 * The API path of `kubernease logs` (kubectl's flags: `-f` follows rather than naming a file here,
 * so `logs` parses its own arguments).
 */
export function logsPath(argv: string[]): string {
  const { values, positionals } = parseArgs({ args: argv, options: OPTIONS, allowPositionals: true, strict: true });
  const [pod, ...rest] = positionals;
  if (!pod || rest.length > 0) throw new Error(`usage: ${LOGS_USAGE}`);
  const query = new URLSearchParams();
  if (values.container) query.set("container", values.container);
  if (values.tail !== undefined) {
    if (!/^\d+$/.test(values.tail)) throw new Error(`--tail must be a whole number of lines, got "${values.tail}"`);
    query.set("tailLines", values.tail);
  }
  if (values.follow) query.set("follow", "true");
  if (values.previous) query.set("previous", "true");
  const namespace = encodeURIComponent(values.namespace ?? "default");
  const search = query.size > 0 ? `?${query}` : "";
  return `/api/v1/namespaces/${namespace}/pods/${encodeURIComponent(pod)}/log${search}`;
}

/** `kubernease logs`: a pod container's output on stdout; with `-f`, until the run ends or Ctrl-C. */
export async function logs(argv: string[]): Promise<number> {
  if (argv.includes("-h") || argv.includes("--help")) {
    console.log(LOGS_USAGE);
    return 0;
  }
  const path = logsPath(argv);
  await withClient((client) => client.stream(path, (text) => process.stdout.write(text)));
  return 0;
}
