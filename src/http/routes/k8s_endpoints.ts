import type { Hono } from "hono";
import type { ApiDeps, AppEnv } from "../context.js";
import { ApiError } from "../errors.js";
import { checkNamespace } from "../objects.js";
import { renderList, renderObject } from "../render.js";
import { listVersion, tenantId } from "./shared.js";

/** `GET /api/v1/namespaces/{ns}/endpoints[/{name}]`: the ready addresses behind each Service, kept by the platform. */
export function registerEndpoints(app: Hono<AppEnv>, deps: ApiDeps): void {
  app.get("/api/v1/namespaces/:ns/endpoints", async (c) => {
    const namespace = checkNamespace(c.req.param("ns"));
    const items = await deps.store.listObjects({ kind: "Endpoints", tenantId: tenantId(c), namespace });
    return c.json(renderList("Endpoints", "v1", items.map(renderObject), listVersion(items)));
  });
  app.get("/api/v1/namespaces/:ns/endpoints/:name", async (c) => {
    const ref = {
      tenantId: tenantId(c),
      kind: "Endpoints",
      namespace: checkNamespace(c.req.param("ns")),
      name: c.req.param("name"),
    };
    const object = await deps.store.getObject(ref);
    if (!object)
      throw new ApiError("NOT_FOUND", `endpoints "${ref.name}" not found`, { kind: "Endpoints", name: ref.name });
    return c.json(renderObject(object));
  });
}
