import type { NodeRecord, PodRecord, StoredObject } from "../db/types.js";
import type { ObservedPod, ProviderNode } from "../providers/types.js";
import type { PodIndex } from "./podIndex.js";
import type { World } from "./world.js";

/** A provider pod with the identity it was started under (the runtime's view, not the store's). */
export interface RunningPod extends ObservedPod {
  tenantId: string;
  namespace: string;
  name: string;
}

/**
 * Everything the checkers and the metrics look at, read at one virtual instant
 * after the system settled: the store's view and the provider's, side by side,
 * plus what the fault injector did (which nodes it crashed). Read-only data: a
 * checker cannot steer the run through it.
 */
export interface Snapshot {
  atMs: number;
  storeNodes: NodeRecord[];
  pods: PodRecord[];
  deployments: StoredObject[];
  replicaSets: StoredObject[];
  statefulSets: StoredObject[];
  providerNodes: ProviderNode[];
  running: RunningPod[];
  crashedNodes: ReadonlySet<string>;
  liveness: LivenessTerms;
  /** The run's index of `pods`, brought up to date for this look; absent, checkers make one (`podIndexOf`). */
  podIndex?: PodIndex;
}

/**
 * What the liveness invariant is told by the scenario, not by the run: from when it is judged
 * (virtual ms since the start; `null`: never, the faults never stop or the run ends first), and
 * the images the scenario makes fail on purpose.
 */
export interface LivenessTerms {
  /** When the faults stopped; `null`: never. */
  stoppedMs: number | null;
  fromMs: number | null;
  failingImages: ReadonlySet<string>;
}

/** Each listing of ReplicaSets grouped by owner uid once, however many checkers ask. */
const setsByOwner = new WeakMap<readonly StoredObject[], ReadonlyMap<string, readonly StoredObject[]>>();

/** A snapshot's ReplicaSets by the uid of the object that owns them (a Deployment's revisions). */
export function replicaSetsOf(s: Pick<Snapshot, "replicaSets">, ownerUid: string): readonly StoredObject[] {
  let grouped = setsByOwner.get(s.replicaSets);
  if (!grouped) {
    const made = new Map<string, StoredObject[]>();
    for (const rs of s.replicaSets) {
      if (rs.ownerUid === null) continue;
      const sets = made.get(rs.ownerUid);
      if (sets) sets.push(rs);
      else made.set(rs.ownerUid, [rs]);
    }
    grouped = made;
    setsByOwner.set(s.replicaSets, grouped);
  }
  return grouped.get(ownerUid) ?? [];
}

export const NO_LIVENESS: LivenessTerms = { stoppedMs: null, fromMs: null, failingImages: new Set() };

/** Runtime identities by pod id: a pod's identity never changes, so each is read from the provider once. */
export class IdentityCache {
  private readonly known = new Map<string, { tenantId: string; namespace: string; name: string }>();
  /** The provider's observation of a pod, with its identity: kept as long as the observation is. */
  readonly running = new WeakMap<object, RunningPod>();

  get size(): number {
    return this.known.size;
  }

  of(world: World, podId: string): { tenantId: string; namespace: string; name: string } | undefined {
    const cached = this.known.get(podId);
    if (cached) return cached;
    const spec = world.provider.runtimeSpec(podId);
    if (!spec) return undefined;
    const identity = { tenantId: spec.tenantId, namespace: spec.namespace, name: spec.name };
    this.known.set(podId, identity);
    return identity;
  }

  /** Forgets pods the provider no longer runs, so the cache stays as small as the cluster. */
  retain(podIds: ReadonlySet<string>): void {
    for (const id of this.known.keys()) if (!podIds.has(id)) this.known.delete(id);
  }
}

export async function takeSnapshot(
  world: World,
  identities: IdentityCache,
  crashedNodes: ReadonlySet<string>,
  liveness: LivenessTerms = NO_LIVENESS,
  podIndex?: PodIndex,
): Promise<Snapshot> {
  // Read straight from the provider (not the possibly wrapped one the control plane sees): the truth.
  // With the run's index, only the pods written since the last look are read, and the list is made when asked for.
  const [storeNodes, listed, deployments, replicaSets, statefulSets, providerNodes] = await Promise.all([
    world.store.listNodes(),
    podIndex ? podIndex.refresh(world.store, world.podWrites) : world.store.listPods({}),
    world.store.listObjects({ kind: "Deployment" }),
    world.store.listObjects({ kind: "ReplicaSet" }),
    world.store.listObjects({ kind: "StatefulSet" }),
    world.provider.listNodes(),
  ]);
  // The provider's pods as `listPods` reports them, kept between looks while they do not change: read,
  // with their identities, only when a checker asks (one that judges StatefulSets), which it does at
  // this same instant (the checkers run as soon as the snapshot is taken, with nothing in between).
  let running: RunningPod[] | undefined;
  const index = Array.isArray(listed) ? undefined : listed;
  return {
    atMs: world.elapsedMs(),
    storeNodes,
    deployments,
    replicaSets,
    statefulSets,
    providerNodes,
    get running() {
      running ??= runningPods(world, identities, world.provider.observedPods());
      return running;
    },
    // The index's list is made when first asked for (a checker's full check, the liveness judgement).
    get pods() {
      return index ? index.pods() : (listed as PodRecord[]);
    },
    crashedNodes,
    liveness,
    ...(index ? { podIndex: index } : {}),
  };
}

/** The provider's pods with the identities they were started under, each made once per observation. */
function runningPods(world: World, identities: IdentityCache, observed: readonly ObservedPod[]): RunningPod[] {
  const running: RunningPod[] = [];
  for (const pod of observed) {
    const known = identities.running.get(pod);
    if (known) {
      running.push(known);
      continue;
    }
    const identity = identities.of(world, pod.podId);
    if (!identity) continue;
    const made = Object.freeze({ ...pod, ...identity });
    identities.running.set(pod, made);
    running.push(made);
  }
  if (identities.size > observed.length) identities.retain(new Set(observed.map((p) => p.podId)));
  return running;
}
