import type { Hono } from "hono";
import type { PodRecord } from "../../db/types.js";
import { LogsNotFoundError, LogsUnavailableError } from "../../providers/types.js";
import { type ApiDeps, type AppEnv, DEFAULT_LOG_FOLLOW_LIMIT_MS } from "../context.js";
import { ApiError } from "../errors.js";
import { checkNamespace } from "../objects.js";
import { type Ctx, tenantId } from "./shared.js";

/**
 * `GET /api/v1/namespaces/{ns}/pods/{name}/log[?container=][&tailLines=N][&follow=true][&previous=true]`:
 * a container's output as `text/plain`, as `kubectl logs` reads it. A followed log streams until the
 * run ends, the client goes away, or the server's bound (`logFollowLimitMs`) runs out.
 */
export function registerPodLog(app: Hono<AppEnv>, deps: ApiDeps): void {
  app.get("/api/v1/namespaces/:ns/pods/:name/log", async (c) => {
    const name = c.req.param("name");
    const pod = await deps.store.getPodByName(tenantId(c), checkNamespace(c.req.param("ns")), name);
    if (!pod) throw new ApiError("NOT_FOUND", `pods "${name}" not found`, { kind: "Pod", name });
    const container = containerOf(pod, c.req.query("container"));
    const tailLines = tailLinesOf(c);
    const follow = flag(c, "follow");
    const previous = flag(c, "previous");
    const started = startedRun(pod, container);
    if (!pod.nodeName || !started) {
      throw new ApiError(
        "BAD_REQUEST",
        `container "${container}" in pod "${name}" is waiting to start: ${waitingReason(pod, container)}`,
      );
    }
    if (!deps.podLogs) throw new ApiError("SERVICE_UNAVAILABLE", "logs cannot be read from this API process");
    const abort = new AbortController();
    const cancelLimit = deps.clock.setTimer(deps.logFollowLimitMs ?? DEFAULT_LOG_FOLLOW_LIMIT_MS, () => abort.abort());
    c.req.raw.signal?.addEventListener("abort", () => abort.abort(), { once: true });
    let chunks: AsyncIterable<string>;
    try {
      chunks = await deps.podLogs.logs(pod.nodeName, pod.id, container, {
        follow,
        previous,
        signal: abort.signal,
        ...(tailLines !== undefined ? { tailLines } : {}),
      });
    } catch (error) {
      cancelLimit();
      if (error instanceof LogsNotFoundError) throw new ApiError("BAD_REQUEST", `${error.message} in pod "${name}"`);
      if (error instanceof LogsUnavailableError) throw new ApiError("SERVICE_UNAVAILABLE", error.message);
      throw error;
    }
    return new Response(
      textStream(chunks, () => {
        cancelLimit();
        abort.abort();
      }),
      {
        headers: { "content-type": "text/plain; charset=utf-8", "x-content-type-options": "nosniff" },
      },
    );
  });
}

/** The container asked for; a pod of one container needs no name, as in Kubernetes. */
function containerOf(pod: PodRecord, asked: string | undefined): string {
  const spec = pod.spec as { containers?: { name: string }[]; initContainers?: { name: string }[] };
  const names = [...(spec.initContainers ?? []), ...(spec.containers ?? [])].map((c) => c.name);
  const regular = (spec.containers ?? []).map((c) => c.name);
  if (asked === undefined || asked === "") {
    if (regular.length === 1 && regular[0]) return regular[0];
    throw new ApiError(
      "BAD_REQUEST",
      `a container name must be specified for pod ${pod.name}, choose one of: [${regular.join(" ")}]`,
    );
  }
  if (!names.includes(asked)) {
    throw new ApiError("BAD_REQUEST", `container ${asked} is not valid for pod ${pod.name}`);
  }
  return asked;
}

interface StatusOfContainer {
  name: string;
  containerID?: string;
  state?: { waiting?: { reason?: string } };
}

function statusesOf(pod: PodRecord): StatusOfContainer[] {
  const status = pod.status as { containerStatuses?: StatusOfContainer[]; initContainerStatuses?: StatusOfContainer[] };
  return [...(status.initContainerStatuses ?? []), ...(status.containerStatuses ?? [])];
}

/** Whether the container has had a run: only then is there anything to read. */
function startedRun(pod: PodRecord, container: string): boolean {
  return statusesOf(pod).some((s) => s.name === container && s.containerID !== undefined && s.containerID !== "");
}

function waitingReason(pod: PodRecord, container: string): string {
  const status = statusesOf(pod).find((s) => s.name === container);
  return status?.state?.waiting?.reason ?? "ContainerCreating";
}

function tailLinesOf(c: Ctx): number | undefined {
  const raw = c.req.query("tailLines");
  if (raw === undefined) return undefined;
  const value = Number(raw);
  if (!/^\d+$/.test(raw) || !Number.isSafeInteger(value)) {
    throw new ApiError("BAD_REQUEST", "tailLines must be a whole number of lines, 0 or more");
  }
  return value;
}

function flag(c: Ctx, name: string): boolean {
  return ["true", "1"].includes(c.req.query(name) ?? "");
}

/** The chunks as a byte stream; cancelling it (the client went away) ends the provider's iterable. */
function textStream(chunks: AsyncIterable<string>, done: () => void): ReadableStream<Uint8Array> {
  const encoder = new TextEncoder();
  const iterator = chunks[Symbol.asyncIterator]();
  return new ReadableStream<Uint8Array>({
    async pull(controller) {
      try {
        const next = await iterator.next();
        if (next.done) {
          done();
          controller.close();
        } else {
          controller.enqueue(encoder.encode(next.value));
        }
      } catch (error) {
        done();
        controller.error(error);
      }
    },
    async cancel() {
      done();
      await iterator.return?.();
    },
  });
}
