import type { Hono } from "hono";
import type { ApiDeps, AppEnv } from "../context.js";
import { ApiError } from "../errors.js";
import { applyAll, checkAllowed, desiredOf } from "../objects.js";
import { survives } from "../survives.js";
import { readManifests, tenantId } from "./shared.js";

/**
 * `POST /v1/apply[?namespace=ns][&dryRun=true[&survives=true]]`: a whole multi-document file in one
 * transaction. Answers what happened (or would happen) to each object:
 * created, configured or unchanged. Any invalid document rejects the whole file. A dry run with
 * `survives=true` also simulates the file losing a node and each zone (src/http/survives.ts).
 */
export function registerApply(app: Hono<AppEnv>, deps: ApiDeps): void {
  app.post("/v1/apply", async (c) => {
    const manifests = await readManifests(c, deps);
    const namespace = c.req.query("namespace") ?? "default";
    const dryRun = ["true", "all", "1"].includes(c.req.query("dryRun") ?? "");
    const role = c.get("principal").role;
    for (const m of manifests) checkAllowed(m.kind, role);
    const desired = manifests.map((m) => desiredOf(tenantId(c), m, namespace, false));
    const results = await applyAll(deps, desired, dryRun);
    const askSurvives = ["true", "1"].includes(c.req.query("survives") ?? "");
    if (askSurvives && !dryRun) throw new ApiError("BAD_REQUEST", "survives=true goes with dryRun=true");
    if (!askSurvives) return c.json({ kind: "ApplyResult", dryRun, results });
    return c.json({
      kind: "ApplyResult",
      dryRun,
      results,
      survives: await survives(deps, tenantId(c), await c.req.text(), manifests),
    });
  });
}
