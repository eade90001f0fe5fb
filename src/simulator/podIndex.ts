import type { PodRecord, Store } from "../db/types.js";

/**
 * Which pods the store's writes may have changed since the last look, as the simulator's store
 * reports them: by id, or "any of them" (a transaction, a write it cannot read ids from, and at
 * the start, when the index knows nothing yet).
 */
export class PodWrites {
  private ids = new Set<string>();
  private any = true;

  /** `exact` false: the writes' ids are not to be trusted (a planted store may write other pods than it is asked to). */
  constructor(private readonly exact = true) {}

  add(ids: readonly string[] | undefined): void {
    if (ids === undefined || !this.exact) this.any = true;
    else if (!this.any) for (const id of ids) this.ids.add(id);
  }

  /** What was written since the last call, and starts afresh. */
  take(): { any: true } | { any: false; ids: ReadonlySet<string> } {
    const taken = this.any ? { any: true as const } : { any: false as const, ids: this.ids };
    this.any = false;
    this.ids = new Set();
    return taken;
  }
}

/** What the pods bound to one node ask for. */
export interface NodeSums {
  cpu: number;
  memory: number;
  pods: number;
}

/** What one pod adds to the aggregates: computed once per stored record (records are immutable). */
interface Folded {
  pod: PodRecord;
  /** The look that last saw this record; an older one means the pod is gone. */
  pass: number;
}

/**
 * The aggregates the checkers and the metrics read from the pods, kept up to date from the
 * pods that changed since the last look instead of recomputed from all of them.
 *
 * The store hands out its records as they are, deep-frozen, and replaces a pod's record on
 * every write: a record seen at the last look that is still the same object has not changed,
 * so `update` only compares identities for the unchanged pods and folds the changed ones out
 * (their old record) and in (their new one). A store that hands out copies only makes every
 * pod look changed: slower, never wrong. A fresh index over the same pods holds the same
 * figures (the tests compare both at every look of a run).
 *
 * A checker reads these as hints: where a figure says something may be wrong, it runs its
 * full check over the snapshot, so what it reports is unchanged.
 */
export class PodIndex {
  private readonly folded = new Map<string, Folded>();
  private pass = 0;
  /** Per node, the requests of the pods bound to it. */
  readonly boundByNode = new Map<string, NodeSums>();
  /** Counts the changes of `boundByNode`: unchanged, every node's sums are as they were. */
  boundVersion = 0;
  /** Per node, how many of the pods bound to it are Ready. */
  readonly readyByNode = new Map<string, number>();
  /** Per owner uid, how many of its pods are live (not deleting, not Failed or Succeeded). */
  readonly liveByOwner = new Map<string, number>();
  /** Per owner uid, how many of its pods that are not deleting are Ready. */
  readonly readyByOwner = new Map<string, number>();
  /** Per owner uid, per image, how many containers of its Ready pods (not deleting) run it. */
  readonly readyImagesByOwner = new Map<string, Map<string, number>>();

  /** The pods in list order, as `listPods({})` answers: made when first asked for after a change. */
  private listed: PodRecord[] | undefined;

  /**
   * Brings the index to the store's pods now, reading only the pods written since the last look
   * (all of them when the writes cannot tell which).
   */
  async refresh(store: Store, writes: PodWrites): Promise<this> {
    const written = writes.take();
    if (written.any) return this.update(await store.listPods({}));
    if (written.ids.size === 0) return this;
    const ids = [...written.ids];
    const now = await Promise.all(ids.map((id) => store.getPod(id)));
    for (const [i, id] of ids.entries()) this.replace(id, now[i]);
    return this;
  }

  /** Every pod, in list order (namespace, name, tenant): the store's order, kept between changes. */
  pods(): PodRecord[] {
    if (!this.listed) {
      const keyed = [...this.folded.values()].map(({ pod }) => ({ key: listKey(pod), pod }));
      keyed.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
      this.listed = keyed.map(({ pod }) => pod);
    }
    return this.listed;
  }

  /** One pod as it is now (`undefined`: gone). */
  private replace(id: string, pod: PodRecord | undefined): void {
    const known = this.folded.get(id);
    if (known?.pod === pod) return;
    this.listed = undefined;
    if (boundShareChanged(known?.pod, pod)) this.boundVersion++;
    if (known) this.fold(known.pod, -1);
    if (!pod) {
      this.folded.delete(id);
      return;
    }
    this.fold(pod, 1);
    if (known) known.pod = pod;
    else this.folded.set(id, { pod, pass: this.pass });
  }

  /** Brings the aggregates to `pods`, the store's pods now; returns the index. */
  update(pods: readonly PodRecord[]): this {
    this.listed = [...pods];
    const pass = ++this.pass;
    for (const pod of pods) {
      const known = this.folded.get(pod.id);
      if (known === undefined) {
        this.folded.set(pod.id, { pod, pass });
        this.fold(pod, 1);
        if (boundShareChanged(undefined, pod)) this.boundVersion++;
        continue;
      }
      known.pass = pass;
      if (known.pod === pod) continue;
      if (boundShareChanged(known.pod, pod)) this.boundVersion++;
      this.fold(known.pod, -1);
      this.fold(pod, 1);
      known.pod = pod;
    }
    if (this.folded.size > pods.length) {
      for (const [id, known] of this.folded) {
        if (known.pass === pass) continue;
        if (boundShareChanged(known.pod, undefined)) this.boundVersion++;
        this.fold(known.pod, -1);
        this.folded.delete(id);
      }
    }
    return this;
  }

  /** Adds (`sign` 1) or takes away (`sign` -1) one pod's share of every aggregate. */
  private fold(pod: PodRecord, sign: 1 | -1): void {
    if (pod.nodeName !== null) {
      const sums = this.boundByNode.get(pod.nodeName) ?? { cpu: 0, memory: 0, pods: 0 };
      sums.cpu += sign * pod.cpuMillis;
      sums.memory += sign * pod.memoryBytes;
      sums.pods += sign;
      if (sums.pods === 0) this.boundByNode.delete(pod.nodeName);
      else this.boundByNode.set(pod.nodeName, sums);
      if (pod.ready) count(this.readyByNode, pod.nodeName, sign);
    }
    if (pod.ownerUid === null) return;
    if (isLive(pod)) count(this.liveByOwner, pod.ownerUid, sign);
    if (pod.deletionRequestedAt !== null || !pod.ready) return;
    count(this.readyByOwner, pod.ownerUid, sign);
    let images = this.readyImagesByOwner.get(pod.ownerUid);
    if (!images) {
      images = new Map();
      this.readyImagesByOwner.set(pod.ownerUid, images);
    }
    for (const image of imagesOf(pod)) count(images, image, sign);
    if (images.size === 0) this.readyImagesByOwner.delete(pod.ownerUid);
  }
}

/** The store's list order: namespace, name, tenant, compared as one key (as the in-memory store keeps them). */
function listKey(pod: PodRecord): string {
  return `${pod.namespace}\u0000${pod.name}\u0000${pod.tenantId}`;
}

function count(counts: Map<string, number>, key: string, sign: 1 | -1): void {
  const next = (counts.get(key) ?? 0) + sign;
  if (next === 0) counts.delete(key);
  else counts.set(key, next);
}

/** A live pod: not on its way out and not finished. */
export const isLive = (pod: PodRecord) =>
  pod.deletionRequestedAt === null && pod.phase !== "Failed" && pod.phase !== "Succeeded";

/** Images by pod spec: a pod's spec object is kept across its status writes, so each is read once. */
const imagesBySpec = new WeakMap<object, string[]>();

/** The images of a pod's containers, in spec order (empty ones left out). */
export function imagesOf(pod: PodRecord): string[] {
  const known = imagesBySpec.get(pod.spec);
  if (known) return known;
  const containers = (pod.spec.containers as { image?: string }[] | undefined) ?? [];
  const images = containers.map((c) => c.image ?? "").filter(Boolean);
  imagesBySpec.set(pod.spec, images);
  return images;
}

/** The index of a snapshot's pods: the run's own, kept up to date, or one made for a snapshot built by hand. */
const fresh = new WeakMap<object, PodIndex>();

/** Whether a pod's share of the sums bound to nodes differs between two of its records (absent: gone, or new). */
function boundShareChanged(before: PodRecord | undefined, after: PodRecord | undefined): boolean {
  if (!before || !after) return (before ?? after)?.nodeName != null;
  if (before.nodeName !== after.nodeName) return true;
  return before.nodeName !== null && (before.cpuMillis !== after.cpuMillis || before.memoryBytes !== after.memoryBytes);
}

export function podIndexOf(s: { pods: readonly PodRecord[]; podIndex?: PodIndex }): PodIndex {
  if (s.podIndex) return s.podIndex;
  let index = fresh.get(s.pods);
  if (!index) {
    index = new PodIndex().update(s.pods);
    fresh.set(s.pods, index);
  }
  return index;
}

/** How `kept` differs from `fresh`, made from `listed` (every pod now): empty when they agree. */
export function podIndexDifferences(kept: PodIndex, fresh: PodIndex, listed: readonly PodRecord[]): string[] {
  const problems: string[] = [];
  const pods = kept.pods();
  if (pods.length !== listed.length || pods.some((pod, i) => pod !== listed[i])) {
    problems.push(`pods: ${pods.length} kept, ${listed.length} listed, or not the same records in the same order`);
  }
  const aggregates = (index: PodIndex) =>
    JSON.stringify({
      boundByNode: sorted(index.boundByNode),
      readyByNode: sorted(index.readyByNode),
      liveByOwner: sorted(index.liveByOwner),
      readyByOwner: sorted(index.readyByOwner),
      readyImagesByOwner: sorted(index.readyImagesByOwner).map(([owner, images]) => [owner, sorted(images)]),
    });
  const [a, b] = [aggregates(kept), aggregates(fresh)];
  if (a !== b) problems.push(`aggregates differ: kept ${a.slice(0, 300)}; fresh ${b.slice(0, 300)}`);
  return problems;
}

function sorted<V>(map: ReadonlyMap<string, V>): [string, V][] {
  return [...map].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
}
