import type { WorkloadState } from "./workloads.js";

/** One change in a workload's Ready replicas: `[atMs, ready, desired]`. */
export type SeriesPoint = [atMs: number, ready: number, desired: number];

export interface WorkloadSeries {
  key: string;
  kind: string;
  namespace: string;
  name: string;
  /** Change points only: each value holds until the next point (the state cannot change between events). */
  points: SeriesPoint[];
  /** More changes happened than the report keeps; the last point is still the final value. */
  truncated: boolean;
}

/** When every workload had its desired Ready replicas (`true`) or not, as change points. */
export type HealthPoint = [atMs: number, healthy: boolean];

const MAX_POINTS = 5_000;

/**
 * Ready replicas per workload over virtual time, and the cluster's health
 * (every workload at its desired Ready count), kept as change points. The
 * state of the run only changes at events and the loop samples after every
 * one, so these are exact, not samples of a continuous signal.
 */
export class Metrics {
  readonly series = new Map<string, WorkloadSeries>();
  readonly health: HealthPoint[] = [];
  /** The images the Ready pods of each workload ran at the last look. */
  images = new Map<string, string[]>();

  observe(states: WorkloadState[], atMs: number): void {
    this.images = new Map(states.map((w) => [w.key, w.images]));
    for (const w of states) {
      let series = this.series.get(w.key);
      if (!series) {
        series = { key: w.key, kind: w.kind, namespace: w.namespace, name: w.name, points: [], truncated: false };
        this.series.set(w.key, series);
      }
      const last = series.points.at(-1);
      if (last && last[1] === w.ready && last[2] === w.desired) continue;
      const point: SeriesPoint = [atMs, w.ready, w.desired];
      if (last && last[0] === atMs) series.points[series.points.length - 1] = point;
      else if (series.points.length < MAX_POINTS) series.points.push(point);
      else {
        series.truncated = true;
        series.points[series.points.length - 1] = point;
      }
    }
    const healthy = states.every((w) => w.ready >= w.desired);
    const last = this.health.at(-1);
    if (last && last[1] === healthy) return;
    if (last && last[0] === atMs) this.health[this.health.length - 1] = [atMs, healthy];
    else this.health.push([atMs, healthy]);
  }

  /**
   * How long after `fromMs` the cluster was whole again: the last return to
   * health before `windowEndMs` (the next timeline event, whose own effects are
   * not this fault's; or the end of the run), or, if still degraded then, the
   * first return after it. 0 when it never degraded; null when it never recovered.
   */
  recoveryAfter(fromMs: number, windowEndMs: number, endOfRun: boolean): number | null {
    const inWindow = this.health.filter(([t]) => t >= fromMs && (endOfRun ? t <= windowEndMs : t < windowEndMs));
    const before = this.health.filter(([t]) => t < fromMs).at(-1);
    const healthyAtStart = inWindow[0]?.[0] === fromMs ? inWindow[0][1] : (before?.[1] ?? true);
    if (healthyAtStart && inWindow.every(([, healthy]) => healthy)) return 0;
    const last = inWindow.at(-1);
    if (last?.[1]) return last[0] - fromMs;
    const later = this.health.find(([t, healthy]) => t >= windowEndMs && healthy);
    return later ? later[0] - fromMs : null;
  }

  /**
   * The share of time, from the first moment it had `atLeast` Ready until
   * `endMs`, that the workload kept at least that many; undefined when it never had them.
   */
  minReadyShare(
    series: WorkloadSeries,
    atLeast: number,
    endMs: number,
  ): { share: number; sinceMs: number } | undefined {
    const first = series.points.find(([, ready]) => ready >= atLeast);
    if (!first) return undefined;
    const sinceMs = first[0];
    if (endMs <= sinceMs) return { share: 1, sinceMs };
    let goodMs = 0;
    const points = series.points.filter(([t]) => t >= sinceMs);
    for (const [i, [t, ready]] of points.entries()) {
      const until = points[i + 1]?.[0] ?? endMs;
      if (ready >= atLeast) goodMs += Math.min(until, endMs) - t;
    }
    return { share: goodMs / (endMs - sinceMs), sinceMs };
  }
}
