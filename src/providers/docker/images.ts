import type Docker from "dockerode";
import type { Clock } from "../../core/clock.js";
import type { PodRuntimeSpec } from "../types.js";
import { within } from "./probe.js";

/**
 * Image pulls on one Engine, as the kubelet does them: the pull policy, the credentials of the
 * pod's `imagePullSecrets` for the image's registry, progress from the Engine's stream, and the
 * registry's own words when a pull fails. A failed pull is a value (its message), never a throw:
 * the container then waits with `ErrImagePull`, and the back-off is the control plane's.
 */
export type RegistryAuth = NonNullable<PodRuntimeSpec["registryAuth"]>;
export type PullPolicy = "Always" | "IfNotPresent" | "Never";

/** At most this many credentials are tried for one pull (each is one request to the registry). */
const MAX_CREDENTIALS = 5;

/**
 * The registry an image name points at, as docker config keys name it: the first path component
 * when it looks like a host (`127.0.0.1:5001/web:1`, `ghcr.io/x/y`, `localhost/y`), else Docker Hub.
 */
export function registryOf(image: string): string {
  const slash = image.indexOf("/");
  if (slash < 0) return "docker.io";
  const first = image.slice(0, slash);
  const host = first.includes(".") || first.includes(":") || first === "localhost";
  return host && first !== "index.docker.io" ? first : "docker.io";
}

/** Kubernetes' default when the spec names none: Always for `:latest` or no tag, else IfNotPresent. */
export function pullPolicyOf(image: string, policy: string | undefined): PullPolicy {
  if (policy === "Always" || policy === "IfNotPresent" || policy === "Never") return policy;
  if (image.includes("@")) return "IfNotPresent";
  const name = image.slice(image.lastIndexOf("/") + 1);
  const tag = name.includes(":") ? name.slice(name.lastIndexOf(":") + 1) : "latest";
  return tag === "latest" ? "Always" : "IfNotPresent";
}

/** The Engine's `authconfig`s to try for an image, in the secrets' order: none when no registry matches. */
export function credentialsFor(image: string, auth: RegistryAuth | undefined): Docker.AuthConfig[] {
  const registry = registryOf(image);
  return (auth ?? [])
    .filter((c) => c.registry === registry)
    .slice(0, MAX_CREDENTIALS)
    .map((c) => ({ username: c.username, password: c.password, serveraddress: registry }));
}

/** Bytes as Docker prints them: decimal units, one decimal (`512 B`, `1.2 MB`, `3.4 GB`). */
export function formatBytes(bytes: number): string {
  const units = ["B", "kB", "MB", "GB", "TB"];
  let value = bytes;
  let unit = 0;
  while (value >= 1000 && unit < units.length - 1) {
    value /= 1000;
    unit++;
  }
  return unit === 0 ? `${Math.round(value)} B` : `${value.toFixed(1)} ${units[unit]}`;
}

/** One line of the Engine's pull stream. */
export interface PullEvent {
  id?: string;
  status?: string;
  progressDetail?: { current?: number; total?: number };
  error?: string;
}

/** Bytes downloaded of the layers seen so far, summed from the Engine's per-layer progress. */
export class PullProgress {
  private readonly layers = new Map<string, { current: number; total: number }>();

  /** Takes in one event; true when the byte counts moved. */
  feed(event: PullEvent): boolean {
    if (!event.id) return false;
    const known = this.layers.get(event.id);
    const detail = event.progressDetail;
    if (event.status === "Downloading" && detail?.total) {
      this.layers.set(event.id, { current: detail.current ?? 0, total: detail.total });
      return true;
    }
    if ((event.status === "Download complete" || event.status === "Already exists") && known) {
      this.layers.set(event.id, { current: known.total, total: known.total });
      return true;
    }
    return false;
  }

  message(image: string): string {
    let current = 0;
    let total = 0;
    for (const layer of this.layers.values()) {
      current += layer.current;
      total += layer.total;
    }
    const bytes = total > 0 ? `: ${formatBytes(current)} of ${formatBytes(total)}` : "";
    return `Pulling image "${image}"${bytes}`;
  }
}

export interface PullOptions {
  clock: Clock;
  /** Bound on each attempt; the pull then fails with a timeout. */
  timeoutMs: number;
  auth?: RegistryAuth;
  /** Told when the pull starts, then as bytes arrive: the first count at once, later ones throttled. */
  onProgress?: (message: string) => void;
  progressIntervalMs?: number;
}

/**
 * Pulls an image; resolves to undefined when it is there, else to why not (the registry's message).
 * With credentials for the image's registry each is tried in order until one works, as the
 * kubelet's keyring does; without any, the pull is anonymous.
 */
export async function pullImage(docker: Docker, image: string, options: PullOptions): Promise<string | undefined> {
  const credentials = credentialsFor(image, options.auth);
  const attempts: (Docker.AuthConfig | undefined)[] = credentials.length > 0 ? credentials : [undefined];
  let failure: string | undefined;
  for (const authconfig of attempts) {
    failure = await pullOnce(docker, image, authconfig, options);
    if (failure === undefined) return undefined;
  }
  return failure;
}

async function pullOnce(
  docker: Docker,
  image: string,
  authconfig: Docker.AuthConfig | undefined,
  options: PullOptions,
): Promise<string | undefined> {
  const progress = new PullProgress();
  const intervalMs = options.progressIntervalMs ?? 1_000;
  let reportedAtMs: number | undefined;
  const onEvent = (event: PullEvent) => {
    if (!progress.feed(event) || !options.onProgress) return;
    const now = options.clock.now();
    if (reportedAtMs !== undefined && now - reportedAtMs < intervalMs) return;
    reportedAtMs = now;
    options.onProgress(progress.message(image));
  };
  options.onProgress?.(progress.message(image));
  let stream: (NodeJS.ReadableStream & { destroy?: () => void }) | undefined;
  const attempt = (async () => {
    stream = await docker.pull(image, authconfig ? { authconfig } : {});
    await followProgress(docker, stream, onEvent);
    return undefined;
  })().catch(messageOf);
  const timedOut = `timed out after ${options.timeoutMs} ms`;
  const result = await within(options.clock, options.timeoutMs, attempt, () => timedOut);
  if (result === timedOut) stream?.destroy?.();
  return result;
}

/** Follows an Engine progress stream to its end; an `error` line in it rejects. */
export function followProgress(
  docker: Docker,
  stream: NodeJS.ReadableStream,
  onEvent?: (event: PullEvent) => void,
): Promise<void> {
  return new Promise((resolve, reject) => {
    docker.modem.followProgress(
      stream,
      (error: Error | null, output: PullEvent[]) => {
        const failed = output?.find((o) => o.error);
        if (error) reject(error);
        else if (failed) reject(new Error(failed.error));
        else resolve();
      },
      (event: PullEvent) => {
        if (event.error) return;
        onEvent?.(event);
      },
    );
  });
}

/** The Engine's own message (its JSON body), not dockerode's "(HTTP code 500) server error - …" wrapping. */
function messageOf(error: unknown): string {
  const json = (error as { json?: { message?: unknown } } | undefined)?.json;
  if (json && typeof json.message === "string" && json.message !== "") return json.message;
  return error instanceof Error ? error.message : String(error);
}
