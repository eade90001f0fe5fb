import type { EventRecord } from "../db/types.js";
import { formatDurationMs } from "./duration.js";
import type { Invariant, Violation } from "./invariants.js";
import type { Metrics, SeriesPoint, WorkloadSeries } from "./metrics.js";
import { FAULTS, type Scenario } from "./scenario.js";
import { matchesWorkload } from "./workloads.js";
import { SIMULATION_EPOCH_MS, type World } from "./world.js";

/**
 * The report of one run: JSON for machines (every figure is virtual time or a
 * count — no wall-clock figure, so the same seed prints the same bytes) and a
 * short text rendering for people. On failure it carries the one command that
 * replays the run.
 */
/** Why a run stopped before its duration. */
export type StopReason = "invariant" | "step-limit" | "livelock" | "error";

export interface TimelineEntry {
  /** Virtual milliseconds since the start of the run. */
  atMs: number;
  kind: string;
  what: string;
  /** The event named something that was not there (no such node or workload) and did nothing. */
  skipped?: boolean;
  /** Index of the scenario's timeline event this entry reports, for entries that report one. */
  event?: number;
}

export interface AssertionResult {
  assertion: string;
  ok: boolean;
  detail: string;
}

export interface FaultRecovery {
  atMs: number;
  fault: string;
  /** Until every workload had its desired Ready replicas again; null when it never did. */
  recoveredAfterMs: number | null;
}

export interface SimulationReport {
  scenario: string;
  seed: string;
  ok: boolean;
  durationMs: number;
  endedAtMs: number;
  stopped: { reason: StopReason; message: string } | null;
  assertions: AssertionResult[];
  faults: FaultRecovery[];
  invariants: { name: string; rule: string; violations: number }[];
  violations: Violation[];
  workloads: {
    workload: string;
    final: { ready: number; desired: number };
    /** `[atMs, ready, desired]` at every change. */
    series: SeriesPoint[];
    truncated?: boolean;
  }[];
  timeline: TimelineEntry[];
  stats: { steps: number; storeWrites: number; jobs: number; jobErrors: number; controlPlaneLogLines: number };
  /** The control plane's first log lines (failed jobs, failed periodic tasks), at their virtual times. */
  log: { atMs: number; message: string }[];
  /** SHA-256 over every store write and job, with ids and virtual times (absent when tracing was off). */
  traceSha256: string | null;
  reproduce: string;
}

export interface ReportInput {
  scenario: Scenario;
  seed: string;
  source: string;
  endedAtMs: number;
  stopped: { reason: StopReason; message: string } | undefined;
  violations: Violation[];
  invariants: readonly Invariant[];
  metrics: Metrics;
  timeline: TimelineEntry[];
  events: EventRecord[];
  world: World;
  steps: number;
}

/** Pod events worth a line in the timeline (others are routine), grouped per reason and instant. */
const NOTABLE_POD_REASONS = new Set([
  "NodeLost",
  "FailedScheduling",
  "TriggeredScaleUp",
  "BackOff",
  "Killing",
  "Unhealthy",
]);
const MAX_TIMELINE = 1_000;
const MAX_LOG_LINES = 50;

export function buildReport(input: ReportInput): SimulationReport {
  const { scenario, metrics, endedAtMs } = input;
  const series = [...metrics.series.values()];
  const faults = recoveries(input);
  const assertions = [
    ...scenario.assertions.minReady.map((a) => minReadyResult(a, series, metrics, endedAtMs)),
    ...(scenario.assertions.recoversWithinMs !== undefined
      ? [recoveryResult(scenario.assertions.recoversWithinMs, faults)]
      : []),
    ...Object.entries(scenario.assertions.final).map(([w, expected]) => finalResult(w, expected, input)),
  ];
  const ok = input.violations.length === 0 && input.stopped === undefined && assertions.every((a) => a.ok);
  return {
    scenario: scenario.name,
    seed: input.seed,
    ok,
    durationMs: scenario.durationMs,
    endedAtMs,
    stopped: input.stopped ?? null,
    assertions,
    faults,
    invariants: input.invariants.map((inv) => ({
      name: inv.name,
      rule: inv.rule,
      violations: input.violations.filter((v) => v.invariant === inv.name).length,
    })),
    violations: input.violations,
    workloads: series.map((s) => {
      const last = s.points.at(-1) ?? [0, 0, 0];
      return {
        workload: s.key,
        final: { ready: last[1], desired: last[2] },
        series: s.points,
        ...(s.truncated ? { truncated: true } : {}),
      };
    }),
    timeline: timelineOf(input, series),
    stats: {
      steps: input.steps,
      storeWrites: input.world.trace.storeWrites,
      jobs: input.world.trace.jobs,
      jobErrors: input.world.trace.jobErrors,
      controlPlaneLogLines: input.world.journal.count,
    },
    log: input.world.journal.lines.slice(0, MAX_LOG_LINES),
    traceSha256: input.world.trace.digest() ?? null,
    reproduce: reproduceCommand(input.source, input.seed),
  };
}

export function reproduceCommand(source: string, seed: string): string {
  const quote = (text: string) => (/^[\w./:@=+-]+$/.test(text) ? text : `'${text.replace(/'/g, "'\\''")}'`);
  return `kubernease simulate ${quote(source)} --seed ${quote(seed)}`;
}

function recoveries(input: ReportInput): FaultRecovery[] {
  const { scenario, timeline, metrics, endedAtMs } = input;
  const events = scenario.timeline;
  return events.flatMap((event, i) => {
    if (!FAULTS.has(event.action.type) || event.atMs > endedAtMs) return [];
    const entry = timeline.find((t) => t.event === event.index && !t.skipped);
    if (!entry) return [];
    const next = events.slice(i + 1).find((e) => e.atMs > event.atMs);
    const endOfRun = next === undefined || next.atMs >= endedAtMs;
    const windowEnd = endOfRun ? endedAtMs : next.atMs;
    const recoveredAfterMs = metrics.recoveryAfter(event.atMs, windowEnd, endOfRun);
    return [{ atMs: event.atMs, fault: entry.what, recoveredAfterMs }];
  });
}

function minReadyResult(
  a: { workload: string; atLeast: number; forFraction: number },
  series: WorkloadSeries[],
  metrics: Metrics,
  endMs: number,
): AssertionResult {
  const name = `minReady ${a.workload} ≥ ${a.atLeast} for ${percent(a.forFraction)} of the run`;
  const matching = series.filter((s) => matchesWorkload(a.workload, s));
  if (matching.length !== 1) {
    const why = matching.length === 0 ? "no such workload ran" : `ambiguous: ${matching.map((s) => s.key).join(", ")}`;
    return { assertion: name, ok: false, detail: why };
  }
  const found = metrics.minReadyShare(matching[0] as WorkloadSeries, a.atLeast, endMs);
  if (!found) return { assertion: name, ok: false, detail: `never had ${a.atLeast} Ready` };
  // Compared in parts per million, so that 99% of a run is judged without binary-fraction noise.
  const ok = Math.round(found.share * 1e6) >= Math.round(a.forFraction * 1e6);
  return {
    assertion: name,
    ok,
    detail: `${percent(found.share)} of the time since ${formatDurationMs(found.sinceMs)} (when it first had ${a.atLeast})`,
  };
}

function recoveryResult(withinMs: number, faults: FaultRecovery[]): AssertionResult {
  const name = `recovers within ${formatDurationMs(withinMs)} after each fault`;
  const late = faults.filter((f) => f.recoveredAfterMs === null || f.recoveredAfterMs > withinMs);
  const worst = faults.reduce((max, f) => Math.max(max, f.recoveredAfterMs ?? Number.POSITIVE_INFINITY), 0);
  if (faults.length === 0) return { assertion: name, ok: true, detail: "no fault happened" };
  if (late.length === 0) {
    return {
      assertion: name,
      ok: true,
      detail: `${faults.length} fault(s), slowest recovery ${formatDurationMs(worst)}`,
    };
  }
  const lines = late.map(
    (f) =>
      `${f.fault} at ${formatDurationMs(f.atMs)}: ${f.recoveredAfterMs === null ? "never recovered" : `took ${formatDurationMs(f.recoveredAfterMs)}`}`,
  );
  return { assertion: name, ok: false, detail: lines.join("; ") };
}

function finalResult(
  workload: string,
  expected: { ready?: number; image?: string },
  input: ReportInput,
): AssertionResult {
  const wants = [
    expected.ready !== undefined ? `${expected.ready} Ready` : "",
    expected.image ? `running ${expected.image}` : "",
  ].filter(Boolean);
  const name = `final ${workload}: ${wants.join(", ") || "exists"}`;
  const series = [...input.metrics.series.values()].filter((s) => matchesWorkload(workload, s));
  const last = series.length === 1 ? series[0]?.points.at(-1) : undefined;
  if (!last)
    return { assertion: name, ok: false, detail: series.length > 1 ? "ambiguous workload" : "no such workload ran" };
  const images = input.metrics.images.get(series[0]?.key ?? "") ?? [];
  const readyOk = expected.ready === undefined || last[1] === expected.ready;
  const imageOk = !expected.image || (images.length > 0 && images.every((i) => i === expected.image));
  return {
    assertion: name,
    ok: readyOk && imageOk,
    detail: `${last[1]}/${last[2]} Ready${images.length > 0 ? `, running ${images.join(", ")}` : ""}`,
  };
}

function timelineOf(input: ReportInput, series: WorkloadSeries[]): TimelineEntry[] {
  const entries: TimelineEntry[] = [...input.timeline];
  for (const s of series) {
    let degraded = false;
    for (const [atMs, ready, desired] of s.points) {
      if (ready < desired && !degraded)
        entries.push({ atMs, kind: "degraded", what: `${s.key} ${ready}/${desired} Ready` });
      if (ready >= desired && degraded)
        entries.push({ atMs, kind: "recovered", what: `${s.key} ${ready}/${desired} Ready` });
      degraded = ready < desired;
    }
  }
  entries.push(...notableEvents(input.events));
  for (const v of input.violations.slice(0, 10)) {
    entries.push({ atMs: v.atMs, kind: "violation", what: `${v.invariant}: ${v.message}` });
  }
  if (input.stopped)
    entries.push({
      atMs: input.endedAtMs,
      kind: "stopped",
      what: `${input.stopped.reason}: ${input.stopped.message.split("\n")[0]}`,
    });
  // Stable sort: at one instant, the order things were recorded in is kept.
  const sorted = entries.map((e, i) => ({ e, i })).sort((a, b) => a.e.atMs - b.e.atMs || a.i - b.i);
  return sorted.slice(0, MAX_TIMELINE).map(({ e }) => e);
}

/** Events of workloads as they are; pod events of notable reasons, one line per reason and instant. */
function notableEvents(events: EventRecord[]): TimelineEntry[] {
  const entries: TimelineEntry[] = [];
  const grouped = new Map<string, { atMs: number; reason: string; message: string; pods: number }>();
  for (const e of events) {
    const atMs = e.firstSeenAt - SIMULATION_EPOCH_MS;
    if (e.involvedKind !== "Pod") {
      entries.push({ atMs, kind: "event", what: `${e.involvedKind}/${e.involvedName} ${e.reason}: ${e.message}` });
      continue;
    }
    if (!NOTABLE_POD_REASONS.has(e.reason)) continue;
    const key = `${atMs}/${e.reason}`;
    const group = grouped.get(key);
    if (group) group.pods++;
    else grouped.set(key, { atMs, reason: e.reason, message: e.message, pods: 1 });
  }
  for (const g of grouped.values()) {
    entries.push({
      atMs: g.atMs,
      kind: "event",
      what: `${g.reason} (${g.pods} pod${g.pods === 1 ? "" : "s"}): ${g.message}`,
    });
  }
  return entries;
}

function percent(share: number): string {
  return `${Number((share * 100).toFixed(3))}%`;
}

/** A short text rendering for people. */
export function renderText(report: SimulationReport): string {
  const lines: string[] = [];
  const mark = (ok: boolean) => (ok ? "✓" : "✗");
  lines.push(
    `${report.scenario}, seed ${report.seed}: ${report.ok ? "PASS" : "FAIL"} (${formatDurationMs(report.endedAtMs)} of ${formatDurationMs(report.durationMs)} virtual, ${report.stats.steps} steps, ${report.stats.jobs} jobs, ${report.stats.storeWrites} store writes)`,
  );
  if (report.stopped) lines.push(`  stopped early: ${report.stopped.reason}: ${report.stopped.message.split("\n")[0]}`);
  if (report.assertions.length > 0) lines.push("assertions:");
  for (const a of report.assertions) lines.push(`  ${mark(a.ok)} ${a.assertion}: ${a.detail}`);
  if (report.faults.length > 0) lines.push("faults:");
  for (const f of report.faults) {
    const took =
      f.recoveredAfterMs === null ? "never recovered" : `recovered in ${formatDurationMs(f.recoveredAfterMs)}`;
    lines.push(`  ${formatDurationMs(f.atMs).padEnd(8)} ${f.fault} → ${took}`);
  }
  const violated = report.invariants.filter((i) => i.violations > 0);
  lines.push(
    `invariants: ${report.invariants.length} checked after every event, ${report.violations.length} violation(s)`,
  );
  for (const i of report.invariants) if (i.violations > 0) lines.push(`  ✗ ${i.name}: ${i.rule}`);
  for (const v of report.violations.slice(0, 5)) lines.push(`    at ${formatDurationMs(v.atMs)}: ${v.message}`);
  if (violated.length === 0 && report.violations.length > 0) lines.push("  (violations of unlisted invariants)");
  lines.push("workloads (Ready/desired at the end):");
  for (const w of report.workloads) lines.push(`  ${w.workload} ${w.final.ready}/${w.final.desired}`);
  lines.push("timeline:");
  const shown = report.timeline.filter(
    (t) => t.kind !== "event" || /NodeLost|RolledBack|Deadline|BackOff/.test(t.what),
  );
  for (const t of shown.slice(0, 40)) {
    lines.push(
      `  ${formatDurationMs(t.atMs).padEnd(8)} ${t.kind.padEnd(10)} ${t.what}${t.skipped ? " (skipped)" : ""}`,
    );
  }
  if (shown.length > 40) lines.push(`  … ${shown.length - 40} more in --json`);
  if (report.traceSha256) lines.push(`trace: sha256 ${report.traceSha256}`);
  lines.push(report.ok ? `replay: ${report.reproduce}` : `reproduce: ${report.reproduce}`);
  return lines.join("\n");
}
