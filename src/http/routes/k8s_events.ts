import type { Hono } from "hono";
import type { EventRecord } from "../../db/types.js";
import type { ApiDeps, AppEnv } from "../context.js";
import { checkNamespace } from "../objects.js";
import { renderList } from "../render.js";
import { tenantId } from "./shared.js";

const iso = (ms: number) => new Date(ms).toISOString();

function renderEvent(event: EventRecord): Record<string, unknown> {
  return {
    apiVersion: "v1",
    kind: "Event",
    metadata: { name: event.id, namespace: event.namespace },
    involvedObject: {
      kind: event.involvedKind,
      name: event.involvedName,
      namespace: event.namespace,
      uid: event.involvedUid,
    },
    type: event.type,
    reason: event.reason,
    message: event.message,
    count: event.count,
    firstTimestamp: iso(event.firstSeenAt),
    lastTimestamp: iso(event.lastSeenAt),
    source: { component: "kubernease" },
  };
}

/** `GET /api/v1/namespaces/{ns}/events[?fieldSelector=involvedObject.name=x]`: what happened, newest last. */
export function registerEvents(app: Hono<AppEnv>, deps: ApiDeps): void {
  app.get("/api/v1/namespaces/:ns/events", async (c) => {
    const namespace = checkNamespace(c.req.param("ns"));
    const involvedName = /involvedObject\.name=([^,]+)/.exec(c.req.query("fieldSelector") ?? "")?.[1];
    const events = await deps.store.listEvents({ tenantId: tenantId(c), namespace, involvedName });
    return c.json(renderList("Event", "v1", events.map(renderEvent), "0"));
  });
}
