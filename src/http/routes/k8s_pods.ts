import type { Hono } from "hono";
import { matchesSelector } from "../../core/labels.js";
import type { ApiDeps, AppEnv } from "../context.js";
import { ApiError } from "../errors.js";
import { checkNamespace, createPod, desiredOf, storeError } from "../objects.js";
import { renderList, renderPod } from "../render.js";
import { selectorOf } from "./k8s_list.js";
import { type Ctx, listVersion, readManifest, tenantId } from "./shared.js";

/**
 * Pods: listed and read like Kubernetes pods (never showing their node); a bare
 * Pod can be created and any pod deleted; a pod's spec never changes in place.
 */
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
  app.post("/api/v1/namespaces/:ns/pods", async (c) => {
    const namespace = checkNamespace(c.req.param("ns"));
    const desired = desiredOf(tenantId(c), await readManifest(c, deps, { kind: "Pod" }), namespace, true);
    try {
      const pod = await deps.store.transaction((tx) => createPod(tx, deps, desired));
      deps.onCommitted?.();
      return c.json(renderPod(pod), 201);
    } catch (error) {
      return storeError(error, desired.ref);
    }
  });
  // Deleting a pod stops it; its controller, if it has one, makes another (as in Kubernetes).
  app.delete("/api/v1/namespaces/:ns/pods/:name", async (c) => {
    const name = c.req.param("name");
    const namespace = checkNamespace(c.req.param("ns"));
    const pod = await deps.store.transaction(async (tx) => {
      const found = await tx.getPodByName(tenantId(c), namespace, name);
      if (!found) return undefined;
      const marked = await tx.markPodDeleting(found.id, deps.clock.now());
      await tx.addOutbox("pod", found.id, deps.clock.now());
      return marked;
    });
    if (!pod) throw new ApiError("NOT_FOUND", `pods "${name}" not found`, { kind: "Pod", name });
    deps.onCommitted?.();
    return c.json(renderPod(pod));
  });
  for (const method of ["PUT", "PATCH"]) {
    app.on(method, "/api/v1/namespaces/:ns/pods/:name", () => {
      throw new ApiError(
        "METHOD_NOT_ALLOWED",
        "a Pod's spec cannot change: delete it and create it again, or change its controller",
      );
    });
  }
}
