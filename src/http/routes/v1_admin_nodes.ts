import type { Hono } from "hono";
import { z } from "zod";
import { newId, newUid } from "../../core/ids.js";
import { NODE_NAME_LABEL } from "../../core/labels.js";
import { cpuMillis, memoryBytes, parseQuantity } from "../../core/quantity.js";
import { ConflictError, type ObjectRef, type PodRecord } from "../../db/types.js";
import { evictNodePods } from "../../jobs/drain.js";
import { dnsLabel, Labels } from "../../manifest/names.js";
import {
  ENDPOINT_KIND,
  endpointConfig,
  endpointSpec,
  endpointUrl,
  pingEngine,
  renderEndpoint,
  systemTenantId,
} from "../../providers/docker/endpoints.js";
import type { DockerHostConfig } from "../../providers/docker/index.js";
import { requireAdmin } from "../auth.js";
import type { ApiDeps, AppEnv, NodeRegistry } from "../context.js";
import { ApiError, fieldErrorsMessage } from "../errors.js";
import { renderNode } from "../render.js";

/** How long a new Engine has to answer `/_ping` before its registration is refused. */
const PING_TIMEOUT_MS = 5_000;

const PEM = /-----BEGIN [A-Z0-9 ]+-----[\s\S]+-----END [A-Z0-9 ]+-----/;
const pem = (what: string) =>
  z.string().regex(PEM, `must be the PEM contents of the ${what} (-----BEGIN …), not a path`);
const HOST = /^(?:[A-Za-z0-9](?:[-A-Za-z0-9.]{0,251}[A-Za-z0-9])?|\[?[0-9A-Fa-f:.]+\]?)$/;
const host = () => z.string().regex(HOST, "must be a host name or an IP address");
const QUANTITY = "must be a positive quantity, such as 8, 500m or 16Gi";
const quantity = () =>
  z.union([z.string(), z.number()], { error: QUANTITY }).refine((q) => (parseQuantity(q) ?? 0) > 0, QUANTITY);
const PORT = "must be a port number, 1 to 65535";

/**
 * The body of `POST /v1/admin/nodes`: a name, one endpoint (a unix socket, or host and port with
 * optional TLS, PEM contents), where published ports are reached, labels and capacity overrides.
 */
const RegisterBody = z
  .strictObject({
    name: dnsLabel(),
    socketPath: z
      .string()
      .regex(/^\/\S*$/, "must be an absolute path, such as /var/run/docker.sock")
      .optional(),
    host: host().optional(),
    port: z.int({ error: PORT }).min(1, PORT).max(65535, PORT).optional(),
    tls: z
      .strictObject({
        ca: pem("CA certificate").optional(),
        cert: pem("client certificate").optional(),
        key: pem("client key").optional(),
      })
      .optional(),
    address: host().optional(),
    labels: Labels.optional(),
    cpu: quantity().optional(),
    memory: quantity().optional(),
    maxPods: z.int({ error: "must be a whole number" }).min(1, "must be at least 1").max(10_000).optional(),
  })
  .superRefine((body, ctx) => {
    const issue = (path: (string | number)[], message: string) => ctx.addIssue({ code: "custom", path, message });
    if (body.socketPath && body.host) issue(["host"], "give either socketPath, or host and port, not both");
    if (!body.socketPath && !body.host) issue(["socketPath"], "required: a unix socket, or host and port (tcp)");
    if (body.host && body.port === undefined) issue(["port"], "required with host");
    if (body.socketPath && body.port !== undefined) issue(["port"], "only with host");
    if (body.socketPath && body.tls) issue(["tls"], "only with host: a unix socket takes no TLS");
    if (body.tls?.cert && !body.tls.key) issue(["tls", "key"], "required with tls.cert");
    if (body.tls?.key && !body.tls.cert) issue(["tls", "cert"], "required with tls.key");
    if (body.labels?.[NODE_NAME_LABEL] !== undefined)
      issue(["labels", NODE_NAME_LABEL], "is set by the platform to the node's name");
  });

type RegisterBody = z.infer<typeof RegisterBody>;

function invalid(error: z.ZodError): ApiError {
  const fields = error.issues.flatMap((issue) => {
    const at = issue.path.map(String);
    return issue.code === "unrecognized_keys"
      ? issue.keys.map((key) => ({ path: [...at, key].join("."), message: `unknown field ${JSON.stringify(key)}` }))
      : [{ path: at.join("."), message: issue.message }];
  });
  return new ApiError("INVALID", `node registration is invalid: ${fieldErrorsMessage(fields)}`, { fields });
}

/** The provider's configuration of the Engine; published ports are reached on 127.0.0.1 for a socket, on the host for tcp. */
function hostConfigOf(body: RegisterBody): DockerHostConfig {
  const endpoint: Partial<DockerHostConfig> = body.socketPath
    ? { socketPath: body.socketPath }
    : {
        host: body.host,
        port: body.port,
        protocol: body.tls ? "https" : "http",
        ...(body.tls?.ca ? { ca: body.tls.ca } : {}),
        ...(body.tls?.cert ? { cert: body.tls.cert } : {}),
        ...(body.tls?.key ? { key: body.tls.key } : {}),
      };
  return {
    name: body.name,
    ...endpoint,
    address: body.address ?? body.host ?? "127.0.0.1",
    labels: body.labels ?? {},
    ...(body.cpu !== undefined ? { cpuMillis: cpuMillis(body.cpu) } : {}),
    ...(body.memory !== undefined ? { memoryBytes: memoryBytes(body.memory) } : {}),
    ...(body.maxPods !== undefined ? { maxPods: body.maxPods } : {}),
  };
}

function registryOf(deps: ApiDeps): NodeRegistry {
  if (deps.nodeRegistry) return deps.nodeRegistry;
  throw new ApiError(
    "CONFLICT",
    "this platform runs simulated nodes; Docker hosts cannot be registered (start it with --docker or --provider docker)",
  );
}

async function endpointRef(deps: ApiDeps, name: string): Promise<ObjectRef> {
  return { tenantId: await systemTenantId(deps.store), kind: ENDPOINT_KIND, namespace: "", name };
}

function waitParam(value: string | undefined): boolean {
  if (value === undefined || value === "true") return true;
  if (value === "false") return false;
  throw new ApiError("BAD_REQUEST", `wait: must be true or false, got ${JSON.stringify(value)}`);
}

/** Pods that keep a registered node from going: all but daemon pods and pods that have ended. */
function holdingPods(pods: PodRecord[]): PodRecord[] {
  return pods.filter((p) => p.ownerKind !== "DaemonSet" && p.phase !== "Succeeded" && p.phase !== "Failed");
}

function stillHeldMessage(name: string, pods: PodRecord[]): string {
  const shown = pods
    .slice(0, 5)
    .map((p) => `${p.namespace}/${p.name}`)
    .join(", ");
  const list = `${shown}${pods.length > 5 ? `, and ${pods.length - 5} more` : ""}`;
  if (pods.every((p) => p.deletionRequestedAt !== null)) {
    return `node "${name}" still has ${pods.length} pod(s) terminating after the drain (${list}); retry once they have gone`;
  }
  return (
    `node "${name}" still runs ${pods.length} pod(s) other than daemon pods (${list}): drain it first ` +
    `(POST /v1/admin/nodes/${name}/drain), then delete it once they have gone`
  );
}

/**
 * `POST /v1/admin/nodes` registers a Docker Engine as a node; `DELETE /v1/admin/nodes/{name}`
 * unregisters one. Operator only.
 *
 * A registration is refused (422, naming the endpoint) when the Engine does not answer `/_ping`
 * within 5 s, unless `?wait=false`: the node is then registered all the same and shows NotReady
 * until it answers. Registered Engines are kept in the store (src/providers/docker/endpoints.ts)
 * and come back when the platform restarts; the client key is never shown again. The node shows
 * in `GET /api/v1/nodes` once its first heartbeat lands, like a configured one.
 *
 * Unregistering is refused (409) while pods other than daemon pods are on the node, terminating
 * ones included, so none is cut off from its Engine: drain first. The node is then cordoned, the
 * provider forgets the Engine, and the node goes as a removed one does (src/jobs/nodes.ts), its
 * daemon pods with it. What still runs on that Engine is left there.
 */
function registerNodeRegistration(app: Hono<AppEnv>, deps: ApiDeps): void {
  app.post("/v1/admin/nodes", requireAdmin(), async (c) => {
    const registry = registryOf(deps);
    const wait = waitParam(c.req.query("wait"));
    const body = await c.req.json().catch(() => {
      throw new ApiError("BAD_REQUEST", 'send JSON: { "name": "edge-1", "socketPath": "/var/run/docker.sock" }');
    });
    const parsed = RegisterBody.safeParse(body ?? {});
    if (!parsed.success) throw invalid(parsed.error);
    const config = hostConfigOf(parsed.data);
    const exists = () => new ApiError("ALREADY_EXISTS", `node "${config.name}" already exists`);
    if (registry.hasHost(config.name) || (await deps.store.getNode(config.name))) throw exists();
    if (wait && !(await pingEngine(config, deps.clock, PING_TIMEOUT_MS))) {
      const path = config.socketPath ? "socketPath" : "host";
      const message = `the Docker Engine at ${endpointUrl(config)} did not answer /_ping within ${PING_TIMEOUT_MS / 1000} s`;
      throw new ApiError("INVALID", `${path}: ${message}; check the endpoint, or register it anyway with ?wait=false`, {
        fields: [{ path, message }],
      });
    }
    const ref = await endpointRef(deps, config.name);
    const now = deps.clock.now();
    try {
      await deps.store.createObject({
        ...ref,
        id: newId("obj", deps.clock, deps.rng),
        uid: newUid(deps.rng),
        apiVersion: "kubernease.io/v1",
        labels: {},
        annotations: {},
        spec: endpointSpec(config),
        createdAt: now,
      });
    } catch (error) {
      if (error instanceof ConflictError) throw exists();
      throw error;
    }
    if (!registry.addHost(config)) {
      // A node of that name appeared meanwhile: this registration is undone, not half-applied.
      await deps.store.deleteObject(ref, { nowMs: deps.clock.now() });
      throw exists();
    }
    return c.json(renderEndpoint(config, now), 201);
  });

  app.delete("/v1/admin/nodes/:name", requireAdmin(), async (c) => {
    const registry = registryOf(deps);
    const name = c.req.param("name");
    const ref = await endpointRef(deps, name);
    const stored = await deps.store.getObject(ref);
    if (!stored) {
      if (registry.hasHost(name) || (await deps.store.getNode(name))) {
        throw new ApiError(
          "CONFLICT",
          `node "${name}" was not registered at /v1/admin/nodes: it comes from the platform's configuration (--docker); remove it there`,
        );
      }
      throw new ApiError("NOT_FOUND", `registered node "${name}" not found`);
    }
    // Cordoned before its pods are counted, so no pod can be bound there between the count and the removal.
    // A refused removal leaves it cordoned: the operator is taking it away (drain is the next step).
    await deps.store.updateNode(name, { unschedulable: true }, deps.clock.now());
    const held = holdingPods(await deps.store.listPods({ nodeName: name }));
    if (held.length > 0) throw new ApiError("CONFLICT", stillHeldMessage(name, held));
    await deps.store.deleteObject(ref, { nowMs: deps.clock.now() });
    registry.removeHost(name);
    deps.onCommitted?.();
    return c.json({ node: name, endpoint: endpointUrl(endpointConfig(stored)), unregistered: true });
  });
}

/**
 * The operator's node controls: `POST /v1/admin/nodes/{name}/cordon|uncordon|drain`.
 * A cordoned node takes no new pods. Drain cordons, then evicts every pod on the
 * node through the same path as the eviction API and the node autoscaler
 * (src/jobs/drain.ts), so PodDisruptionBudgets are honoured; pods a budget cannot
 * spare yet are reported, and a later drain takes them once their replacements are
 * ready. Daemon pods stay, as `kubectl drain --ignore-daemonsets` leaves them.
 * Docker Engines are registered and unregistered here too (`registerNodeRegistration`).
 */
export function registerAdminNodes(app: Hono<AppEnv>, deps: ApiDeps): void {
  registerNodeRegistration(app, deps);
  const setCordon = async (name: string, unschedulable: boolean) => {
    const node = await deps.store.updateNode(name, { unschedulable }, deps.clock.now());
    if (!node) throw new ApiError("NOT_FOUND", `nodes "${name}" not found`);
    return node;
  };
  app.post("/v1/admin/nodes/:name/cordon", async (c) => c.json(renderNode(await setCordon(c.req.param("name"), true))));
  app.post("/v1/admin/nodes/:name/uncordon", async (c) => {
    const node = await setCordon(c.req.param("name"), false);
    deps.onCommitted?.();
    return c.json(renderNode(node));
  });
  app.post("/v1/admin/nodes/:name/drain", async (c) => {
    const node = await setCordon(c.req.param("name"), true);
    const { evicted, blocked } = await evictNodePods(deps, node.name);
    deps.onCommitted?.();
    return c.json({
      node: node.name,
      cordoned: true,
      evicted: evicted.map((e) => e.pod),
      blocked,
      done: blocked.length === 0,
    });
  });
}
