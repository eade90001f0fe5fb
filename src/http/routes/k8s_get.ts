import type { Hono } from "hono";
import type { ApiDeps, AppEnv } from "../context.js";
import { ApiError } from "../errors.js";
import { renderObject } from "../render.js";
import { RESOURCES } from "../resources.js";
import { pathRef } from "./shared.js";

/** `GET …/namespaces/{ns}/{plural}/{name}`: the object with its status; another tenant's object is 404. */
export function registerGet(app: Hono<AppEnv>, deps: ApiDeps): void {
  for (const resource of RESOURCES) {
    app.get(`${resource.prefix}/namespaces/:ns/${resource.plural}/:name`, async (c) => {
      const ref = pathRef(c, resource);
      const object = await deps.store.getObject(ref);
      if (!object)
        throw new ApiError("NOT_FOUND", `${resource.plural} "${ref.name}" not found`, {
          kind: resource.kind,
          name: ref.name,
        });
      return c.json(renderObject(object));
    });
  }
}
