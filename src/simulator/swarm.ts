import { seededRng } from "../core/rng.js";
import { formatDurationMs } from "./duration.js";
import type { Scenario, TimelineEvent } from "./scenario.js";

/**
 * Swarm mode: a scenario with a `swarm:` section gets, for every seed, a random schedule of node
 * faults (crashes, partitions, zone outages, drains) within the declared bounds, on top of its own
 * timeline. The schedule is drawn from a generator of its own (`swarm:<seed>`), apart from the
 * run's, so `--seed N` replays it exactly and dropping a fault from it (`--faults 1,3`) changes
 * nothing else — which is what lets a failing schedule be shrunk to the faults that matter.
 */

/** A seed's fault schedule, in time order; fault n (from 1) is the n-th element. */
export function swarmFaults(scenario: Scenario, seed: string): TimelineEvent[] {
  const spec = scenario.swarm;
  if (!spec) return [];
  const rng = seededRng(`swarm:${seed}`);
  const nodes = scenario.pools.flatMap((p) =>
    Array.from({ length: p.count }, (_, i) => ({ pool: p.name, index: i + 1 })),
  );
  const zones = [...new Set(scenario.pools.filter((p) => p.count > 0).flatMap((p) => p.zones))].sort();
  const count = 1 + rng.int(spec.faults);
  const drawn: Omit<TimelineEvent, "index">[] = [];
  for (let i = 0; i < count; i++) {
    const kind = spec.kinds[rng.int(spec.kinds.length)];
    const atMs = spec.fromMs + rng.int(spec.toMs - spec.fromMs + 1);
    if (kind === "crashZone") {
      if (zones.length > 0)
        drawn.push({ atMs, action: { type: "crashZone", zone: zones[rng.int(zones.length)] as string } });
      continue;
    }
    if (nodes.length === 0) continue;
    const node = nodes[rng.int(nodes.length)] as { pool: string; index: number };
    if (kind === "crashNode" || kind === "drainNode") {
      drawn.push({ atMs, action: { type: kind, node } });
    } else {
      const { min, max } = spec.partitionForMs;
      drawn.push({ atMs, action: { type: "partitionNode", node, forMs: min + rng.int(max - min + 1) } });
    }
  }
  drawn.sort((a, b) => a.atMs - b.atMs);
  const first = scenario.timeline.reduce((n, e) => Math.max(n, e.index + 1), 0);
  return drawn.map((event, i) => ({ ...event, index: first + i }));
}

/** The scenario with these faults (all, or only the numbered ones) merged into its timeline. */
export function withFaults(scenario: Scenario, faults: TimelineEvent[], keep?: readonly number[]): Scenario {
  const kept = keep ? faults.filter((_, i) => keep.includes(i + 1)) : faults;
  const timeline = [...scenario.timeline, ...kept].sort((a, b) => a.atMs - b.atMs || a.index - b.index);
  return { ...scenario, timeline };
}

/** `2m13s crashNode general#3`, for listings. */
export function describeFault(event: TimelineEvent): string {
  const { action } = event;
  const at = formatDurationMs(event.atMs);
  switch (action.type) {
    case "crashZone":
      return `${at} crashZone ${action.zone}`;
    case "crashNode":
    case "drainNode":
    case "partitionNode": {
      const node =
        typeof action.node === "object" && "pool" in action.node
          ? `${action.node.pool}#${action.node.index}`
          : JSON.stringify(action.node);
      const forMs =
        action.type === "partitionNode" && action.forMs !== undefined ? ` for ${formatDurationMs(action.forMs)}` : "";
      return `${at} ${action.type} ${node}${forMs}`;
    }
    default:
      return `${at} ${action.type}`;
  }
}

/**
 * Shrinks a failing set of fault numbers: drops one fault at a time and keeps the drop while the
 * run still fails, so what is left is a set where every fault is needed (1-minimal). At most one
 * run per fault, plus one without any fault when a single one is left. `fails` runs the scenario
 * with only the given faults.
 */
export async function shrinkFaults(
  numbers: readonly number[],
  fails: (keep: number[]) => Promise<boolean>,
): Promise<number[]> {
  let current = [...numbers];
  for (const n of numbers) {
    if (current.length <= 1) break;
    const candidate = current.filter((m) => m !== n);
    if (await fails(candidate)) current = candidate;
  }
  if (current.length === 1 && (await fails([]))) current = [];
  return current;
}

/** `--faults 1,3`: fault numbers, from 1, each at most `count`. */
export function parseFaultNumbers(text: string, count: number): number[] {
  const parts = text.split(",").map((p) => p.trim());
  if (text.trim() === "") return [];
  const numbers = parts.map(Number);
  const bad = parts.find((p, i) => !/^\d+$/.test(p) || (numbers[i] as number) < 1 || (numbers[i] as number) > count);
  if (bad !== undefined) {
    throw new Error(`--faults ${text}: "${bad}" is not a fault number of this seed's schedule (1..${count})`);
  }
  return [...new Set(numbers)].sort((a, b) => a - b);
}
