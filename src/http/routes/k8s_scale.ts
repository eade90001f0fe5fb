import type { Hono } from "hono";
import type { StoredObject } from "../../db/types.js";
import { mediaType } from "../body.js";
import type { ApiDeps, AppEnv } from "../context.js";
import { ApiError } from "../errors.js";
import { updateObject } from "../objects.js";
import { applyPatchBody } from "../patch.js";
import { type Ctx, pathRef } from "./shared.js";

const DEPLOYMENT = { kind: "Deployment" };

function renderScale(object: StoredObject): Record<string, unknown> {
  const selector = (object.spec.selector as { matchLabels?: Record<string, string> } | undefined)?.matchLabels ?? {};
  return {
    kind: "Scale",
    apiVersion: "autoscaling/v1",
    metadata: {
      name: object.name,
      namespace: object.namespace,
      uid: object.uid,
      resourceVersion: object.resourceVersion,
      creationTimestamp: new Date(object.createdAt).toISOString(),
    },
    spec: { replicas: object.spec.replicas ?? 1 },
    status: {
      replicas: (object.status.replicas as number | undefined) ?? 0,
      selector: Object.entries(selector)
        .map(([k, v]) => `${k}=${v}`)
        .join(","),
    },
  };
}

/** Kubernetes' bound on `replicas` (an int32), as a Deployment's own validation has it. */
const MAX_INT32 = 2_147_483_647;

async function load(c: Ctx, deps: ApiDeps): Promise<StoredObject> {
  const ref = pathRef(c, DEPLOYMENT);
  const object = await deps.store.getObject(ref);
  if (!object)
    throw new ApiError("NOT_FOUND", `deployments.apps "${ref.name}" not found`, { kind: "Deployment", name: ref.name });
  return object;
}

/**
 * Sets `spec.replicas` from the Scale `scaleOf` makes of the Deployment, conditionally
 * on the resourceVersion the Scale carries; when that is the version read (the client
 * pinned none), a write that lost a race is made again on the Deployment as it now is.
 */
function setReplicas(c: Ctx, deps: ApiDeps, scaleOf: (object: StoredObject) => unknown): Promise<StoredObject> {
  return updateObject(deps, pathRef(c, DEPLOYMENT), (object) => {
    const s = scaleOf(object) as { spec?: { replicas?: unknown }; metadata?: { resourceVersion?: string } };
    const replicas = s?.spec?.replicas;
    if (typeof replicas !== "number" || !Number.isInteger(replicas) || replicas < 0 || replicas > MAX_INT32) {
      const message = `must be a whole number from 0 to ${MAX_INT32}`;
      throw new ApiError("INVALID", `Scale is invalid: spec.replicas: ${message}`, {
        fields: [{ path: "spec.replicas", message }],
      });
    }
    return {
      ref: object,
      apiVersion: object.apiVersion,
      labels: object.labels,
      annotations: object.annotations,
      spec: { ...object.spec, replicas },
      resourceVersion: s.metadata?.resourceVersion,
    };
  });
}

/** `GET|PUT|PATCH …/deployments/{name}/scale`: the autoscaling/v1 Scale subresource. */
export function registerScale(app: Hono<AppEnv>, deps: ApiDeps): void {
  const path = "/apis/apps/v1/namespaces/:ns/deployments/:name/scale";
  app.get(path, async (c) => c.json(renderScale(await load(c, deps))));
  app.put(path, async (c) => {
    if (mediaType(c) !== "application/json")
      throw new ApiError("UNSUPPORTED_MEDIA_TYPE", "send the Scale as application/json");
    const body = await c.req.json().catch(() => undefined);
    return c.json(renderScale(await setReplicas(c, deps, () => body)));
  });
  app.patch(path, async (c) => {
    const body = await c.req.json().catch(() => {
      throw new ApiError("BAD_REQUEST", "the patch is not valid JSON");
    });
    const patch = (object: StoredObject) => applyPatchBody(mediaType(c), renderScale(object), body);
    return c.json(renderScale(await setReplicas(c, deps, patch)));
  });
}
