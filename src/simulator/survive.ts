import { stringify as stringifyYaml } from "yaml";
import { formatDurationMs } from "./duration.js";
import type { SimulationReport } from "./report.js";
import { type PoolShape, TENANT_SCENARIO_LIMITS } from "./tenant.js";

/**
 * "Does it survive?", asked by a dry run (`POST /v1/apply?dryRun=true&survives=true`): the file's
 * manifests are simulated on the operator's node pool shape, once losing one node and once per zone
 * losing that zone, each a minute in and watched for two more. The verdict per fault says what went
 * down and for how long; a workload that never came back whole also says how much more room the
 * cluster would need for it (the N+1 what-if). Pure: scenarios out, reports in.
 */
export const SURVIVE_FAULT_AT_MS = 60_000;
const SURVIVE_DURATION = "3m";
const SURVIVE_SEED = "survives";

export interface SurviveCase {
  fault: string;
  /** The scenario, as YAML for the bounded runner. */
  text: string;
}

export interface SurviveVerdict {
  fault: string;
  ok: boolean;
  /**
   * `ok`; `ok (web 3 of 4 Ready for 6s)`; or what went down: `web down 100% for 40s`,
   * `web down 33%, not back: needs 1 CPU / 512 MiB more room`.
   */
  detail: string;
  workloads: { workload: string; worstReady: number; desired: number; downForMs: number | null }[];
}

/** Per workload, what one replica asks for (from the applied file), for the headroom what-if. */
export type ReplicaRequests = Record<string, { cpuMillis: number; memoryBytes: number }>;

/** The scenarios of one dry run: one node lost, then each zone lost, on the given pools. */
export function surviveCases(manifests: string, pools: PoolShape[]): SurviveCase[] {
  const zones = [
    ...new Set(
      pools.flatMap((p) => {
        const list = Array.isArray(p.zones) ? (p.zones as string[]) : typeof p.zone === "string" ? [p.zone] : [];
        return list.length > 0 ? list : ["zone-a", "zone-b", "zone-c"];
      }),
    ),
  ].sort();
  const scenario = (event: Record<string, unknown>) =>
    stringifyYaml({
      name: "survives",
      seed: SURVIVE_SEED,
      cluster: { pools },
      manifests: [{ inline: manifests }],
      timeline: [{ at: `${SURVIVE_FAULT_AT_MS / 1000}s`, ...event }],
      duration: SURVIVE_DURATION,
      limits: { maxSteps: TENANT_SCENARIO_LIMITS.maxSteps },
    });
  return [
    { fault: "loses one node", text: scenario({ crashNode: "random" }) },
    ...(zones.length > 1
      ? zones.map((zone) => ({ fault: `loses zone ${zone}`, text: scenario({ crashZone: zone }) }))
      : []),
  ];
}

/** The verdict of one case, from its report. */
export function surviveVerdict(fault: string, report: SimulationReport, requests: ReplicaRequests): SurviveVerdict {
  const workloads = report.workloads.map((w) => {
    const after = pointsFrom(w.series, SURVIVE_FAULT_AT_MS);
    const desired = after.at(-1)?.[2] ?? w.final.desired;
    const worstReady = Math.min(...after.map((p) => p[1]));
    return { workload: w.workload, worstReady, desired, downForMs: downFor(after, report.endedAtMs) };
  });
  if (report.stopped)
    return { fault, ok: false, detail: `the simulation stopped: ${report.stopped.message}`, workloads };
  const dipped = workloads.filter((w) => w.worstReady < w.desired);
  // Survived: every workload kept a Ready replica throughout and came back whole.
  const ok = dipped.every((w) => w.worstReady > 0 && w.downForMs !== null);
  if (dipped.length === 0) return { fault, ok, detail: "ok", workloads };
  const parts = dipped.map((w) => {
    const name = w.workload.replace(/^[A-Za-z]+\//, "");
    if (ok) return `${name} ${w.worstReady} of ${w.desired} Ready for ${formatDurationMs(w.downForMs ?? 0)}`;
    const down = Math.round((100 * (w.desired - w.worstReady)) / Math.max(1, w.desired));
    if (w.downForMs !== null) return `${name} down ${down}% for ${formatDurationMs(w.downForMs)}`;
    const final = report.workloads.find((x) => x.workload === w.workload)?.final;
    const missing = final ? final.desired - final.ready : 0;
    const each = requests[w.workload];
    const room =
      each && missing > 0 && (each.cpuMillis > 0 || each.memoryBytes > 0)
        ? `: needs ${cpu(missing * each.cpuMillis)} / ${memory(missing * each.memoryBytes)} more room`
        : "";
    return `${name} down ${down}%, not back${room}`;
  });
  return { fault, ok, detail: ok ? `ok (${parts.join("; ")})` : parts.join("; "), workloads };
}

/** The points from `fromMs` on, starting with the value that held at `fromMs`. */
function pointsFrom(series: [number, number, number][], fromMs: number): [number, number, number][] {
  const before = series.filter((p) => p[0] <= fromMs).at(-1);
  const after = series.filter((p) => p[0] > fromMs);
  return before ? [[fromMs, before[1], before[2]], ...after] : after.length > 0 ? after : [[fromMs, 0, 0]];
}

/** How long the workload was below its desired Ready count after the fault; null when it never came back. */
function downFor(points: [number, number, number][], endMs: number): number | null {
  const last = points.at(-1);
  if (!last || last[1] < last[2]) return null;
  let firstDown: number | undefined;
  let backAt: number | undefined;
  for (const [atMs, ready, desired] of points) {
    if (ready < desired && firstDown === undefined) firstDown = atMs;
    if (ready >= desired && firstDown !== undefined) backAt = atMs;
  }
  return firstDown === undefined ? 0 : (backAt ?? endMs) - firstDown;
}

function cpu(millis: number): string {
  return millis % 1000 === 0 ? `${millis / 1000} CPU` : `${millis}m CPU`;
}

function memory(bytes: number): string {
  const gib = bytes / 2 ** 30;
  return gib >= 1 ? `${Number(gib.toFixed(1))} GiB` : `${Math.ceil(bytes / 2 ** 20)} MiB`;
}
