import type { Hono } from "hono";
import { stringify } from "yaml";
import { requireAdmin } from "../auth.js";
import type { ApiDeps, AppEnv } from "../context.js";
import { readSnapshot, snapshotScenario } from "../snapshot.js";

/**
 * `GET /v1/admin/snapshot`: the live cluster as a simulator scenario (YAML): its nodes as pools,
 * every tenant's workloads as manifests, and a first timeline to edit. Operator only: it shows
 * every tenant's objects (Secrets without their values) and the nodes' shapes.
 */
export function registerAdminSnapshot(app: Hono<AppEnv>, deps: ApiDeps): void {
  app.get("/v1/admin/snapshot", requireAdmin(), async (c) => {
    const scenario = snapshotScenario(await readSnapshot(deps.store));
    const header = "# The live cluster as a scenario: edit the timeline, then `kubernease simulate FILE`.\n";
    return c.body(header + stringify(scenario), 200, { "content-type": "application/yaml; charset=utf-8" });
  });
}
