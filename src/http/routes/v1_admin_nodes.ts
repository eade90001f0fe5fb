import type { Hono } from "hono";
import type { ApiDeps, AppEnv } from "../context.js";
import { ApiError } from "../errors.js";
import { evict } from "../eviction.js";
import { renderNode } from "../render.js";

/**
 * The operator's node controls: `POST /v1/admin/nodes/{name}/cordon|uncordon|drain`.
 * A cordoned node takes no new pods. Drain cordons, then evicts every pod on the
 * node through the same path as the eviction API, so PodDisruptionBudgets are
 * honoured; pods a budget cannot spare yet are reported, and a later drain takes
 * them once their replacements are ready. Daemon pods stay, as `kubectl drain
 * --ignore-daemonsets` leaves them.
 */
export function registerAdminNodes(app: Hono<AppEnv>, deps: ApiDeps): void {
  const setCordon = async (name: string, unschedulable: boolean) => {
    const node = await deps.store.updateNode(name, { unschedulable }, deps.clock.now());
    if (!node) throw new ApiError("NOT_FOUND", `nodes "${name}" not found`);
    return node;
  };
  app.post("/v1/admin/nodes/:name/cordon", async (c) => c.json(renderNode(await setCordon(c.req.param("name"), true))));
  app.post("/v1/admin/nodes/:name/uncordon", async (c) => {
    const node = await setCordon(c.req.param("name"), false);
    deps.onCommitted?.();
    return c.json(renderNode(node));
  });
  app.post("/v1/admin/nodes/:name/drain", async (c) => {
    const node = await setCordon(c.req.param("name"), true);
    const evicted: string[] = [];
    const blocked: { pod: string; budgets: string[] }[] = [];
    for (const pod of await deps.store.listPods({ nodeName: node.name })) {
      if (pod.ownerKind === "DaemonSet" || pod.deletionRequestedAt !== null) continue;
      const budgets = await deps.store.transaction((tx) => evict(tx, deps, pod));
      const id = `${pod.namespace}/${pod.name}`;
      if (budgets.length === 0) evicted.push(id);
      else blocked.push({ pod: id, budgets });
    }
    deps.onCommitted?.();
    return c.json({ node: node.name, cordoned: true, evicted, blocked, done: blocked.length === 0 });
  });
}
