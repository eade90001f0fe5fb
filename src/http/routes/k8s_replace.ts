import type { Hono } from "hono";
import type { ApiDeps, AppEnv } from "../context.js";
import { ApiError } from "../errors.js";
import { desiredOf, replaceObject } from "../objects.js";
import { renderObject } from "../render.js";
import { RESOURCES } from "../resources.js";
import { operatorGuard, pathRef, readManifest, tenantId } from "./shared.js";

/** `PUT …/{plural}/{name}`: replaces; a stale `metadata.resourceVersion` is 409 Conflict, a missing object 404. */
export function registerReplace(app: Hono<AppEnv>, deps: ApiDeps): void {
  for (const resource of RESOURCES) {
    app.put(`${resource.prefix}/namespaces/:ns/${resource.plural}/:name`, operatorGuard(resource), async (c) => {
      const ref = pathRef(c, resource);
      const manifest = await readManifest(c, deps, resource);
      if (manifest.metadata.name !== ref.name) {
        throw new ApiError(
          "BAD_REQUEST",
          `the name of the object (${manifest.metadata.name}) does not match the name of the path (${ref.name})`,
        );
      }
      const object = await replaceObject(deps, desiredOf(tenantId(c), manifest, ref.namespace, true));
      return c.json(renderObject(object));
    });
  }
}
