import type { Hono } from "hono";
import { matchesSelector } from "../../core/labels.js";
import type { ApiDeps, AppEnv } from "../context.js";
import { ApiError } from "../errors.js";
import { checkNamespace } from "../objects.js";
import { renderList, renderPod } from "../render.js";
import { selectorOf } from "./k8s_list.js";
import { type Ctx, listVersion, tenantId } from "./shared.js";

/** Pods are read-only for tenants: `GET /api/v1/namespaces/{ns}/pods[/{name}]` and `GET /api/v1/pods`. */
export function registerPods(app: Hono<AppEnv>, deps: ApiDeps): void {
  const list = async (c: Ctx, namespace?: string) => {
    const selector = selectorOf(c);
    const pods = (await deps.store.listPods({ tenantId: tenantId(c), namespace })).filter(
      (p) => !selector || matchesSelector(p.labels, selector),
    );
    return c.json(renderList("Pod", "v1", pods.map(renderPod), listVersion(pods)));
  };
  app.get("/api/v1/namespaces/:ns/pods", (c) => list(c, checkNamespace(c.req.param("ns"))));
  app.get("/api/v1/pods", (c) => list(c));
  app.get("/api/v1/namespaces/:ns/pods/:name", async (c) => {
    const name = c.req.param("name");
    const pod = await deps.store.getPodByName(tenantId(c), checkNamespace(c.req.param("ns")), name);
    if (!pod) throw new ApiError("NOT_FOUND", `pods "${name}" not found`, { kind: "Pod", name });
    return c.json(renderPod(pod));
  });
  for (const method of ["POST", "PUT", "PATCH", "DELETE"]) {
    app.on(method, ["/api/v1/namespaces/:ns/pods", "/api/v1/namespaces/:ns/pods/:name"], () => {
      throw new ApiError("METHOD_NOT_ALLOWED", "pods are managed by their Deployment: change the Deployment instead");
    });
  }
}
