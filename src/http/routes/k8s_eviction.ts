import type { Hono } from "hono";
import { evict } from "../../jobs/drain.js";
import type { ApiDeps, AppEnv } from "../context.js";
import { ApiError } from "../errors.js";
import { checkNamespace } from "../objects.js";
import { tenantId } from "./shared.js";

/**
 * `POST /api/v1/namespaces/{ns}/pods/{name}/eviction`: a voluntary disruption.
 * Unlike a plain delete, it asks the PodDisruptionBudgets covering the pod and is
 * refused (429, as in Kubernetes) when one cannot spare it.
 */
export function registerEviction(app: Hono<AppEnv>, deps: ApiDeps): void {
  app.post("/api/v1/namespaces/:ns/pods/:name/eviction", async (c) => {
    const namespace = checkNamespace(c.req.param("ns"));
    const name = c.req.param("name");
    const tenant = tenantId(c);
    const evicted = await deps.store.transaction(async (tx) => {
      const pod = await tx.getPodByName(tenant, namespace, name);
      if (!pod) throw new ApiError("NOT_FOUND", `pods "${name}" not found`, { kind: "Pod", name });
      const blocking = await evict(tx, deps, pod);
      if (blocking.length > 0) {
        throw new ApiError(
          "TOO_MANY_REQUESTS",
          `Cannot evict pod as it would violate the pod's disruption budget: ${blocking.map((b) => `"${b}"`).join(", ")}`,
          { kind: "Pod", name },
        );
      }
      return pod;
    });
    deps.onCommitted?.();
    return c.json(
      {
        kind: "Status",
        apiVersion: "v1",
        metadata: {},
        status: "Success",
        details: { name: evicted.name, kind: "pods" },
      },
      201,
    );
  });
}
