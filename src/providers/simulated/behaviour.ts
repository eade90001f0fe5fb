import type { Rng } from "../../core/rng.js";
import type { Json, ProbeKind, ProbeResult, TerminationReason } from "../types.js";

/**
 * How a probe of a simulated container turns out: always, never, until or from
 * some time into the run, or at a seeded rate.
 */
export type ProbeBehaviour =
  | "pass"
  | "fail"
  /** Passes for the first `failAfterMs` of each run, then fails (a leak, a deadlock). */
  | { failAfterMs: number }
  /** Fails for the first `passAfterMs` of each run, then passes (a slow warm-up). */
  | { passAfterMs: number }
  /** Fails this share of probes, drawn from the provider's seeded generator. */
  | { failRate: number };

/** What a simulated image does when it runs. Unset fields: starts, passes every probe, never exits. */
export interface ImageBehaviour {
  readiness?: ProbeBehaviour;
  liveness?: ProbeBehaviour;
  startup?: ProbeBehaviour;
  /** Each run exits after running this long. */
  crashAfterMs?: number;
  /** The exit code of such an exit: 1 unless set (0 models a container that completes). */
  exitCode?: number;
  /** Why it exits; from the exit code unless set (0 → Completed, else Error). */
  exitReason?: TerminationReason;
  /** Overrides the provider's start latency for this image. */
  startLatencyMs?: { min: number; max: number };
  /** Lines each run writes when it starts, after the provider's own start line. */
  logLines?: string[];
}

/** The behaviour of an image: the exact reference, else its repository (no tag or digest), else `*`, else defaults. */
export function behaviourOf(images: ReadonlyMap<string, ImageBehaviour>, image: string): ImageBehaviour {
  return images.get(image) ?? images.get(repositoryOf(image)) ?? images.get("*") ?? {};
}

/** `registry:5000/team/web:1.2@sha256:…` → `registry:5000/team/web`. */
export function repositoryOf(image: string): string {
  const at = image.indexOf("@");
  const name = at === -1 ? image : image.slice(0, at);
  const slash = name.lastIndexOf("/");
  const colon = name.lastIndexOf(":");
  return colon > slash ? name.slice(0, colon) : name;
}

/** One probe's outcome for a run that has been running `ranMs`. */
export function probeOutcome(
  behaviour: ProbeBehaviour | undefined,
  ranMs: number,
  rng: Rng,
  kind: ProbeKind,
  probe: Json,
  podIP: string | undefined,
): ProbeResult {
  const ok = passes(behaviour ?? "pass", ranMs, rng);
  return ok ? { ok: true } : { ok: false, message: failureMessage(kind, probe, podIP) };
}

/**
 * Until when (ms into the run) every probe passes, as of `ranMs` into it: `Infinity` when none will
 * fail, `undefined` when that cannot be told without drawing (a failure rate) or a probe fails now.
 */
export function passesUntilMs(behaviour: ProbeBehaviour | undefined, ranMs: number): number | undefined {
  const b = behaviour ?? "pass";
  if (b === "pass") return Number.POSITIVE_INFINITY;
  if (b === "fail" || "failRate" in b) return undefined;
  if ("failAfterMs" in b) return ranMs < b.failAfterMs ? b.failAfterMs : undefined;
  return ranMs >= b.passAfterMs ? Number.POSITIVE_INFINITY : undefined;
}

function passes(behaviour: ProbeBehaviour, ranMs: number, rng: Rng): boolean {
  if (behaviour === "pass") return true;
  if (behaviour === "fail") return false;
  if ("failAfterMs" in behaviour) return ranMs < behaviour.failAfterMs;
  if ("passAfterMs" in behaviour) return ranMs >= behaviour.passAfterMs;
  return rng.next() >= behaviour.failRate;
}

/** What the kubelet would say for the probe's handler. */
function failureMessage(_kind: ProbeKind, probe: Json, podIP: string | undefined): string {
  const port = (handler: unknown) => String((handler as { port?: unknown } | undefined)?.port ?? "");
  if (probe.httpGet) return "HTTP probe failed with statuscode: 500";
  if (probe.tcpSocket) return `dial tcp ${podIP ?? "0.0.0.0"}:${port(probe.tcpSocket)}: connect: connection refused`;
  if (probe.grpc) return 'service unhealthy (responded with "NOT_SERVING")';
  if (probe.exec) return "command exited with code 1";
  return "probe failed";
}

/** Exit code and reason of a run that ends by itself. */
export function exitOf(behaviour: ImageBehaviour): { exitCode: number; reason: TerminationReason } {
  const exitCode = behaviour.exitCode ?? (behaviour.exitReason === "OOMKilled" ? 137 : 1);
  const reason = behaviour.exitReason ?? (exitCode === 0 ? "Completed" : "Error");
  return { exitCode, reason };
}
