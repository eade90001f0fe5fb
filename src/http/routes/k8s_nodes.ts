import type { Hono } from "hono";
import { requireAdmin } from "../auth.js";
import type { ApiDeps, AppEnv } from "../context.js";
import { ApiError } from "../errors.js";
import { renderList, renderNode } from "../render.js";

/** `GET /api/v1/nodes[/{name}]`: the operator's view of the nodes; tenants get 403. */
export function registerNodes(app: Hono<AppEnv>, deps: ApiDeps): void {
  app.use("/api/v1/nodes", requireAdmin());
  app.use("/api/v1/nodes/*", requireAdmin());
  app.get("/api/v1/nodes", async (c) => {
    const nodes = await deps.store.listNodes();
    return c.json(renderList("Node", "v1", nodes.map(renderNode), "0"));
  });
  app.get("/api/v1/nodes/:name", async (c) => {
    const node = await deps.store.getNode(c.req.param("name"));
    if (!node) throw new ApiError("NOT_FOUND", `nodes "${c.req.param("name")}" not found`);
    return c.json(renderNode(node));
  });
}
