import type { Hono } from "hono";
import { evictNodePods } from "../../jobs/drain.js";
import type { ApiDeps, AppEnv } from "../context.js";
import { ApiError } from "../errors.js";
import { renderNode } from "../render.js";

/**
 * The operator's node controls: `POST /v1/admin/nodes/{name}/cordon|uncordon|drain`.
 * A cordoned node takes no new pods. Drain cordons, then evicts every pod on the
 * node through the same path as the eviction API and the node autoscaler
 * (src/jobs/drain.ts), so PodDisruptionBudgets are honoured; pods a budget cannot
 * spare yet are reported, and a later drain takes them once their replacements are
 * ready. Daemon pods stay, as `kubectl drain --ignore-daemonsets` leaves them.
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
    const { evicted, blocked } = await evictNodePods(deps, node.name);
    deps.onCommitted?.();
    return c.json({
      node: node.name,
      cordoned: true,
      evicted: evicted.map((e) => e.pod),
      blocked,
      done: blocked.length === 0,
    });
  });
}
