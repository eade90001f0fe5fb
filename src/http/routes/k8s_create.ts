import type { Hono } from "hono";
import type { ApiDeps, AppEnv } from "../context.js";
import { createObject, desiredOf } from "../objects.js";
import { renderObject } from "../render.js";
import { RESOURCES } from "../resources.js";
import { operatorGuard, pathRef, readManifest, tenantId } from "./shared.js";

/** `POST …/namespaces/{ns}/{plural}`: creates; an existing name is 409 AlreadyExists. */
export function registerCreate(app: Hono<AppEnv>, deps: ApiDeps): void {
  for (const resource of RESOURCES) {
    app.post(`${resource.prefix}/namespaces/:ns/${resource.plural}`, operatorGuard(resource), async (c) => {
      const { namespace } = pathRef(c, resource);
      const manifest = await readManifest(c, deps, resource);
      const desired = desiredOf(tenantId(c), manifest, namespace, true);
      const { resourceVersion: _ignored, ...fresh } = desired;
      return c.json(renderObject(await createObject(deps, fresh)), 201);
    });
  }
}
