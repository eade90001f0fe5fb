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
    // The query is judged before anything is read or written: a request that asks for something
    // else than a write (a dry run, by a spelling not known) must never write.
    const dryRun = flag(c.req.query("dryRun"), "dryRun", ["true", "all", "1"]);
    const askSurvives = flag(c.req.query("survives"), "survives", ["true", "1"]);
    if (askSurvives && !dryRun) throw new ApiError("BAD_REQUEST", "survives=true goes with dryRun=true");
    const manifests = await readManifests(c, deps);
    const namespace = c.req.query("namespace") ?? "default";
    const role = c.get("principal").role;
    for (const m of manifests) checkAllowed(m.kind, role);
    const desired = manifests.map((m) => desiredOf(tenantId(c), m, namespace, false));
    const results = await applyAll(deps, desired, dryRun);
    if (!askSurvives) return c.json({ kind: "ApplyResult", dryRun, results });
    return c.json({
      kind: "ApplyResult",
      dryRun,
      results,
      survives: await survives(deps, tenantId(c), await c.req.text(), manifests),
    });
  });
}

/** A query flag: absent or empty is false, `yes` one of `yes`'s spellings (any case), `false`/`0` false; anything else a 400. */
function flag(value: string | undefined, name: string, yes: readonly string[]): boolean {
  const v = (value ?? "").toLowerCase();
  if (v === "" || v === "false" || v === "0") return false;
  if (yes.includes(v)) return true;
  throw new ApiError("BAD_REQUEST", `${name}=${value} is not understood: use ${name}=${yes[0]} or leave it out`);
}
