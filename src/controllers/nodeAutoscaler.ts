/**
 * The node autoscaler's rules, pure, in the manner of Kubernetes' cluster-autoscaler.
 *
 * Scale-up: pods the scheduler could not place are placed again in simulation, with the production
 * scheduler (passed in), first on the nodes there are, then on hypothetical fresh nodes of the
 * scaling pools, packed first-fit: a pod that fits no existing node opens a node of the smallest
 * pool whose shape takes it (resources, node selector and affinity against the pool's labels,
 * anti-affinity and spread against the pods already placed), bounded by each pool's max, by the
 * total `maxNodes`, and by one scale-up per cool-down. A pod no pool's shape takes waits: "why
 * pending" already tells its tenant what shape it needs.
 *
 * Scale-down: a ready, uncordoned node of a scaling pool whose pods request less than
 * `scaleDownUtilization` of its CPU and of its memory, and whose pods all have an owner and could all
 * be placed on the other ready, uncordoned nodes, is unneeded; unneeded for `scaleDownUnneededMs`,
 * it is drained (cordoned, its pods evicted within their disruption budgets) and, once its pods are
 * gone, removed. One node at a time, never below its pool's min, and never while pods wait for room
 * or a scale-up is fresh (a pod no pool's shape could take does not hold idle nodes forever). A
 * drain is given up when pods need the room back or its pods do not leave within `drainTimeoutMs`.
 * Only nodes the autoscaler itself cordoned are ever drained further, uncordoned or removed by it:
 * an operator's cordon is left alone.
 */
import type { ScheduleOptions } from "../scheduler/index.js";
import type { NodeView, PlacedPod, PodDemand, ScheduleResult } from "../scheduler/types.js";

/** The production scheduler's signature (`schedule` in src/scheduler), passed in by the caller. */
export type Scheduler = (pod: PodDemand, nodes: readonly NodeView[], options: ScheduleOptions) => ScheduleResult;

export interface PendingPod {
  tenantId: string;
  /** Requests and constraints, as the schedule job builds them (with a node the pod is pinned to, if any). */
  demand: PodDemand;
}

export interface BoundPod extends PendingPod {
  /** It has an owner that recreates it elsewhere; a bare pod keeps its node from being removed. */
  replaceable: boolean;
}

export interface AutoscaledNode extends NodeView {
  /** Its scaling pool; absent for a node the autoscaler does not manage (it still counts toward `maxNodes`). */
  pool?: string;
  /** The live, non-daemon pods bound to it. */
  pods: BoundPod[];
  /** What its daemon pods request together: a new node of its pool would run them too. */
  daemons: { cpuMillis: number; memoryBytes: number; pods: number };
  /** Non-daemon pods on their way out: the node is not empty until they are gone. */
  terminatingPods: number;
  /** Local volumes that live on it: their data would go with the node, so it stays (absent: none). */
  localVolumes?: number;
}

/** A pool that scales, with the shape and labels (no hostname) of the node it would add next. */
export interface ScalingPool {
  name: string;
  cpuMillis: number;
  memoryBytes: number;
  maxPods: number;
  labels: Record<string, string>;
  min: number;
  max: number;
}

export interface AutoscalerSettings {
  /** Nodes in all, of every pool, never exceeded by a scale-up. */
  maxNodes: number;
  /** After a scale-up, the next waits this long, and no node is drained meanwhile. */
  scaleUpCooldownMs: number;
  /** How long a node must be unneeded before it is drained. */
  scaleDownUnneededMs: number;
  /** A node requesting less than this share of its CPU and of its memory may be unneeded. */
  scaleDownUtilization: number;
  /** A drain that has not emptied the node by then (a disruption budget holds) is given up: the node is uncordoned. */
  drainTimeoutMs: number;
}

export const DEFAULT_AUTOSCALER_SETTINGS: Omit<AutoscalerSettings, "maxNodes"> = {
  scaleUpCooldownMs: 10_000,
  scaleDownUnneededMs: 120_000,
  scaleDownUtilization: 0.5,
  drainTimeoutMs: 600_000,
};

/** What the autoscaler remembers from one look to the next (plain data). */
export interface AutoscalerMemory {
  lastScaleUpMs?: number;
  /** Per node: since when it has been unneeded. */
  unneededSinceMs: Record<string, number>;
  /** The nodes the autoscaler cordoned to remove them, with when it began. */
  drainingSinceMs: Record<string, number>;
}

export const EMPTY_AUTOSCALER_MEMORY: AutoscalerMemory = { unneededSinceMs: {}, drainingSinceMs: {} };

export interface AutoscalerInput {
  nodes: AutoscaledNode[];
  /** Pods the scheduler found no place for (PodScheduled False, Unschedulable). */
  pending: PendingPod[];
  pools: ScalingPool[];
  nowMs: number;
  memory: AutoscalerMemory;
  settings: AutoscalerSettings;
}

export interface AutoscalerPlan {
  add: { pool: string; count: number }[];
  /** The pending pods the added nodes are for. */
  scaleUpFor: string[];
  /** Nodes to cordon and evict (again: a disruption budget may have held some pods back). */
  drain: string[];
  /** Drained nodes now empty, to remove. */
  remove: string[];
  /** Nodes the autoscaler had cordoned and gives back: pods need the room, or the drain took too long. */
  uncordon: string[];
  memory: AutoscalerMemory;
  /** What it decided and why, for the operator's log. */
  reasons: string[];
}

/** Pending pods looked at per look, at most; the rest wait for the next look. */
export const MAX_PENDING_PER_LOOK = 500;

/** Decides one look's scale-up and scale-down. */
export function planAutoscaling(input: AutoscalerInput, scheduler: Scheduler): AutoscalerPlan {
  const reasons: string[] = [];
  const drains = followDrains(input, reasons);
  const up = simulatePending(input, scheduler);
  const needsRoom = up.opened.size > 0 || up.noRoom.length > 0;
  const coolingDown =
    input.memory.lastScaleUpMs !== undefined &&
    input.nowMs - input.memory.lastScaleUpMs < input.settings.scaleUpCooldownMs;
  const plan: AutoscalerPlan = {
    add: [],
    scaleUpFor: [],
    drain: drains.drain,
    remove: drains.remove,
    uncordon: drains.uncordon,
    memory: { ...input.memory, unneededSinceMs: {}, drainingSinceMs: drains.keep },
    reasons,
  };
  if (up.noRoom.length > 0) {
    reasons.push(`${up.noRoom.length} pending pod(s) would fit a new node, but the pools or maxNodes are at their max`);
  }
  if (up.hopeless.length > 0) reasons.push(`${up.hopeless.length} pending pod(s) fit no pool's node shape`);
  const draining = Object.keys(drains.keep);
  if (needsRoom && draining.length > 0) {
    // Capacity the autoscaler itself took away comes back before any is bought.
    giveBack(plan, draining, "pods need room");
  } else if (up.opened.size > 0 && coolingDown) {
    reasons.push("scale-up waits out its cool-down");
  } else if (up.opened.size > 0) {
    plan.add = [...up.opened].map(([pool, count]) => ({ pool, count }));
    plan.scaleUpFor = up.placedOnNew;
    plan.memory.lastScaleUpMs = input.nowMs;
    const what = plan.add.map((a) => `${a.count} × ${a.pool}`).join(", ");
    reasons.push(`scale-up: ${what} for ${up.placedOnNew.length} pending pod(s)`);
  }
  const scaleUpFresh = plan.add.length > 0 || coolingDown;
  if (needsRoom || up.onExisting > 0 || scaleUpFresh) return plan;
  planScaleDown(input, plan, scheduler);
  return plan;
}

/** Where each drain the autoscaler started stands now. */
function followDrains(input: AutoscalerInput, reasons: string[]) {
  const out = { drain: [] as string[], remove: [] as string[], uncordon: [] as string[] };
  const keep: Record<string, number> = {};
  for (const [name, sinceMs] of Object.entries(input.memory.drainingSinceMs).sort(byKey)) {
    const node = input.nodes.find((n) => n.name === name);
    if (!node) {
      reasons.push(`scale-down: ${name} is gone`);
      continue;
    }
    if (!node.unschedulable) {
      reasons.push(`scale-down of ${name} cancelled: it was uncordoned`);
      continue;
    }
    keep[name] = sinceMs;
    if (node.pods.length === 0 && node.terminatingPods === 0) {
      out.remove.push(name);
    } else if (input.nowMs - sinceMs >= input.settings.drainTimeoutMs) {
      delete keep[name];
      out.uncordon.push(name);
      reasons.push(`scale-down of ${name} given up: its pods did not leave in time`);
    } else {
      out.drain.push(name);
    }
  }
  return { ...out, keep };
}

function giveBack(plan: AutoscalerPlan, names: string[], why: string): void {
  for (const name of names) {
    delete plan.memory.drainingSinceMs[name];
    plan.uncordon.push(name);
    plan.reasons.push(`scale-down of ${name} cancelled: ${why}`);
  }
  plan.drain = plan.drain.filter((n) => !names.includes(n));
  plan.remove = plan.remove.filter((n) => !names.includes(n));
}

/**
 * The nodes as the scheduler sees them, and the tenants' placed pods, changed as pods are placed in
 * simulation: a what-if copy of the cluster.
 */
class Simulation {
  readonly nodes: NodeView[];
  private readonly placed = new Map<string, PlacedPod[]>();

  constructor(
    nodes: readonly AutoscaledNode[],
    private readonly scheduler: Scheduler,
  ) {
    this.nodes = nodes.map(viewOf);
    for (const node of nodes) for (const pod of node.pods) this.record(pod, node.name);
  }

  /** Where the scheduler would put the pod, among these nodes and `extra`; undefined when nowhere. */
  where(pod: PendingPod, extra?: NodeView): string | undefined {
    const nodes = extra ? [...this.nodes, extra] : this.nodes;
    const result = this.scheduler(pod.demand, nodes, {
      placed: this.placed.get(pod.tenantId) ?? [],
      policy: "binpack",
    });
    return result.ok ? result.nodeName : undefined;
  }

  commit(pod: PendingPod, nodeName: string): void {
    const node = this.nodes.find((n) => n.name === nodeName);
    if (!node) return;
    node.allocatedCpuMillis += pod.demand.cpuMillis;
    node.allocatedMemoryBytes += pod.demand.memoryBytes;
    node.allocatedPods += 1;
    this.record(pod, nodeName);
  }

  private record(pod: PendingPod, nodeName: string): void {
    const list = this.placed.get(pod.tenantId) ?? [];
    list.push({ namespace: pod.demand.namespace, labels: pod.demand.labels, nodeName, affinity: pod.demand.affinity });
    this.placed.set(pod.tenantId, list);
  }
}

function viewOf(node: AutoscaledNode): NodeView {
  return {
    name: node.name,
    labels: node.labels,
    cpuMillis: node.cpuMillis,
    memoryBytes: node.memoryBytes,
    maxPods: node.maxPods,
    allocatedCpuMillis: node.allocatedCpuMillis,
    allocatedMemoryBytes: node.allocatedMemoryBytes,
    allocatedPods: node.allocatedPods,
    ready: node.ready,
    unschedulable: node.unschedulable,
  };
}

interface ScaleUpOutcome {
  /** New nodes per pool. */
  opened: Map<string, number>;
  placedOnNew: string[];
  /** Pending pods that fit an existing node now (the scheduler will get to them). */
  onExisting: number;
  /** Pods a new node would take, were the pools not at their max. */
  noRoom: string[];
  /** Pods no pool's shape takes. */
  hopeless: string[];
}

/** Places the pending pods in simulation, biggest first, opening fresh nodes as needed and allowed. */
function simulatePending(input: AutoscalerInput, scheduler: Scheduler): ScaleUpOutcome {
  const outcome: ScaleUpOutcome = { opened: new Map(), placedOnNew: [], onExisting: 0, noRoom: [], hopeless: [] };
  if (input.pending.length === 0) return outcome;
  const sim = new Simulation(input.nodes, scheduler);
  const pools = [...input.pools].sort(smallestFirst);
  const existing = new Set(input.nodes.map((n) => n.name));
  const inPool = (pool: string) => input.nodes.filter((n) => n.pool === pool).length + (outcome.opened.get(pool) ?? 0);
  let total = input.nodes.length;
  let serial = 0;
  for (const pod of input.pending.slice(0, MAX_PENDING_PER_LOOK).sort(biggestFirst)) {
    const there = sim.where(pod);
    if (there !== undefined) {
      sim.commit(pod, there);
      if (existing.has(there)) outcome.onExisting++;
      else outcome.placedOnNew.push(pod.demand.id);
      continue;
    }
    let fitsShape = false;
    let opened = false;
    for (const pool of pools) {
      const fresh = freshNode(pool, ++serial, daemonOverhead(input.nodes, pool.name));
      if (sim.where(pod, fresh) !== fresh.name) continue;
      fitsShape = true;
      if (inPool(pool.name) >= pool.max || total >= input.settings.maxNodes) continue;
      sim.nodes.push(fresh);
      sim.commit(pod, fresh.name);
      outcome.opened.set(pool.name, (outcome.opened.get(pool.name) ?? 0) + 1);
      outcome.placedOnNew.push(pod.demand.id);
      total++;
      opened = true;
      break;
    }
    if (!opened) (fitsShape ? outcome.noRoom : outcome.hopeless).push(pod.demand.id);
  }
  return outcome;
}

const HOSTNAME = "kubernetes.io/hostname";

/** A node the pool would add, already running the daemons its nodes run. Its name is no real node's. */
function freshNode(pool: ScalingPool, serial: number, daemons: AutoscaledNode["daemons"]): NodeView {
  const name = `(new ${pool.name} node ${serial})`;
  return {
    name,
    labels: { ...pool.labels, [HOSTNAME]: name },
    cpuMillis: pool.cpuMillis,
    memoryBytes: pool.memoryBytes,
    maxPods: pool.maxPods,
    allocatedCpuMillis: daemons.cpuMillis,
    allocatedMemoryBytes: daemons.memoryBytes,
    allocatedPods: daemons.pods,
    ready: true,
    unschedulable: false,
  };
}

/** The most any node of the pool spends on daemons: what a new one would spend too. */
function daemonOverhead(nodes: readonly AutoscaledNode[], pool: string): AutoscaledNode["daemons"] {
  const overhead = { cpuMillis: 0, memoryBytes: 0, pods: 0 };
  for (const node of nodes) {
    if (node.pool !== pool) continue;
    overhead.cpuMillis = Math.max(overhead.cpuMillis, node.daemons.cpuMillis);
    overhead.memoryBytes = Math.max(overhead.memoryBytes, node.daemons.memoryBytes);
    overhead.pods = Math.max(overhead.pods, node.daemons.pods);
  }
  return overhead;
}

/** Finds the unneeded nodes, keeps their timers, and drains one that has been unneeded long enough. */
function planScaleDown(input: AutoscalerInput, plan: AutoscalerPlan, scheduler: Scheduler): void {
  const { nowMs, settings } = input;
  const pools = new Map(input.pools.map((p) => [p.name, p]));
  const unneeded = input.nodes.filter(
    (n) => n.pool !== undefined && pools.has(n.pool) && isUnneeded(input, n, scheduler),
  );
  for (const node of unneeded) {
    plan.memory.unneededSinceMs[node.name] = input.memory.unneededSinceMs[node.name] ?? nowMs;
  }
  if (Object.keys(plan.memory.drainingSinceMs).length > 0) return;
  const due = unneeded.filter((node) => {
    const since = plan.memory.unneededSinceMs[node.name] ?? nowMs;
    const pool = pools.get(node.pool as string) as ScalingPool;
    const inPool = input.nodes.filter((n) => n.pool === pool.name).length;
    return nowMs - since >= settings.scaleDownUnneededMs && inPool - 1 >= pool.min;
  });
  const pick = due.sort(
    (a, b) => a.pods.length - b.pods.length || utilisation(a) - utilisation(b) || byName(a.name, b.name),
  )[0];
  if (!pick) return;
  delete plan.memory.unneededSinceMs[pick.name];
  plan.memory.drainingSinceMs[pick.name] = nowMs;
  plan.drain.push(pick.name);
  const since = nowMs - (input.memory.unneededSinceMs[pick.name] ?? nowMs);
  plan.reasons.push(`scale-down: draining ${pick.name}, unneeded for ${since} ms (${pick.pods.length} pod(s) to move)`);
}

function isUnneeded(input: AutoscalerInput, node: AutoscaledNode, scheduler: Scheduler): boolean {
  if (!node.ready || node.unschedulable || (node.localVolumes ?? 0) > 0) return false;
  if (utilisation(node) >= input.settings.scaleDownUtilization) return false;
  if (node.pods.some((p) => !p.replaceable)) return false;
  return podsFitElsewhere(input.nodes, node, scheduler);
}

/** The larger of the node's requested CPU and memory shares (daemons included), 0–1. */
function utilisation(node: AutoscaledNode): number {
  let cpu = node.daemons.cpuMillis;
  let memory = node.daemons.memoryBytes;
  for (const pod of node.pods) {
    cpu += pod.demand.cpuMillis;
    memory += pod.demand.memoryBytes;
  }
  return Math.max(cpu / Math.max(1, node.cpuMillis), memory / Math.max(1, node.memoryBytes));
}

/**
 * Whether the scheduler would place every pod of the node on the other nodes (its filters leave out
 * those not ready or cordoned), packing as it goes: the cluster as it would be without the node.
 */
function podsFitElsewhere(nodes: readonly AutoscaledNode[], node: AutoscaledNode, scheduler: Scheduler): boolean {
  if (node.pods.length === 0) return true;
  const sim = new Simulation(
    nodes.filter((n) => n.name !== node.name),
    scheduler,
  );
  for (const pod of [...node.pods].sort(biggestFirst)) {
    const there = sim.where(pod);
    if (there === undefined) return false;
    sim.commit(pod, there);
  }
  return true;
}

function biggestFirst(a: PendingPod, b: PendingPod): number {
  return (
    b.demand.cpuMillis - a.demand.cpuMillis ||
    b.demand.memoryBytes - a.demand.memoryBytes ||
    byName(a.demand.id, b.demand.id)
  );
}

function smallestFirst(a: ScalingPool, b: ScalingPool): number {
  return a.cpuMillis - b.cpuMillis || a.memoryBytes - b.memoryBytes || byName(a.name, b.name);
}

function byName(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

function byKey(a: [string, unknown], b: [string, unknown]): number {
  return byName(a[0], b[0]);
}
