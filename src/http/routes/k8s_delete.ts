import type { Hono } from "hono";
import type { ApiDeps, AppEnv } from "../context.js";
import { deleteObject } from "../objects.js";
import { RESOURCES } from "../resources.js";
import { operatorGuard, pathRef } from "./shared.js";

/**
 * `DELETE …/{plural}/{name}`: the object goes at once; what it owned (pods,
 * endpoints) is collected in the background, as Kubernetes' default propagation does.
 * Body (optional): DeleteOptions with `preconditions.resourceVersion`.
 */
export function registerDelete(app: Hono<AppEnv>, deps: ApiDeps): void {
  for (const resource of RESOURCES) {
    app.delete(`${resource.prefix}/namespaces/:ns/${resource.plural}/:name`, operatorGuard(resource), async (c) => {
      const ref = pathRef(c, resource);
      const options = (await c.req.json().catch(() => ({}))) as { preconditions?: { resourceVersion?: string } };
      const deleted = await deleteObject(deps, ref, options?.preconditions?.resourceVersion);
      return c.json({
        kind: "Status",
        apiVersion: "v1",
        metadata: {},
        status: "Success",
        details: { name: deleted.name, kind: resource.plural, uid: deleted.uid },
      });
    });
  }
}
