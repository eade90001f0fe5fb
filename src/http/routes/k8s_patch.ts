import type { Hono } from "hono";
import { type ExpandedManifest, validateManifest } from "../../manifest/index.js";
import { mediaType } from "../body.js";
import type { ApiDeps, AppEnv } from "../context.js";
import { ApiError } from "../errors.js";
import { desiredOf, podSecurityFor, updateObject } from "../objects.js";
import { applyPatchBody } from "../patch.js";
import { renderObject } from "../render.js";
import { RESOURCES } from "../resources.js";
import { invalid, operatorGuard, pathRef, tenantId } from "./shared.js";

/**
 * `PATCH …/{plural}/{name}` with a JSON merge patch or a JSON patch. The patch
 * applies to the object as the API shows it; the result is validated like any
 * write and replaces the object conditionally, so a concurrent writer is never overwritten.
 */
export function registerPatch(app: Hono<AppEnv>, deps: ApiDeps): void {
  for (const resource of RESOURCES) {
    app.patch(`${resource.prefix}/namespaces/:ns/${resource.plural}/:name`, operatorGuard(resource), async (c) => {
      const ref = pathRef(c, resource);
      const type = mediaType(c);
      const body = await c.req.json().catch(() => {
        throw new ApiError("BAD_REQUEST", "the patch is not valid JSON");
      });
      const updated = await updateObject(deps, ref, (current) => {
        const patched = applyPatchBody(type, renderObject(current), body);
        const validated = validateManifest(patched, undefined, {
          podSecurity: podSecurityFor(c.get("principal").role),
        });
        if (!validated.ok) throw invalid(validated.errors, `the patched ${resource.kind}`);
        if (validated.manifest.kind !== resource.kind)
          throw new ApiError("BAD_REQUEST", "a patch cannot change the kind");
        const desired = desiredOf(tenantId(c), validated.manifest as ExpandedManifest, ref.namespace, true);
        if (desired.ref.name !== ref.name) throw new ApiError("BAD_REQUEST", "a patch cannot rename an object");
        return desired;
      });
      return c.json(renderObject(updated));
    });
  }
}
