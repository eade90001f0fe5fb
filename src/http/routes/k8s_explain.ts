import type { Hono } from "hono";
import { explainPod } from "../../jobs/explain.js";
import type { ApiDeps, AppEnv } from "../context.js";
import { ApiError } from "../errors.js";
import { checkNamespace } from "../objects.js";
import { tenantId } from "./shared.js";

const MESSAGES = {
  placed: "the pod is placed",
  fits: "a placement has room for the pod now; it will be bound shortly",
} as const;

/**
 * `GET /api/v1/namespaces/{ns}/pods/{name}/explain`: why a pod waits, asked now.
 * Tenants get every failing constraint with the smallest change that would make
 * the pod fit, in constraints and resource amounts. The operator (admin key, with
 * `?tenant=NAME` to look into a tenant) also gets which nodes each constraint ruled out.
 */
export function registerExplain(app: Hono<AppEnv>, deps: ApiDeps): void {
  app.get("/api/v1/namespaces/:ns/pods/:name/explain", async (c) => {
    const principal = c.get("principal");
    const asked = c.req.query("tenant");
    let tenant = tenantId(c);
    if (asked !== undefined) {
      if (principal.role !== "admin") throw new ApiError("FORBIDDEN", "only the operator may look into another tenant");
      const found = await deps.store.getTenantByName(asked);
      if (!found) throw new ApiError("NOT_FOUND", `tenant "${asked}" not found`);
      tenant = found.id;
    }
    const name = c.req.param("name");
    const pod = await deps.store.getPodByName(tenant, checkNamespace(c.req.param("ns")), name);
    if (!pod) throw new ApiError("NOT_FOUND", `pods "${name}" not found`, { kind: "Pod", name });
    const explanation = await explainPod({ store: deps.store }, pod);
    const base = { kind: "PodExplanation", pod: pod.name, state: explanation.state };
    switch (explanation.state) {
      case "placed":
      case "fits":
        return c.json({ ...base, message: MESSAGES[explanation.state] });
      case "waiting":
        return c.json({ ...base, message: explanation.message });
      case "unschedulable": {
        const { tenantMessage, constraints, operator } = explanation.result;
        const operatorView =
          principal.role === "admin" ? { operator: operator.map((o) => ({ ...o, count: o.nodes.length })) } : {};
        return c.json({ ...base, message: tenantMessage, constraints, ...operatorView });
      }
    }
  });
}
