import http from "node:http";
import https from "node:https";
import net from "node:net";
import type Docker from "dockerode";
import type { Clock } from "../../core/clock.js";
import type { Json, ProbeResult } from "../types.js";

/** Kubernetes' default probe timeout. */
const DEFAULT_TIMEOUT_MS = 1_000;
/** Bound on what an exec probe's output is kept of, for its message. */
const MAX_OUTPUT_BYTES = 1_024;

export function probeTimeoutMs(probe: Json): number {
  const seconds = probe.timeoutSeconds;
  return typeof seconds === "number" && seconds > 0 ? seconds * 1000 : DEFAULT_TIMEOUT_MS;
}

/** Resolves `fallback` when `promise` has not settled within `ms`, on the injected clock. */
export function within<T>(clock: Clock, ms: number, promise: Promise<T>, fallback: () => T): Promise<T> {
  let cancel = () => {};
  const timeout = new Promise<T>((resolve) => {
    cancel = clock.setTimer(ms, () => resolve(fallback()));
  });
  return Promise.race([promise, timeout]).finally(() => cancel());
}

/**
 * Where a probe's message says it dialled: the pod's own address and container port, as the kubelet
 * words it. The node's address and published port, which are dialled, are the platform's business,
 * and the message reaches tenants (events, pod status).
 */
export interface ProbeTarget {
  host: string;
  port: number;
}

/** An HTTP GET against the published port: 200–399 passes, as in Kubernetes. */
export function httpProbe(
  host: string,
  port: number,
  action: Json,
  timeoutMs: number,
  shown: ProbeTarget = { host, port },
): Promise<ProbeResult> {
  const scheme = String(action.scheme ?? "HTTP").toUpperCase();
  const path = typeof action.path === "string" && action.path !== "" ? action.path : "/";
  const headers: Record<string, string> = { "user-agent": "kube-probe/kubernease" };
  for (const h of (action.httpHeaders as { name: string; value: string }[] | undefined) ?? [])
    headers[h.name] = h.value;
  const origin = (h: string, p: number) => `${scheme === "HTTPS" ? "https" : "http"}://${h}:${p}`;
  // The tenant's path goes into the path and query only: joined as text, `@host:port/…` or `//host/…`
  // would send the request elsewhere.
  const url = new URL(origin(host, port));
  const at = path.indexOf("?");
  url.pathname = at < 0 ? path : path.slice(0, at);
  if (at >= 0) url.search = path.slice(at);
  return new Promise((resolve) => {
    const get = scheme === "HTTPS" ? https.get : http.get;
    const request = get(
      url,
      { headers, timeout: timeoutMs, ...(scheme === "HTTPS" ? { rejectUnauthorized: false } : {}) },
      (response) => {
        response.resume();
        const code = response.statusCode ?? 0;
        resolve(
          code >= 200 && code < 400
            ? { ok: true }
            : { ok: false, message: `HTTP probe failed with statuscode: ${code}` },
        );
      },
    );
    request.on("timeout", () => request.destroy(new Error("timeout")));
    request.on("error", (error) => {
      const why = error.message === "timeout" ? "context deadline exceeded" : dialError(error);
      resolve({ ok: false, message: `Get "${origin(shown.host, shown.port)}${path}": ${why}` });
    });
  });
}

/** A TCP connect to the published port. */
export function tcpProbe(
  host: string,
  port: number,
  timeoutMs: number,
  shown: ProbeTarget = { host, port },
): Promise<ProbeResult> {
  return new Promise((resolve) => {
    const socket = net.connect({ host, port });
    socket.setTimeout(timeoutMs);
    socket.once("connect", () => {
      socket.destroy();
      resolve({ ok: true });
    });
    socket.once("timeout", () => {
      socket.destroy();
      resolve({ ok: false, message: `dial tcp ${shown.host}:${shown.port}: i/o timeout` });
    });
    socket.once("error", (error) =>
      resolve({ ok: false, message: `dial tcp ${shown.host}:${shown.port}: ${dialError(error)}` }),
    );
  });
}

/** A fixed text per error: the system's own message names the address dialled, the node's. */
function dialError(error: Error): string {
  const code = (error as NodeJS.ErrnoException).code;
  if (code === "ECONNREFUSED") return "connect: connection refused";
  if (code === "ECONNRESET") return "read: connection reset by peer";
  if (code === "EHOSTUNREACH") return "connect: no route to host";
  if (code === "ENETUNREACH") return "connect: network is unreachable";
  if (code === "ETIMEDOUT") return "i/o timeout";
  return code ? `connect: ${code}` : "connect: failed";
}

/** Runs the command in the container through the Engine's exec API: exit 0 passes. */
export async function execProbe(container: Docker.Container, command: string[]): Promise<ProbeResult> {
  const exec = await container.exec({ Cmd: command, AttachStdout: true, AttachStderr: true });
  const stream = await exec.start({ hijack: true, stdin: false });
  let output = Buffer.alloc(0);
  await new Promise<void>((resolve, reject) => {
    stream.on("data", (chunk: Buffer) => {
      if (output.length < MAX_OUTPUT_BYTES) output = Buffer.concat([output, chunk]).subarray(0, MAX_OUTPUT_BYTES);
    });
    stream.on("end", () => resolve());
    stream.on("close", () => resolve());
    stream.on("error", reject);
  });
  const info = await exec.inspect();
  if (info.ExitCode === 0) return { ok: true };
  // The multiplexed stream has 8-byte frame headers; printable text is enough for a message.
  const text = output
    .toString("utf8")
    .replace(/[^\x20-\x7e\n]/g, "")
    .trim();
  return {
    ok: false,
    message: `command ${JSON.stringify(command)} exited with ${info.ExitCode ?? "no code"}${text ? `: ${text}` : ""}`,
  };
}
