import type { ApiClient } from "./client.js";
import { type Flags, namespaceOf, withClient } from "./commands.js";

// biome-ignore lint/suspicious/noExplicitAny: API objects are read loosely, as kubectl reads them.
type Obj = Record<string, any>;

const BAR_WIDTH = 30;

/** `deployment/web` or `deployment web` → the deployment's name. */
function deploymentName(args: string[]): string {
  const [first, second] = args;
  const [kind, name] = first?.includes("/") ? first.split("/") : [first, second];
  if (!name || !["deployment", "deployments", "deploy", "deployment.apps"].includes(kind ?? "")) {
    throw new Error("usage: kubernease rollout status|history|undo|pause|resume deployment/NAME");
  }
  return name;
}

export function progressBar(done: number, total: number): string {
  const filled = total > 0 ? Math.round((Math.min(done, total) / total) * BAR_WIDTH) : BAR_WIDTH;
  return `[${"#".repeat(filled)}${" ".repeat(BAR_WIDTH - filled)}] ${done}/${total}`;
}

/** Where a rollout stands, in kubectl's words; `done` when it completed, `failed` when it cannot. */
export function rolloutState(dep: Obj): { line: string; done: boolean; failed: boolean } {
  const replicas = dep.spec?.replicas ?? 1;
  const s = dep.status ?? {};
  const progressing = (s.conditions ?? []).find((c: Obj) => c.type === "Progressing");
  if (progressing?.reason === "ProgressDeadlineExceeded") {
    return { line: `deployment "${dep.metadata.name}" exceeded its progress deadline`, done: false, failed: true };
  }
  if (dep.spec?.paused) return { line: `deployment "${dep.metadata.name}" is paused`, done: false, failed: true };
  if ((s.observedGeneration ?? 0) < dep.metadata.generation) {
    return { line: "Waiting for the rollout to be observed...", done: false, failed: false };
  }
  const updated = s.updatedReplicas ?? 0;
  const available = s.availableReplicas ?? 0;
  const total = s.replicas ?? 0;
  if (updated < replicas) {
    return { line: `Waiting: ${progressBar(updated, replicas)} updated replicas`, done: false, failed: false };
  }
  if (total > updated) {
    return {
      line: `Waiting: ${total - updated} old replicas are pending termination ${progressBar(updated, total)}`,
      done: false,
      failed: false,
    };
  }
  if (available < updated) {
    return {
      line: `Waiting: ${progressBar(available, updated)} updated replicas available`,
      done: false,
      failed: false,
    };
  }
  return { line: `deployment "${dep.metadata.name}" successfully rolled out`, done: true, failed: false };
}

/** Follows a rollout until it completes or fails (bounded by `--timeout` seconds, default 300). */
async function status(client: ApiClient, path: string, timeoutSeconds: number): Promise<string> {
  const deadline = Date.now() + timeoutSeconds * 1000;
  const tty = process.stdout.isTTY;
  let last = "";
  for (;;) {
    const state = rolloutState((await client.call("GET", path)) as Obj);
    if (state.done || state.failed) {
      if (tty && last) process.stdout.write("\n");
      if (state.failed) throw new Error(state.line);
      return state.line;
    }
    if (state.line !== last) process.stdout.write(tty ? `\r${state.line}\u001b[K` : `${state.line}\n`);
    last = state.line;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutSeconds}s waiting for the rollout`);
    await new Promise((r) => setTimeout(r, 500));
  }
}

async function history(client: ApiClient, namespace: string, name: string): Promise<string> {
  const dep = (await client.call("GET", `/apis/apps/v1/namespaces/${namespace}/deployments/${name}`)) as Obj;
  const sets = ((await client.call("GET", `/apis/apps/v1/namespaces/${namespace}/replicasets`)) as Obj).items as Obj[];
  const mine = sets
    .filter((rs) => rs.metadata.ownerReferences?.some((o: Obj) => o.uid === dep.metadata.uid))
    .map((rs) => ({ revision: Number(rs.metadata.annotations?.["deployment.kubernetes.io/revision"] ?? 0), rs }))
    .sort((a, b) => a.revision - b.revision);
  const lines = [`deployment.apps/${name}`, "REVISION  IMAGES"];
  for (const { revision, rs } of mine) {
    const images = (rs.spec.template.spec.containers as Obj[]).map((c) => c.image).join(",");
    lines.push(`${String(revision).padEnd(10)}${images}`);
  }
  return lines.join("\n");
}

export async function rollout(args: string[], flags: Flags): Promise<string> {
  const [verb, ...rest] = args;
  const name = deploymentName(rest);
  const namespace = namespaceOf(flags);
  const path = `/apis/apps/v1/namespaces/${namespace}/deployments/${name}`;
  return withClient(async (client) => {
    switch (verb) {
      case "status":
        return status(client, path, Number(flags.timeout ?? 300));
      case "history":
        return history(client, namespace, name);
      case "undo": {
        const revision = flags["to-revision"] === undefined ? 0 : Number(flags["to-revision"]);
        await client.call("POST", `${path}/rollback`, JSON.stringify({ revision }));
        return `deployment.apps/${name} rolled back`;
      }
      case "pause":
      case "resume": {
        const body = JSON.stringify({ spec: { paused: verb === "pause" } });
        await client.call("PATCH", path, body, "application/merge-patch+json");
        return `deployment.apps/${name} ${verb}d`;
      }
      default:
        throw new Error("usage: kubernease rollout status|history|undo|pause|resume deployment/NAME");
    }
  });
}
