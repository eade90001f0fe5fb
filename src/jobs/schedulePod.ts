import { conditionsOf, setCondition } from "../controllers/podStatus.js";
import { canonicalEqual } from "../core/hash.js";
import { ConflictError, type NodeRecord, type PodBinding, type PodRecord, type PodStatusWrite } from "../db/types.js";
import { ClusterIndex, type PlacedPod, type PodDemand, schedule, type Unschedulable } from "../scheduler/index.js";
import { recordEvent } from "./apply.js";
import { batchable } from "./batchable.js";
import type { JobContext } from "./context.js";
import { tenantOfWaitingPodsKey } from "./keys.js";
import type { HandlerResult } from "./queue.js";
import { startBound } from "./syncPod.js";
import { pinVolumes, placementOf } from "./volumes.js";

/** Pods placed by one `schedule` job at most: its own, then others of the tenant waiting for their first placement. */
const MAX_PLACED = 20_000;
/** Pods bound by one write: each batch starts while the job places the next. */
const BIND_BATCH = 1_000;

/**
 * The `schedule` job of a pod: place one unbound pod, then bind it with a conditional write that
 * cannot over-commit. Nodes and the tenant's pods are read once, and the same read places a batch of
 * the tenant's other pods waiting for their first placement (in creation order, with no claim or pin
 * of their own), each placement counted in before the next, as one after another would: a
 * 10,000-replica Deployment costs one read of the cluster, not 10,000, and binds in 10 writes
 * (each batch bound before the next is placed). Such pods have no job of their own unless one is
 * handed on to them (`handOff`); one that has (a resync's) finds itself bound. A controller's burst
 * asks for the tenant's job instead (`waitingPodsKey`), which places such a batch with no pod of its own.
 */
export async function scheduleJob(ctx: JobContext, key: string): Promise<HandlerResult | undefined> {
  // The starts its batches ask for: the job ends once they are done, but the next placement need
  // not wait for them (a burst's starts on Docker take minutes; another tenant's pod is placed meanwhile).
  const starts: Promise<void>[] = [];
  const tenantId = tenantOfWaitingPodsKey(key);
  if (tenantId !== undefined)
    return withStarts(
      starts,
      oneAtATime(ctx, () => placeWaiting(ctx, tenantId, starts)),
    );
  const podId = key;
  const pod = await ctx.store.getPod(podId);
  if (!pod || pod.deletionRequestedAt !== null) return goneBeforePlaced(ctx, pod);
  if (pod.nodeName) return alreadyBound(ctx, pod);
  // Jobs run side by side, but place one at a time: most of a burst's jobs then find their pod bound
  // by the batch before them (above, at the cost of one read), instead of each placing a batch of its own.
  const placed = oneAtATime(ctx, async () => {
    const now = await ctx.store.getPod(podId);
    if (!now || now.deletionRequestedAt !== null) return goneBeforePlaced(ctx, now);
    return now.nodeName ? alreadyBound(ctx, now) : place(ctx, now, starts);
  });
  return withStarts(starts, placed);
}

/** What the placement answers, once the starts it asked for are done too (they never reject: `startBound`). */
async function withStarts<T>(starts: Promise<void>[], placed: Promise<T>): Promise<T> {
  try {
    return await placed;
  } finally {
    await Promise.all(starts);
  }
}

/**
 * A tenant's waiting pods (`waitingPodsKey`): every one a batch may take is placed in one batch,
 * oldest first, as `placeBatch` does behind a pod's own placement. Only one such job runs per tenant
 * (across processes too: it is one key), so bursts created one after another are placed in turn,
 * each by a run that reads what the one before bound.
 */
async function placeWaiting(ctx: JobContext, tenantId: string, starts: Promise<void>[]): Promise<undefined> {
  const state = await Placing.read(ctx, tenantId);
  const waiting = waitingAlongside(undefined, state.waiting);
  if (waiting.length > 0) await placeBatch(ctx, state, waiting, starts);
  return undefined;
}

/**
 * The job's pod went before it was placed, and may have been the one its burst waited for: the
 * oldest pod never tried hands on in its place — the tenant's, or, when the pod's row is gone (its
 * tenant unknown), each tenant's. Such jobs are few: a burst has one, not one per pod.
 */
async function goneBeforePlaced(ctx: JobContext, pod: PodRecord | undefined): Promise<undefined> {
  if (pod) {
    if (pod.nodeName === null) await handOff(ctx, pod);
    return undefined;
  }
  const oldest = new Map<string, PodRecord>();
  for (const p of await ctx.store.listPods({ unbound: true })) {
    if (!batchable(p)) continue;
    const known = oldest.get(p.tenantId);
    if (!known || p.createdAt < known.createdAt || (p.createdAt === known.createdAt && p.id < known.id)) {
      oldest.set(p.tenantId, p);
    }
  }
  await Promise.all([...oldest.values()].map((p) => ctx.queue.enqueue("schedule", p.id)));
  return undefined;
}

/** Bound by another pod's batch, which asked for its start: once its provider has reported it, there is nothing more to ask. */
async function alreadyBound(ctx: JobContext, pod: PodRecord): Promise<undefined> {
  if (pod.phase === "Pending") await ctx.queue.enqueue("pod", pod.id);
  return undefined;
}

/** The placement under way in each process (per job context), which the next waits for. */
const placing = new WeakMap<JobContext, Promise<unknown>>();

async function oneAtATime<T>(ctx: JobContext, run: () => Promise<T>): Promise<T> {
  const before = placing.get(ctx) ?? Promise.resolve();
  const mine = before.then(run);
  // The next waits for this one to settle, however it ends; the caller sees how it ended.
  placing.set(
    ctx,
    mine.then(
      () => {},
      () => {},
    ),
  );
  return mine;
}

async function place(ctx: JobContext, pod: PodRecord, starts: Promise<void>[]): Promise<HandlerResult | undefined> {
  const placement = await placementOf(ctx, pod);
  if (placement.waiting) {
    await markWaiting(ctx, pod, placement.waiting);
    await handOff(ctx, pod);
    return { requeueAfterMs: ctx.unschedulableRetryMs };
  }
  const state = await Placing.read(ctx, pod.tenantId);
  const demand = demandOf(pod, placement.requiredNodes);
  await state.readEveryPlacedFor([demand]);
  const result = schedule(demand, state.nodes, { policy: ctx.schedulingPolicy, placed: state.placedFor(demand) });
  if (!result.ok) {
    await markUnschedulable(ctx, pod, result);
    await handOff(ctx, pod, state.waiting);
    return { requeueAfterMs: ctx.unschedulableRetryMs };
  }
  const bind = await ctx.store.bindPod(pod.id, result.nodeName, ctx.clock.now());
  if (bind === "bound" || bind === "already-bound") {
    if (bind === "bound") await pinVolumes(ctx, pod, result.nodeName);
    await markScheduled(ctx, pod.id);
    await ctx.queue.enqueue("pod", pod.id);
    if (bind === "bound") {
      state.bound(pod, result.nodeName);
      await placeBatch(ctx, state, waitingAlongside(pod, state.waiting), starts);
    }
    return undefined;
  }
  if (bind === "pod-gone") {
    await handOff(ctx, pod, state.waiting);
    return undefined;
  }
  // Another binder took the room (or the node went) between our read and our write: place again on
  // fresh state (the pods waiting alongside are placed then).
  return { requeueAfterMs: 10 };
}

/**
 * The job's own pod found no place (or went): the oldest pod that waited for its batch takes over,
 * with a job that places it and a batch of its own, or finds no place either and hands on in turn.
 * Only a pod never tried takes over: one refused already has its own retry. So pods that do not fit
 * cost a job each, one after another, as they did with a job each from the start.
 */
async function handOff(ctx: JobContext, pod: PodRecord, unbound?: readonly PodRecord[]): Promise<void> {
  const pods = unbound ?? (await ctx.store.listPods({ tenantId: pod.tenantId, unbound: true }));
  const [next] = waitingAlongside(pod, pods);
  if (next) await ctx.queue.enqueue("schedule", next.id);
}

/** The tenant's other pods waiting for a first placement that a batch may take, oldest first. */
function waitingAlongside(pod: PodRecord | undefined, pods: readonly PodRecord[]): PodRecord[] {
  return pods
    .filter((p) => p.id !== pod?.id && batchable(p))
    .sort((a, b) => a.createdAt - b.createdAt || (a.id < b.id ? -1 : 1));
}

/**
 * Places `pods` one after another on the batch's state (`MAX_PLACED` at most), stopping at the first
 * that finds no place, and binds them a batch per conditional write: one that finds its node fuller
 * than read (another binder) is not bound, and gets a job of its own that places it again on fresh
 * state. The pod that found no place gets one too, which says why it waits and hands on to the rest
 * (`handOff`); so does the first past `MAX_PLACED`, which takes the rest as a batch of its own.
 */
async function placeBatch(
  ctx: JobContext,
  state: Placing,
  pods: readonly PodRecord[],
  starts: Promise<void>[],
): Promise<void> {
  const taken = pods.slice(0, MAX_PLACED - 1);
  let next = pods[taken.length];
  // Each batch starts while the next is placed; the job waits for the starts (`withStarts`).
  for (let start = 0; start < taken.length; start += BIND_BATCH) {
    const batch = taken.slice(start, start + BIND_BATCH);
    const left = await placeAndBind(ctx, state, batch);
    starts.push(startBound(ctx, left.bound, state.nodesByName));
    await Promise.all(left.unbound.map((p) => ctx.queue.enqueue("schedule", p.id)));
    if (left.untried > 0) {
      next = batch[batch.length - left.untried];
      break;
    }
  }
  if (next) await ctx.queue.enqueue("schedule", next.id);
}

/**
 * Places and binds one batch. Answers the pods whose bind was refused (their node fuller than read,
 * or gone) and how many at the batch's end were not tried, after one found no place.
 */
async function placeAndBind(
  ctx: JobContext,
  state: Placing,
  pods: readonly PodRecord[],
): Promise<{ bound: PodRecord[]; unbound: PodRecord[]; untried: number }> {
  const binds: PodBinding[] = [];
  await state.readEveryPlacedFor(pods.map((pod) => demandOf(pod, [])));
  for (const pod of pods) {
    const demand = demandOf(pod, []);
    const result = schedule(demand, state.nodes, { policy: ctx.schedulingPolicy, index: state.index(demand) });
    if (!result.ok) break;
    state.bound(pod, result.nodeName);
    binds.push({ podId: pod.id, nodeName: result.nodeName });
  }
  const { bound, refused } = await bindAll(ctx, binds);
  return { bound, unbound: pods.filter((p) => refused.has(p.id)), untried: pods.length - binds.length };
}

/** Binds, and answers the pods bound (as recorded) and those refused for want of room or node. */
async function bindAll(
  ctx: JobContext,
  binds: readonly PodBinding[],
): Promise<{ bound: PodRecord[]; refused: Set<string> }> {
  const outcomes = await ctx.store.bindPods(binds, ctx.clock.now());
  const bound = outcomes.flatMap((o) => (o.result === "bound" && o.pod ? [o.pod] : []));
  const marked = await markAllScheduled(ctx, bound);
  const refused = binds.flatMap((b, i) => {
    const result = outcomes[i]?.result;
    return result === "insufficient" || result === "node-gone" ? [b.podId] : [];
  });
  return { bound: bound.map((pod) => marked.get(pod.id) ?? pod), refused: new Set(refused) };
}

/**
 * PodScheduled=True on pods just bound, in one conditional write on the pods as bound; a pod that
 * changed since (its provider reported already) gets its own read and write. Answers the records
 * the one write made.
 */
async function markAllScheduled(ctx: JobContext, pods: readonly PodRecord[]): Promise<Map<string, PodRecord>> {
  const now = ctx.clock.now();
  const writes = pods.flatMap((pod): PodStatusWrite[] => {
    const before = conditionsOf(pod.status);
    const conditions = setCondition(before, "PodScheduled", true, now);
    if (canonicalEqual(conditions, before)) return [];
    const change = { phase: pod.phase, ready: pod.ready, status: { ...pod.status, conditions } };
    return [{ id: pod.id, change, expectedResourceVersion: pod.resourceVersion }];
  });
  const written = new Map((await ctx.store.updatePodStatuses(writes, now)).map((p) => [p.id, p]));
  for (const write of writes) if (!written.has(write.id)) await markScheduled(ctx, write.id);
  return written;
}

/**
 * What one schedule job read, kept current as it binds: node allocations, the tenant's pods waiting
 * for a first placement, and its placed pods holding pod affinity terms (which sway every placement:
 * Kubernetes' symmetry). Every placed pod of the tenant is read only for a pod whose own affinity or
 * spread needs them (`readEveryPlacedFor`), which most placements never have.
 */
class Placing {
  readonly nodes: NodeRecord[];
  private readonly byName = new Map<string, NodeRecord>();
  /** The nodes as read, by name. */
  get nodesByName(): ReadonlyMap<string, NodeRecord> {
    return this.byName;
  }
  /** The tenant's pods that a batch may take (`batchable`), in the order read. */
  readonly waiting: PodRecord[];
  /** Bound, live pods holding pod affinity terms. */
  private readonly holdingAffinity: PlacedPod[] = [];
  /** Every bound, live pod (for a demand's own affinity and spread), once read. */
  private every: PlacedPod[] | undefined;
  /** Pods this job bound, by id: counted in whatever is read after. */
  private readonly boundHere = new Map<string, PlacedPod>();

  private constructor(
    private readonly ctx: JobContext,
    private readonly tenantId: string,
    nodes: readonly NodeRecord[],
    unbound: readonly PodRecord[],
    holding: readonly PodRecord[],
  ) {
    this.nodes = nodes.map((n) => ({ ...n }));
    for (const node of this.nodes) this.byName.set(node.name, node);
    this.waiting = unbound.filter(batchable);
    for (const p of holding) {
      if (p.nodeName !== null && p.deletionRequestedAt === null) this.holdingAffinity.push(placedPod(p, p.nodeName));
    }
  }

  static async read(ctx: JobContext, tenantId: string): Promise<Placing> {
    const [nodes, unbound, holding] = await Promise.all([
      ctx.store.listNodes(),
      ctx.store.listPods({ tenantId, unbound: true }),
      ctx.store.listPods({ tenantId, holdingPodAffinity: true }),
    ]);
    return new Placing(ctx, tenantId, nodes, unbound, holding);
  }

  /** Reads every placed pod of the tenant, once, when one of `demands` needs them. */
  async readEveryPlacedFor(demands: readonly PodDemand[]): Promise<void> {
    if (this.every || !demands.some(needsEveryPlacedPod)) return;
    const every: PlacedPod[] = [];
    for (const p of await this.ctx.store.listPods({ tenantId: this.tenantId })) {
      if (p.nodeName === null || p.deletionRequestedAt !== null) continue;
      every.push(this.boundHere.get(p.id) ?? placedPod(p, p.nodeName));
    }
    const read = new Set(every);
    for (const placed of this.boundHere.values()) if (!read.has(placed)) every.push(placed);
    this.every = every;
  }

  placedFor(demand: PodDemand): PlacedPod[] {
    return needsEveryPlacedPod(demand) ? this.everyPlaced() : this.holdingAffinity;
  }

  private everyPlaced(): PlacedPod[] {
    if (!this.every) throw new Error("every placed pod is read before a pod that needs them is placed");
    return this.every;
  }

  /**
   * The scheduler's index over the nodes and the placed pods, built once for a batch and kept up to
   * date bind by bind, instead of one built per pod placed (what 150,000 pods on 5,000 nodes cannot
   * afford). It answers as `placedFor` does: it holds every placed pod once a demand of its own terms
   * asked for it, and until then only those holding terms, which are all a demand without terms
   * counts (the index counts pods only for terms).
   */
  index(demand: PodDemand): ClusterIndex {
    const full = needsEveryPlacedPod(demand);
    if (!this.cluster || (full && !this.clusterFull)) {
      this.cluster = new ClusterIndex(this.nodes, full ? this.everyPlaced() : this.holdingAffinity);
      this.clusterFull = full;
    }
    return this.cluster;
  }

  private cluster: ClusterIndex | undefined;
  private clusterFull = false;

  bound(pod: PodRecord, nodeName: string): void {
    const node = this.byName.get(nodeName);
    if (node) {
      node.allocatedCpuMillis += pod.cpuMillis;
      node.allocatedMemoryBytes += pod.memoryBytes;
      node.allocatedPods += 1;
    }
    const placed = placedPod(pod, nodeName);
    this.boundHere.set(pod.id, placed);
    this.every?.push(placed);
    const holds = holdsPodAffinity(placed.affinity);
    if (holds) this.holdingAffinity.push(placed);
    if (this.cluster && (this.clusterFull || holds)) this.cluster.place(placed);
  }
}

function placedPod(pod: PodRecord, nodeName: string): PlacedPod {
  return { namespace: pod.namespace, labels: pod.labels, nodeName, affinity: (pod.spec as PlacementSpec).affinity };
}

type PlacementSpec = Pick<PodDemand, "nodeSelector" | "affinity" | "topologySpreadConstraints">;

export function demandOf(pod: PodRecord, requiredNodes: PodDemand["requiredNodes"]): PodDemand {
  const spec = pod.spec as PlacementSpec;
  return {
    id: pod.id,
    namespace: pod.namespace,
    labels: pod.labels,
    cpuMillis: pod.cpuMillis,
    memoryBytes: pod.memoryBytes,
    nodeSelector: spec.nodeSelector,
    affinity: spec.affinity,
    topologySpreadConstraints: spec.topologySpreadConstraints,
    requiredNodes,
  };
}

/**
 * The tenant's bound, live pods, for affinity and spread. Only the tenant's own:
 * tenants never attract, repel or skew each other. Pods on their way out do not
 * count, as Kubernetes leaves terminating pods out.
 */
export async function placedPods(
  ctx: Pick<JobContext, "store">,
  tenantId: string,
  demand?: PodDemand,
): Promise<PlacedPod[]> {
  const every = demand === undefined || needsEveryPlacedPod(demand);
  const placed: PlacedPod[] = [];
  for (const p of await ctx.store.listPods({ tenantId })) {
    if (p.nodeName === null || p.deletionRequestedAt !== null) continue;
    const affinity = (p.spec as PlacementSpec).affinity;
    if (!every && !holdsPodAffinity(affinity)) continue;
    placed.push({ namespace: p.namespace, labels: p.labels, nodeName: p.nodeName, affinity });
  }
  return placed;
}

/**
 * Whether every placed pod can sway where `demand` goes. A pod with no pod affinity and no spread of
 * its own is swayed only by the placed pods' own affinity terms (Kubernetes' symmetry), so the rest
 * can be left out: on a large cluster, most pods need none of them.
 */
function needsEveryPlacedPod(demand: PodDemand): boolean {
  const own = demand.affinity;
  return Boolean(own?.podAffinity || own?.podAntiAffinity || (demand.topologySpreadConstraints?.length ?? 0) > 0);
}

function holdsPodAffinity(affinity: PlacementSpec["affinity"]): boolean {
  return Boolean(affinity?.podAffinity || affinity?.podAntiAffinity);
}

async function markScheduled(ctx: JobContext, podId: string): Promise<void> {
  await updatePodConditions(ctx, podId, (conditions) =>
    setCondition(conditions, "PodScheduled", true, ctx.clock.now()),
  );
}

async function markUnschedulable(ctx: JobContext, pod: PodRecord, result: Unschedulable): Promise<void> {
  await markWaiting(ctx, pod, result.tenantMessage);
}

/** PodScheduled=False with the reason, on the pod and as a FailedScheduling event. */
async function markWaiting(ctx: JobContext, pod: PodRecord, message: string): Promise<void> {
  const detail = { reason: "Unschedulable", message };
  await updatePodConditions(ctx, pod.id, (conditions) =>
    setCondition(conditions, "PodScheduled", false, ctx.clock.now(), detail),
  );
  const involved = { tenantId: pod.tenantId, namespace: pod.namespace, kind: "Pod", name: pod.name, uid: pod.uid };
  await recordEvent(ctx, involved, "Warning", "FailedScheduling", message);
}

/** Rewrites a pod's conditions with a conditional write, re-reading on a race (bounded). */
export async function updatePodConditions(
  ctx: JobContext,
  podId: string,
  change: (conditions: ReturnType<typeof conditionsOf>) => ReturnType<typeof conditionsOf>,
): Promise<void> {
  for (let attempt = 0; attempt < 5; attempt++) {
    const pod = await ctx.store.getPod(podId);
    if (!pod) return;
    const conditions = change(conditionsOf(pod.status));
    // A retry that finds the pod still unschedulable for the same reason writes nothing.
    if (canonicalEqual(conditions, conditionsOf(pod.status))) return;
    const status = { ...pod.status, conditions };
    try {
      await ctx.store.updatePodStatus(
        pod.id,
        { phase: pod.phase, ready: pod.ready, status },
        { expectedResourceVersion: pod.resourceVersion, nowMs: ctx.clock.now() },
      );
      return;
    } catch (error) {
      if (!(error instanceof ConflictError)) throw error;
    }
  }
  throw new Error(`pod ${podId} kept changing while its conditions were written`);
}
