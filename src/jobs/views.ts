import { isMoving } from "../controllers/podStatus.js";
import type {
  DaemonSetView,
  DeploymentView,
  PodView,
  ReplicaSetView,
  ServiceView,
  StatefulSetView,
} from "../controllers/types.js";
import type { ClaimView } from "../controllers/volume.js";
import type { PodRecord, StoredObject } from "../db/types.js";

/**
 * Views of frozen records: a record the store keeps deep-frozen (the in-memory store hands out its
 * own) cannot change, so its view is made once, however many reconciles look at it. The views are
 * frozen as well, since they are shared. Records that can change (SQL rows, tests' objects) are
 * viewed afresh each time.
 */
const frozenViews = new WeakMap<PodRecord, PodView>();

export function podView(pod: PodRecord): PodView {
  // Only a frozen record is ever kept: one found was frozen when it was kept, and still is.
  const known = frozenViews.get(pod);
  if (known) return known;
  if (!Object.isFrozen(pod)) return makePodView(pod);
  const view = Object.freeze(makePodView(pod));
  frozenViews.set(pod, view);
  return view;
}

/** What one look at an owner's listed pods makes of them: views of the pods it owns, and the others. */
export interface OwnedPods {
  owned: PodView[];
  /** Listed under the owner's kind and name but not its uid: left by an owner of that name before it. */
  strangers: PodRecord[];
}

/** One look at an owner's pods, kept for the next: each listed record, and its view if the owner owns it (else null). */
interface KeptLook {
  records: readonly PodRecord[];
  views: (PodView | null | undefined)[];
}

/** Owners whose latest look is kept; past this, every kept look is dropped and the next ones start afresh. */
const OWNER_LOOKS_KEPT = 4_096;
const keptLooks = new Map<string, KeptLook>();

/**
 * The pods of `records` that `ownerUid` owns, as views, and the ones it does not. An owner's pods
 * are looked at again and again (after each change of one of them, by the ReplicaSet, then by its
 * Deployment), and most are the very records of the look before: a store that keeps records frozen
 * hands out the same one until it changes. So the latest look per owner is kept, and a record found
 * at the same place in the list as last time is taken as it was, without being read again; only the
 * records that changed, moved or are new are read and viewed. Records that can change (not frozen)
 * are read every time.
 */
export function ownedPods(records: readonly PodRecord[], ownerUid: string | undefined): OwnedPods {
  const kept = ownerUid === undefined ? undefined : keptLooks.get(ownerUid);
  const before = kept?.records ?? [];
  const owned: PodView[] = [];
  const strangers: PodRecord[] = [];
  const views: (PodView | null | undefined)[] = new Array(records.length);
  // Where the last look is up to: both listings are in the same order, so a record of the last look
  // is at this place, or a few on when pods before it left, or a few back when pods joined.
  let at = 0;
  let frozen = 0;
  for (let i = 0; i < records.length; i++) {
    const record = records[i] as PodRecord;
    const found = placeOf(before, record, at);
    let view = found === -1 ? undefined : kept?.views[found];
    if (found !== -1) at = found + 1;
    if (view === undefined) {
      view = record.ownerUid === ownerUid ? podView(record) : null;
      // Only a frozen record is the same record the next time it is the same object.
      if (!Object.isFrozen(record)) {
        if (view) owned.push(view);
        else strangers.push(record);
        continue;
      }
    }
    views[i] = view;
    frozen++;
    if (view) owned.push(view);
    else strangers.push(record);
  }
  if (ownerUid === undefined) return { owned, strangers };
  // A look of records that can all change is of no use to the next: it is not kept.
  if (frozen === 0 && records.length > 0) keptLooks.delete(ownerUid);
  else {
    if (keptLooks.size >= OWNER_LOOKS_KEPT && !keptLooks.has(ownerUid)) keptLooks.clear();
    keptLooks.set(ownerUid, { records, views });
  }
  return { owned, strangers };
}

/** How far from its expected place a record of the last look is looked for. */
const LOOK_AROUND = 4;

/** Where `record` is in `before`, looked for at `at`, then up to `LOOK_AROUND` places either side; -1 if not there. */
function placeOf(before: readonly PodRecord[], record: PodRecord, at: number): number {
  if (before[at] === record) return at;
  for (let d = 1; d <= LOOK_AROUND; d++) {
    if (before[at + d] === record) return at + d;
    if (at - d >= 0 && before[at - d] === record) return at - d;
  }
  return -1;
}

function makePodView(pod: PodRecord): PodView {
  const namedPorts: Record<string, number> = {};
  const containers =
    (pod.spec.containers as { ports?: { name?: string; containerPort: number }[] }[] | undefined) ?? [];
  for (const container of containers) {
    for (const port of container.ports ?? []) if (port.name) namedPorts[port.name] = port.containerPort;
  }
  return {
    id: pod.id,
    name: pod.name,
    uid: pod.uid,
    labels: pod.labels,
    templateHash: pod.templateHash,
    phase: pod.phase,
    ready: pod.ready,
    bound: pod.nodeName !== null,
    deleting: pod.deletionRequestedAt !== null,
    createdAt: pod.createdAt,
    podIP: typeof pod.status.podIP === "string" ? pod.status.podIP : undefined,
    namedPorts,
    readySinceMs: pod.ready ? readySince(pod) : undefined,
    restartCount: containerStatuses(pod).reduce((n, c) => n + (c.restartCount ?? 0), 0),
    crashLooping: containerStatuses(pod).some((c) => c.state?.waiting?.reason === "CrashLoopBackOff"),
    ...(isMoving(pod.status) ? { moving: true } : {}),
    // Bound, or pinned by its controller (a daemon's pod knows its node before it is bound).
    ...(pod.nodeName || typeof pod.spec.nodeName === "string"
      ? { nodeName: pod.nodeName ?? (pod.spec.nodeName as string) }
      : {}),
  };
}

interface ContainerStatusView {
  restartCount?: number;
  state?: { waiting?: { reason?: string } };
}

function containerStatuses(pod: PodRecord): ContainerStatusView[] {
  return (pod.status.containerStatuses as ContainerStatusView[] | undefined) ?? [];
}

function readySince(pod: PodRecord): number | undefined {
  const conditions = (pod.status.conditions as { type: string; status: string; lastTransitionTime?: string }[]) ?? [];
  const ready = conditions.find((c) => c.type === "Ready" && c.status === "True");
  return ready?.lastTransitionTime ? Date.parse(ready.lastTransitionTime) : undefined;
}

export function deploymentView(object: StoredObject): DeploymentView {
  return {
    name: object.name,
    namespace: object.namespace,
    uid: object.uid,
    generation: object.generation,
    annotations: object.annotations,
    spec: object.spec as unknown as DeploymentView["spec"],
    status: object.status,
  };
}

/** A ReplicaSet, or a ReplicationController seen as one (its equality selector becomes `matchLabels`). */
export function replicaSetView(object: StoredObject): ReplicaSetView {
  const spec = object.spec as unknown as ReplicaSetView["spec"];
  const legacy = object.kind === "ReplicationController";
  return {
    kind: legacy ? "ReplicationController" : "ReplicaSet",
    name: object.name,
    namespace: object.namespace,
    uid: object.uid,
    generation: object.generation,
    labels: object.labels,
    annotations: object.annotations,
    createdAt: object.createdAt,
    spec: legacy ? { ...spec, selector: { matchLabels: spec.selector as unknown as Record<string, string> } } : spec,
    status: object.status,
  };
}

export function serviceView(object: StoredObject): ServiceView {
  return { name: object.name, namespace: object.namespace, spec: object.spec as ServiceView["spec"] };
}

/** The common shape of workload views: identity, spec and status of a stored object. */
function workloadView<T>(object: StoredObject): T {
  return {
    name: object.name,
    namespace: object.namespace,
    uid: object.uid,
    generation: object.generation,
    spec: object.spec,
    status: object.status,
  } as T;
}

export const statefulSetView = (object: StoredObject) => workloadView<StatefulSetView>(object);
export const daemonSetView = (object: StoredObject) => workloadView<DaemonSetView>(object);
export const claimView = (object: StoredObject) => workloadView<ClaimView>(object);
