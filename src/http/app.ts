import { Hono } from "hono";
import { bodyLimit } from "hono/body-limit";
import { newId } from "../core/ids.js";
import { authenticate } from "./auth.js";
import { type ApiDeps, type AppEnv, DEFAULT_MAX_BODY_BYTES } from "./context.js";
import { ApiError, codeToReason, codeToStatus } from "./errors.js";
import { registerHealth } from "./routes/healthz.js";
import { registerCreate } from "./routes/k8s_create.js";
import { registerDelete } from "./routes/k8s_delete.js";
import { registerEndpoints } from "./routes/k8s_endpoints.js";
import { registerEvents } from "./routes/k8s_events.js";
import { registerEviction } from "./routes/k8s_eviction.js";
import { registerExplain } from "./routes/k8s_explain.js";
import { registerGet } from "./routes/k8s_get.js";
import { registerList } from "./routes/k8s_list.js";
import { registerNamespaces } from "./routes/k8s_namespaces.js";
import { registerNodes } from "./routes/k8s_nodes.js";
import { registerPatch } from "./routes/k8s_patch.js";
import { registerPodLog } from "./routes/k8s_pod_log.js";
import { registerPods } from "./routes/k8s_pods.js";
import { registerReplace } from "./routes/k8s_replace.js";
import { registerRollback } from "./routes/k8s_rollback.js";
import { registerScale } from "./routes/k8s_scale.js";
import { registerAdminNodes } from "./routes/v1_admin_nodes.js";
import { registerAdminRouting, registerRouting } from "./routes/v1_admin_routing.js";
import { registerAdminSnapshot } from "./routes/v1_admin_snapshot.js";
import { registerAdminTenants } from "./routes/v1_admin_tenants.js";
import { registerAdminTenantDomains } from "./routes/v1_admin_tenants_domains.js";
import { registerAdminTenantQuota } from "./routes/v1_admin_tenants_quota.js";
import { registerApply } from "./routes/v1_apply.js";
import { registerMetrics } from "./routes/v1_metrics.js";
import { registerQuota } from "./routes/v1_quota.js";
import { registerSimulations } from "./routes/v1_simulations.js";

/** The HTTP API: Kubernetes REST paths for tenants, `/v1/...` for apply and administration. */
export function createApp(deps: ApiDeps): Hono<AppEnv> {
  const app = new Hono<AppEnv>();
  app.use(async (c, next) => {
    const requestId = newId("req", deps.clock, deps.rng);
    c.set("requestId", requestId);
    c.header("X-Request-Id", requestId);
    await next();
  });
  app.use(
    bodyLimit({
      maxSize: deps.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES,
      onError: () => {
        throw new ApiError(
          "PAYLOAD_TOO_LARGE",
          `request body is larger than ${deps.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES} bytes`,
        );
      },
    }),
  );
  app.use(authenticate(deps));
  app.use(async (c, next) => {
    // No name, selector or tenant id holds a NUL character, and no store could look one up.
    if (/%00/i.test(c.req.url)) throw new ApiError("BAD_REQUEST", "the request's path or query holds a NUL character");
    // A dry run asked of a path that does not do one must not write: only /v1/apply does dry runs.
    if (c.req.method !== "GET" && c.req.query("dryRun") !== undefined && !c.req.path.startsWith("/v1/")) {
      throw new ApiError(
        "BAD_REQUEST",
        "dryRun is not supported on this path: POST /v1/apply?dryRun=true checks a manifest without writing it",
      );
    }
    await next();
  });

  registerHealth(app, deps);
  registerApply(app, deps);
  registerSimulations(app, deps);
  registerScale(app, deps);
  registerRollback(app, deps);
  registerList(app, deps);
  registerGet(app, deps);
  registerCreate(app, deps);
  registerReplace(app, deps);
  registerPatch(app, deps);
  registerDelete(app, deps);
  registerPods(app, deps);
  registerPodLog(app, deps);
  registerEviction(app, deps);
  registerExplain(app, deps);
  registerEndpoints(app, deps);
  registerEvents(app, deps);
  registerNamespaces(app, deps);
  registerNodes(app, deps);
  registerAdminTenants(app, deps);
  registerAdminTenantQuota(app, deps);
  registerAdminTenantDomains(app, deps);
  registerAdminRouting(app, deps);
  registerAdminSnapshot(app, deps);
  registerRouting(app, deps);
  registerMetrics(app, deps);
  registerQuota(app, deps);
  registerAdminNodes(app, deps);

  app.notFound(() => {
    throw new ApiError("NOT_FOUND", "no such path");
  });
  app.onError((error, c) => {
    const requestId = c.get("requestId") ?? "unknown";
    const unavailable = !(error instanceof ApiError) && isBackEndUnavailable(error);
    const apiError =
      error instanceof ApiError
        ? error
        : unavailable
          ? new ApiError(
              "SERVICE_UNAVAILABLE",
              "the platform's store does not answer now; nothing was written, try again",
            )
          : new ApiError("INTERNAL_SERVER_ERROR", "internal error; quote the request id to the operator");
    if (unavailable) c.header("Retry-After", "2");
    else if (!(error instanceof ApiError)) console.error(`[${requestId}]`, error);
    const status = codeToStatus(apiError.code);
    const causes = apiError.details.causes ? { causes: apiError.details.causes } : {};
    const body = { error: { code: apiError.code, message: apiError.message, requestId, ...causes } };
    if (!/^\/apis?(\/|$)/.test(c.req.path)) return c.json(body, status);
    return c.json({ ...kubernetesStatus(apiError, status), ...body }, status);
  });
  return app;
}

/** The error as a Kubernetes `Status`, so Kubernetes clients show it as they show their own. */
function kubernetesStatus(error: ApiError, code: number): Record<string, unknown> {
  const causes =
    error.details.causes ??
    error.details.fields?.map((f) => ({
      reason: f.reason === "forbidden" ? "FieldValueForbidden" : "FieldValueInvalid",
      message: f.message,
      field: f.path,
    }));
  const details = {
    ...(error.details.name ? { name: error.details.name } : {}),
    ...(error.details.kind ? { kind: error.details.kind.toLowerCase() } : {}),
    ...(causes?.length ? { causes } : {}),
  };
  return {
    kind: "Status",
    apiVersion: "v1",
    metadata: {},
    status: "Failure",
    message: error.message,
    reason: codeToReason(error.code),
    ...(Object.keys(details).length ? { details } : {}),
    code,
  };
}

/** Connection errors of the store's client (postgres.js, through drizzle's wrapper) and Postgres shutting down. */
const UNAVAILABLE_CODES = new Set([
  "ECONNREFUSED",
  "ECONNRESET",
  "ETIMEDOUT",
  "EPIPE",
  "CONNECTION_CLOSED",
  "CONNECTION_ENDED",
  "CONNECTION_DESTROYED",
  "CONNECT_TIMEOUT",
  "57P01",
  "57P02",
  "57P03",
]);

/** Whether an error means the store could not be reached (a 503 to retry), not a bug (a 500). */
function isBackEndUnavailable(error: unknown): boolean {
  let current: unknown = error;
  // Bounded: causes chain a few levels deep at most.
  for (let depth = 0; depth < 5 && current instanceof Error; depth++) {
    const code = (current as { code?: unknown }).code;
    if (typeof code === "string" && UNAVAILABLE_CODES.has(code)) return true;
    current = (current as { cause?: unknown }).cause;
  }
  return false;
}
