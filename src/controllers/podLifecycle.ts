import { conditionsOf, setCondition } from "./podStatus.js";
import type { Json, PodView } from "./types.js";

/**
 * The kubelet's container lifecycle rules, pure: what a container's status
 * becomes when its runtime state is observed, whether an exited container is
 * restarted (restartPolicy) and after what back-off (CrashLoopBackOff), and the
 * pod's phase, readiness and conditions that follow. The restart count and the
 * back-off are the control plane's, kept in the pod's status, so a restarted
 * control plane carries on where it stopped.
 */
export type RestartPolicy = "Always" | "OnFailure" | "Never";
export type PodPhase = PodView["phase"];

export interface BackOffSettings {
  /** The first wait (before the second restart: the first is at once); it doubles with every restart after. */
  baseMs: number;
  capMs: number;
  /** A run at least this long resets the back-off: the next restart is at once again. */
  resetAfterMs: number;
}

/** The kubelet's: at once, then 10 s, doubling, capped at 5 min, reset after 10 min of running. */
export const KUBELET_BACK_OFF: BackOffSettings = { baseMs: 10_000, capMs: 300_000, resetAfterMs: 600_000 };

export interface TerminatedState {
  exitCode: number;
  /** `Completed` (exit 0), `Error` or `OOMKilled`. */
  reason: string;
  message?: string;
  startedAt?: string;
  finishedAt: string;
  containerID?: string;
}

export type ContainerState =
  | { waiting: { reason: string; message?: string } }
  | { running: { startedAt: string } }
  | { terminated: TerminatedState };

/** A container's status as Kubernetes shows it. */
export interface ContainerStatus {
  name: string;
  image: string;
  containerID?: string;
  ready: boolean;
  started: boolean;
  restartCount: number;
  state: ContainerState;
  lastState: { terminated?: TerminatedState };
}

/** What a runtime reports of one container: its current run, by id, and the run's state. */
export interface ObservedRun {
  name: string;
  image: string;
  /** A new id for every run: a restart shows as a new id. */
  containerID?: string;
  state: ContainerState;
}

/** The back-off of one container: the wait chosen after the run `containerID` ended, and when it ends. */
export interface RestartBackOff {
  containerID: string;
  delayMs: number;
  restartAtMs: number;
}

export type BackOffs = Record<string, RestartBackOff>;

export interface LifecycleEvent {
  eventType: "Normal" | "Warning";
  reason: string;
  message: string;
}

export const CRASH_LOOP_BACK_OFF = "CrashLoopBackOff";

export function restartPolicyOf(podSpec: Json): RestartPolicy {
  const policy = podSpec.restartPolicy;
  return policy === "OnFailure" || policy === "Never" ? policy : "Always";
}

/** Always restarts; OnFailure only after a non-zero exit; Never leaves the container terminated. */
export function shouldRestart(policy: RestartPolicy, exitCode: number): boolean {
  return policy === "Always" || (policy === "OnFailure" && exitCode !== 0);
}

/** The wait before restart number `restart` (1-based) when no run was long enough to reset it (see `restartDelayMs`). */
export function backOffForRestart(restart: number, settings: BackOffSettings): number {
  let delayMs: number | undefined;
  for (let n = 1; n <= restart; n++) delayMs = restartDelayMs(delayMs, undefined, settings);
  return delayMs ?? 0;
}

/**
 * The wait before restarting a container whose run ended, as the kubelet's back-off (keyed on the
 * run's end): the first restart, or the first after a run long enough to reset, is at once; the
 * next waits the base; each after that doubles, capped. So 0, 10 s, 20 s, 40 s … 300 s by default.
 */
export function restartDelayMs(
  previousDelayMs: number | undefined,
  ranMs: number | undefined,
  settings: BackOffSettings,
): number {
  const reset = previousDelayMs === undefined || (ranMs !== undefined && ranMs >= settings.resetAfterMs);
  if (reset) return 0;
  return previousDelayMs === 0
    ? Math.min(settings.baseMs, settings.capMs)
    : nextBackOffMs(previousDelayMs, ranMs, settings);
}

/** The next wait: the base at first or after a long enough run, else double the last, capped. */
export function nextBackOffMs(
  previousDelayMs: number | undefined,
  ranMs: number | undefined,
  settings: BackOffSettings,
): number {
  const reset = previousDelayMs === undefined || (ranMs !== undefined && ranMs >= settings.resetAfterMs);
  return reset ? Math.min(settings.baseMs, settings.capMs) : Math.min(settings.capMs, previousDelayMs * 2);
}

/** Go-style durations, as Kubernetes prints them: `100ms`, `10s`, `1.6s`, `5m0s`. */
export function formatDuration(ms: number): string {
  if (ms < 1000) return `${Math.round(ms)}ms`;
  const seconds = ms / 1000;
  if (seconds < 60) return `${Number(seconds.toFixed(3))}s`;
  const minutes = Math.floor(seconds / 60);
  return `${minutes}m${Number((seconds - minutes * 60).toFixed(3))}s`;
}

interface ContainerSpec {
  name: string;
  image?: string;
  readinessProbe?: unknown;
  startupProbe?: unknown;
}

function containersOf(podSpec: Json): ContainerSpec[] {
  return (podSpec.containers as ContainerSpec[] | undefined) ?? [];
}

export interface PodIdentity {
  name: string;
  namespace: string;
  uid: string;
}

export interface ObserveInput {
  pod: PodIdentity;
  podSpec: Json;
  previous: ContainerStatus[];
  backOffs: BackOffs;
  observed: ObservedRun[];
  settings: BackOffSettings;
}

export interface ObserveResult {
  containerStatuses: ContainerStatus[];
  backOffs: BackOffs;
  events: LifecycleEvent[];
}

/**
 * Folds a runtime observation into the containers' statuses. Idempotent: the
 * same observation twice gives the same statuses and no second event, because
 * a restart is counted when a new run id appears and a back-off is chosen once
 * per ended run.
 */
export function observeContainers(input: ObserveInput): ObserveResult {
  const policy = restartPolicyOf(input.podSpec);
  const backOffs: BackOffs = {};
  const events: LifecycleEvent[] = [];
  const containerStatuses = containersOf(input.podSpec).map((spec) => {
    const previous = input.previous.find((c) => c.name === spec.name);
    const observed = input.observed.find((c) => c.name === spec.name);
    const before = input.backOffs[spec.name];
    const merged = observed
      ? mergeContainer({ spec, previous, observed, backOff: before, policy, input })
      : { status: previous ?? initialStatus(spec), backOff: before };
    if (merged.backOff) backOffs[spec.name] = merged.backOff;
    // A restart at once (the first) is no back-off: the kubelet reports none.
    if (merged.backOff && merged.backOff.containerID !== before?.containerID && merged.backOff.delayMs > 0) {
      events.push({
        eventType: "Warning",
        reason: "BackOff",
        message: `Back-off restarting failed container ${spec.name} in pod ${podRef(input.pod)}`,
      });
    }
    return merged.status;
  });
  return { containerStatuses, backOffs, events };
}

function initialStatus(spec: ContainerSpec): ContainerStatus {
  return {
    name: spec.name,
    image: spec.image ?? "",
    ready: false,
    started: false,
    restartCount: 0,
    state: { waiting: { reason: "ContainerCreating" } },
    lastState: {},
  };
}

function podRef(pod: PodIdentity): string {
  return `${pod.name}_${pod.namespace}(${pod.uid})`;
}

interface MergeArgs {
  spec: ContainerSpec;
  previous: ContainerStatus | undefined;
  observed: ObservedRun;
  backOff: RestartBackOff | undefined;
  policy: RestartPolicy;
  input: ObserveInput;
}

function mergeContainer(args: MergeArgs): { status: ContainerStatus; backOff?: RestartBackOff } {
  const { spec, previous, observed } = args;
  const newRun = observed.containerID !== undefined && observed.containerID !== previous?.containerID;
  const restarted = newRun && previous?.containerID !== undefined;
  let lastState = previous?.lastState ?? {};
  if (restarted && previous && "terminated" in previous.state) lastState = { terminated: previous.state.terminated };
  const base = {
    name: spec.name,
    image: observed.image || spec.image || "",
    ...(observed.containerID !== undefined ? { containerID: observed.containerID } : {}),
    restartCount: (previous?.restartCount ?? 0) + (restarted ? 1 : 0),
    lastState,
  };
  const state = observed.state;
  if ("running" in state) {
    const sameRun = !newRun && previous !== undefined && "running" in previous.state;
    const started = !spec.startupProbe || (sameRun && previous.started);
    const ready = started && (!spec.readinessProbe || (sameRun && previous.ready));
    return { status: { ...base, ready, started, state }, backOff: args.backOff };
  }
  if ("waiting" in state) return { status: { ...base, ready: false, started: false, state }, backOff: args.backOff };
  const terminated: TerminatedState = {
    ...state.terminated,
    ...(observed.containerID !== undefined ? { containerID: observed.containerID } : {}),
  };
  if (!shouldRestart(args.policy, terminated.exitCode)) {
    return { status: { ...base, ready: false, started: false, state: { terminated } }, backOff: args.backOff };
  }
  const backOff = backOffAfter(args.backOff, terminated, observed.containerID ?? `${spec.name}/unknown`, args.input);
  // Restarted at once (the first time), as the kubelet does: no back-off to show, the run's end is its state until the next.
  if (backOff.delayMs === 0)
    return { status: { ...base, ready: false, started: false, state: { terminated } }, backOff };
  const message = `back-off ${formatDuration(backOff.delayMs)} restarting failed container=${spec.name} pod=${podRef(args.input.pod)}`;
  return {
    status: {
      ...base,
      ready: false,
      started: false,
      state: { waiting: { reason: CRASH_LOOP_BACK_OFF, message } },
      lastState: { terminated },
    },
    backOff,
  };
}

/** The back-off for the run that just ended; chosen once per run, so a repeated observation keeps it. */
function backOffAfter(
  previous: RestartBackOff | undefined,
  terminated: TerminatedState,
  containerID: string,
  input: ObserveInput,
): RestartBackOff {
  if (previous?.containerID === containerID) return previous;
  const finishedAtMs = Date.parse(terminated.finishedAt);
  const startedAtMs = terminated.startedAt ? Date.parse(terminated.startedAt) : Number.NaN;
  const ranMs = Number.isFinite(startedAtMs) ? finishedAtMs - startedAtMs : undefined;
  const delayMs = restartDelayMs(previous?.delayMs, ranMs, input.settings);
  return { containerID, delayMs, restartAtMs: finishedAtMs + delayMs };
}

/**
 * The pod's phase from its containers, as the kubelet's `getPhase`: Pending while
 * a container has not started; Running while one runs or will be restarted;
 * Succeeded when all exited 0 and none restarts; Failed when all stopped for good
 * and one failed (restartPolicy Never).
 */
export function podPhase(containers: ContainerStatus[], policy: RestartPolicy): PodPhase {
  let waiting = 0;
  let running = 0;
  let stopped = 0;
  let succeeded = 0;
  for (const c of containers) {
    if ("running" in c.state) running++;
    else if ("terminated" in c.state) {
      stopped++;
      if (c.state.terminated.exitCode === 0) succeeded++;
    } else if (c.lastState.terminated) stopped++;
    else waiting++;
  }
  if (containers.length === 0 || waiting > 0) return "Pending";
  if (running > 0) return "Running";
  if (policy === "Always") return "Running";
  if (stopped === succeeded) return "Succeeded";
  return policy === "Never" ? "Failed" : "Running";
}

/** Ready: running, with every container ready. */
export function podReady(containers: ContainerStatus[], phase: PodPhase): boolean {
  return phase === "Running" && containers.length > 0 && containers.every((c) => c.ready);
}

export interface PodStatusChange {
  phase: PodPhase;
  ready: boolean;
  status: Json;
}

/**
 * The whole pod status for new container statuses: phase, readiness and the
 * conditions, on top of the fields the caller keeps (podIP, startTime, …).
 * `failed` is a runtime's word that the pod failed as a whole.
 */
export function podStatusFor(
  previous: Json,
  podSpec: Json,
  containerStatuses: ContainerStatus[],
  backOffs: BackOffs,
  nowMs: number,
  failed = false,
): PodStatusChange {
  const phase = failed ? "Failed" : podPhase(containerStatuses, restartPolicyOf(podSpec));
  const ready = podReady(containerStatuses, phase);
  const unready = containerStatuses.filter((c) => !c.ready).map((c) => c.name);
  const detail =
    phase === "Succeeded" || phase === "Failed"
      ? { reason: "PodCompleted" }
      : ready
        ? {}
        : { reason: "ContainersNotReady", message: `containers with unready status: [${unready.join(" ")}]` };
  let conditions = setCondition(conditionsOf(previous), "PodScheduled", true, nowMs);
  conditions = setCondition(conditions, "Initialized", true, nowMs);
  conditions = setCondition(conditions, "ContainersReady", ready, nowMs, detail);
  conditions = setCondition(conditions, "Ready", ready, nowMs, detail);
  const { restartBackOff: _old, ...rest } = previous;
  const status: Json = {
    ...rest,
    phase,
    conditions,
    containerStatuses,
    ...(Object.keys(backOffs).length > 0 ? { restartBackOff: backOffs } : {}),
  };
  return { phase, ready, status };
}

export function containerStatusesOf(status: Json): ContainerStatus[] {
  return (status.containerStatuses as ContainerStatus[] | undefined) ?? [];
}

export function backOffsOf(status: Json): BackOffs {
  return (status.restartBackOff as BackOffs | undefined) ?? {};
}

/**
 * A prober's verdict on one run of one container: its `ready` and `started`.
 * Undefined when the container has moved on to another run (the verdict is
 * stale) or nothing changes.
 */
export function withProbeVerdict(
  containers: ContainerStatus[],
  name: string,
  containerID: string,
  verdict: { ready: boolean; started: boolean },
): ContainerStatus[] | undefined {
  const current = containers.find((c) => c.name === name);
  if (!current || current.containerID !== containerID || !("running" in current.state)) return undefined;
  if (current.ready === verdict.ready && current.started === verdict.started) return undefined;
  return containers.map((c) => (c === current ? { ...c, ...verdict } : c));
}

export interface RestartPlan {
  /** Containers whose back-off is over: start them again (the id names the run that ended). */
  due: { name: string; containerID: string }[];
  /** When the next back-off ends, if one still runs. */
  nextAtMs?: number;
}

/** Which containers are due for their restart at `nowMs`: waiting in CrashLoopBackOff, or ended and restarted at once. */
export function restartsDue(containers: ContainerStatus[], backOffs: BackOffs, nowMs: number): RestartPlan {
  const plan: RestartPlan = { due: [] };
  for (const c of containers) {
    const backOff = backOffs[c.name];
    const waits = "waiting" in c.state && c.state.waiting.reason === CRASH_LOOP_BACK_OFF;
    const atOnce = "terminated" in c.state && backOff?.delayMs === 0;
    if (!waits && !atOnce) continue;
    if (!backOff || backOff.containerID !== c.containerID) continue;
    if (backOff.restartAtMs <= nowMs) plan.due.push({ name: c.name, containerID: backOff.containerID });
    else plan.nextAtMs = Math.min(plan.nextAtMs ?? Number.POSITIVE_INFINITY, backOff.restartAtMs);
  }
  return plan;
}
