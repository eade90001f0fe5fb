import type { Hono } from "hono";
import { type LabelSelector, matchesSelector, parseSelectorString } from "../../core/labels.js";
import type { ApiDeps, AppEnv } from "../context.js";
import { ApiError } from "../errors.js";
import { checkNamespace } from "../objects.js";
import { renderList, renderListItem } from "../render.js";
import { RESOURCES } from "../resources.js";
import { type Ctx, listVersion, tenantId } from "./shared.js";

/** `?labelSelector=` of a list request. */
export function selectorOf(c: Ctx): LabelSelector | undefined {
  const text = c.req.query("labelSelector");
  if (!text) return undefined;
  const parsed = parseSelectorString(text);
  if ("error" in parsed) throw new ApiError("BAD_REQUEST", parsed.error);
  return parsed.selector;
}

/** `GET …/namespaces/{ns}/{plural}` and the all-namespaces `GET …/{plural}` (every namespace of the tenant). */
export function registerList(app: Hono<AppEnv>, deps: ApiDeps): void {
  for (const resource of RESOURCES) {
    const list = async (c: Ctx, namespace?: string) => {
      const selector = selectorOf(c);
      const objects = (await deps.store.listObjects({ kind: resource.kind, tenantId: tenantId(c), namespace })).filter(
        (o) => !selector || matchesSelector(o.labels, selector),
      );
      return c.json(renderList(resource.kind, resource.apiVersion, objects.map(renderListItem), listVersion(objects)));
    };
    app.get(`${resource.prefix}/namespaces/:ns/${resource.plural}`, (c) => list(c, checkNamespace(c.req.param("ns"))));
    app.get(`${resource.prefix}/${resource.plural}`, (c) => list(c));
  }
}
