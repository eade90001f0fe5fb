import type { Hono } from "hono";
import type { ApiDeps, AppEnv } from "../context.js";
import { ApiError } from "../errors.js";

/** `GET /healthz`: the process serves. `GET /readyz`: and its back ends answer. Neither needs a key. */
export function registerHealth(app: Hono<AppEnv>, deps: ApiDeps): void {
  app.get("/healthz", (c) => c.json({ status: "ok" }));
  app.get("/readyz", async (c) => {
    const ready = deps.ready ? await deps.ready().catch(() => false) : true;
    if (!ready) throw new ApiError("SERVICE_UNAVAILABLE", "not ready: a back end does not answer");
    return c.json({ status: "ready" });
  });
}
