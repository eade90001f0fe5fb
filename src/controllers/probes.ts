import type { Json } from "./types.js";

/**
 * The kubelet's probe rules, pure: per container and probe kind, when the next
 * probe is due, how consecutive results count against the thresholds, and what
 * a result means (ready, started, kill). The prober in src/jobs runs the probes
 * and applies the outcome; the simulator can replay the same rules on virtual
 * time without running a probe at all (`nextProbeAtMs` says when to look next).
 */
export type ProbeKind = "startup" | "liveness" | "readiness";

export const PROBE_KINDS: readonly ProbeKind[] = ["startup", "liveness", "readiness"];

const PROBE_FIELD: Record<ProbeKind, "startupProbe" | "livenessProbe" | "readinessProbe"> = {
  startup: "startupProbe",
  liveness: "livenessProbe",
  readiness: "readinessProbe",
};

/** Kubernetes' defaults for an unset probe field. */
export const PROBE_DEFAULTS = {
  initialDelaySeconds: 0,
  periodSeconds: 10,
  timeoutSeconds: 1,
  successThreshold: 1,
  failureThreshold: 3,
} as const;

export interface ProbeSettings {
  initialDelayMs: number;
  periodMs: number;
  timeoutMs: number;
  successThreshold: number;
  failureThreshold: number;
  /** The probe as the tenant wrote it; its handler (httpGet, tcpSocket, exec, grpc) is the provider's business. */
  spec: Json;
}

export type ContainerProbeSettings = Partial<Record<ProbeKind, ProbeSettings>>;

/** A container's probes with Kubernetes' defaults filled in; kinds the container does not set are absent. */
export function probeSettingsOf(container: Json): ContainerProbeSettings {
  const settings: ContainerProbeSettings = {};
  for (const kind of PROBE_KINDS) {
    const probe = container[PROBE_FIELD[kind]];
    if (probe && typeof probe === "object") settings[kind] = probeSettings(kind, probe as Json);
  }
  return settings;
}

function probeSettings(kind: ProbeKind, probe: Json): ProbeSettings {
  const num = (field: keyof typeof PROBE_DEFAULTS, min: number): number => {
    const value = probe[field];
    return typeof value === "number" && Number.isFinite(value) ? Math.max(min, value) : PROBE_DEFAULTS[field];
  };
  return {
    initialDelayMs: num("initialDelaySeconds", 0) * 1000,
    periodMs: num("periodSeconds", 1) * 1000,
    timeoutMs: num("timeoutSeconds", 1) * 1000,
    // A liveness or startup probe that needed two successes would only delay a restart: Kubernetes fixes it at 1.
    successThreshold: kind === "readiness" ? num("successThreshold", 1) : 1,
    failureThreshold: num("failureThreshold", 1),
    spec: probe,
  };
}

/** The result that counts: raw results only change it once a threshold of them in a row is reached. */
export type ProbeResult = "success" | "failure" | "unknown";

export interface ProbeState {
  result: ProbeResult;
  /** The last raw result and how many of it came in a row. */
  lastRaw?: "success" | "failure";
  run: number;
  nextDueAtMs: number;
}

/** The probe state of one run of one container (a restart is a new run, with fresh state). */
export interface ContainerProbeState {
  containerID: string;
  startedAtMs: number;
  probes: Partial<Record<ProbeKind, ProbeState>>;
  /** Set once a liveness or startup probe has decided a kill: this run is probed no more. */
  killedBy?: "liveness" | "startup";
}

/**
 * Fresh state for a run that started at `startedAtMs`. Readiness starts failed,
 * liveness succeeded, startup unknown, as in the kubelet. `prior` carries what
 * the stored status already says of this very run (after a control-plane
 * restart), so that a ready container does not flap to unready and back.
 */
export function newContainerProbeState(
  settings: ContainerProbeSettings,
  containerID: string,
  startedAtMs: number,
  prior: { ready?: boolean; started?: boolean } = {},
): ContainerProbeState {
  const initial: Record<ProbeKind, ProbeResult> = {
    startup: prior.started ? "success" : "unknown",
    liveness: "success",
    readiness: prior.ready ? "success" : "failure",
  };
  const probes: ContainerProbeState["probes"] = {};
  for (const kind of PROBE_KINDS) {
    const probe = settings[kind];
    if (probe) probes[kind] = { result: initial[kind], run: 0, nextDueAtMs: startedAtMs + probe.initialDelayMs };
  }
  return { containerID, startedAtMs, probes };
}

/** Started: the startup probe (if any) has succeeded; until then liveness and readiness wait. */
export function isStarted(state: ContainerProbeState): boolean {
  const startup = state.probes.startup;
  return !startup || startup.result === "success";
}

/** Ready: started, not being killed, and the readiness probe (if any) says so. */
export function isReady(state: ContainerProbeState): boolean {
  const readiness = state.probes.readiness;
  return isStarted(state) && state.killedBy === undefined && (!readiness || readiness.result === "success");
}

/** The probe kinds that run at all right now: startup alone until it succeeds, then liveness and readiness. */
export function activeProbes(state: ContainerProbeState): ProbeKind[] {
  if (state.killedBy) return [];
  if (!isStarted(state)) return ["startup"];
  return (["liveness", "readiness"] as const).filter((kind) => state.probes[kind] !== undefined);
}

/** The probes due at `nowMs`. */
export function dueProbes(state: ContainerProbeState, nowMs: number): ProbeKind[] {
  return activeProbes(state).filter((kind) => (state.probes[kind]?.nextDueAtMs ?? Number.POSITIVE_INFINITY) <= nowMs);
}

/** When the next probe of this run is due, or undefined when none will run. */
export function nextProbeAtMs(state: ContainerProbeState): number | undefined {
  const due = activeProbes(state).map((kind) => state.probes[kind]?.nextDueAtMs ?? Number.POSITIVE_INFINITY);
  return due.length > 0 ? Math.min(...due) : undefined;
}

export interface ProbeOutcome {
  state: ContainerProbeState;
  /** The counted result changed (e.g. readiness failure → success). */
  changed: boolean;
  /** A liveness or startup probe reached its failure threshold: the run must be killed. */
  kill?: "liveness" | "startup";
}

/**
 * Records one raw probe result: `true` passed, `false` failed, `undefined` could
 * not be run (Kubernetes' "Unknown": no action, nothing counted). Schedules the
 * next probe one period after this one was due, never in the past.
 */
export function recordProbe(
  settings: ContainerProbeSettings,
  state: ContainerProbeState,
  kind: ProbeKind,
  ok: boolean | undefined,
  nowMs: number,
): ProbeOutcome {
  const probe = settings[kind];
  const before = state.probes[kind];
  if (!probe || !before || state.killedBy) return { state, changed: false };
  const nextDueAtMs = Math.max(before.nextDueAtMs + probe.periodMs, nowMs);
  if (ok === undefined) return { state: withProbe(state, kind, { ...before, nextDueAtMs }), changed: false };
  const raw = ok ? "success" : "failure";
  const run = before.lastRaw === raw ? before.run + 1 : 1;
  const threshold = ok ? probe.successThreshold : probe.failureThreshold;
  const result = run >= threshold ? raw : before.result;
  const next = withProbe(state, kind, { result, lastRaw: raw, run, nextDueAtMs });
  const changed = result !== before.result;
  if (!ok && run >= threshold && (kind === "liveness" || kind === "startup")) {
    return { state: { ...next, killedBy: kind }, changed, kill: kind };
  }
  return { state: next, changed };
}

function withProbe(state: ContainerProbeState, kind: ProbeKind, probe: ProbeState): ContainerProbeState {
  return { ...state, probes: { ...state.probes, [kind]: probe } };
}

const KIND_TITLE: Record<ProbeKind, string> = { startup: "Startup", liveness: "Liveness", readiness: "Readiness" };

/** Kubernetes' event texts: `Unhealthy` "Readiness probe failed: …", `Killing` "Container web failed liveness probe, …". */
export function probeFailedMessage(kind: ProbeKind, detail: string | undefined): string {
  return `${KIND_TITLE[kind]} probe failed: ${detail ?? "probe failed"}`;
}

export function killMessage(containerName: string, kind: "liveness" | "startup"): string {
  return `Container ${containerName} failed ${kind} probe, will be restarted`;
}
