import type { Hono } from "hono";
import { TEMPLATE_HASH_LABEL } from "../../controllers/replicaset.js";
import { revisionOf } from "../../controllers/revision.js";
import { rollbackTarget, templateOf } from "../../controllers/rollback.js";
import { templateHash } from "../../core/hash.js";
import { newId } from "../../core/ids.js";
import { replicaSetView } from "../../jobs/views.js";
import { mediaType } from "../body.js";
import type { ApiDeps, AppEnv } from "../context.js";
import { ApiError } from "../errors.js";
import { replaceObject } from "../objects.js";
import { renderObject } from "../render.js";
import { pathRef } from "./shared.js";

/**
 * `POST …/deployments/{name}/rollback` with `{ "revision": N }` (absent or 0: the
 * previous revision): puts that revision's template back on the Deployment,
 * which then rolls out like any change. Answers the Deployment.
 */
export function registerRollback(app: Hono<AppEnv>, deps: ApiDeps): void {
  app.post("/apis/apps/v1/namespaces/:ns/deployments/:name/rollback", async (c) => {
    const ref = pathRef(c, { kind: "Deployment" });
    const body =
      mediaType(c) === "application/json" ? ((await c.req.json().catch(() => ({}))) as { revision?: unknown }) : {};
    const revision = body.revision ?? 0;
    if (typeof revision !== "number" || !Number.isInteger(revision) || revision < 0) {
      throw new ApiError("INVALID", "revision: must be a whole number ≥ 0 (0 means the previous one)", {
        fields: [{ path: "revision", message: "must be a whole number ≥ 0" }],
      });
    }
    const deployment = await deps.store.getObject(ref);
    if (!deployment)
      throw new ApiError("NOT_FOUND", `deployments.apps "${ref.name}" not found`, {
        kind: "Deployment",
        name: ref.name,
      });
    const all = await deps.store.listObjects({
      kind: "ReplicaSet",
      tenantId: ref.tenantId,
      namespace: ref.namespace,
      ownerUid: deployment.uid,
    });
    const sets = all.map(replicaSetView);
    const hash = templateHash(deployment.spec.template);
    const current = sets.find((rs) => rs.labels[TEMPLATE_HASH_LABEL] === hash);
    const target = rollbackTarget(sets, current, revision);
    if (!target) {
      throw new ApiError(
        "INVALID",
        revision ? `revision ${revision} not found in the rollout history` : "no earlier revision to roll back to",
      );
    }
    const updated = await replaceObject(deps, {
      ref,
      apiVersion: deployment.apiVersion,
      labels: deployment.labels,
      annotations: deployment.annotations,
      spec: { ...deployment.spec, template: templateOf(target) },
      resourceVersion: deployment.resourceVersion,
    });
    await deps.store.recordEvent({
      id: newId("evt", deps.clock, deps.rng),
      tenantId: ref.tenantId,
      namespace: ref.namespace,
      involvedKind: "Deployment",
      involvedName: ref.name,
      involvedUid: deployment.uid,
      type: "Normal",
      reason: "DeploymentRollback",
      message: `Rolled back to revision ${revisionOf(target)}`,
      atMs: deps.clock.now(),
    });
    return c.json(renderObject(updated));
  });
}
