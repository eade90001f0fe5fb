import type { Hono } from "hono";
import type { NamespaceRecord } from "../../db/types.js";
import type { ApiDeps, AppEnv } from "../context.js";
import { ApiError } from "../errors.js";
import { checkNamespace } from "../objects.js";
import { renderList } from "../render.js";
import { readManifest, tenantId } from "./shared.js";

function renderNamespace(ns: NamespaceRecord): Record<string, unknown> {
  return {
    apiVersion: "v1",
    kind: "Namespace",
    metadata: {
      name: ns.name,
      creationTimestamp: new Date(ns.createdAt).toISOString(),
      labels: { "kubernetes.io/metadata.name": ns.name },
    },
    status: { phase: "Active" },
  };
}

/** The tenant's namespaces: made on first use or explicitly; `GET /api/v1/namespaces[/{name}]`, `POST /api/v1/namespaces`. */
export function registerNamespaces(app: Hono<AppEnv>, deps: ApiDeps): void {
  const find = async (tenant: string, name: string) =>
    (await deps.store.listNamespaces(tenant)).find((n) => n.name === name);
  app.get("/api/v1/namespaces", async (c) => {
    const items = await deps.store.listNamespaces(tenantId(c));
    return c.json(renderList("Namespace", "v1", items.map(renderNamespace), "0"));
  });
  app.get("/api/v1/namespaces/:name", async (c) => {
    const ns = await find(tenantId(c), checkNamespace(c.req.param("name")));
    if (!ns)
      throw new ApiError("NOT_FOUND", `namespaces "${c.req.param("name")}" not found`, {
        kind: "Namespace",
        name: c.req.param("name"),
      });
    return c.json(renderNamespace(ns));
  });
  app.post("/api/v1/namespaces", async (c) => {
    const manifest = await readManifest(c, deps, { kind: "Namespace" });
    const name = checkNamespace(manifest.metadata.name);
    if (!(await deps.store.ensureNamespace(tenantId(c), name, deps.clock.now()))) {
      throw new ApiError("ALREADY_EXISTS", `namespaces "${name}" already exists`, { kind: "Namespace", name });
    }
    return c.json(renderNamespace((await find(tenantId(c), name)) as NamespaceRecord), 201);
  });
  app.delete("/api/v1/namespaces/:name", () => {
    throw new ApiError("METHOD_NOT_ALLOWED", "deleting a namespace is not supported yet: delete what it holds instead");
  });
}
