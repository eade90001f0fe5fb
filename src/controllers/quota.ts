import { memoryBytes } from "../core/quantity.js";
import { podRequests } from "../manifest/index.js";
import { claimName } from "./statefulset.js";
import type { Json } from "./types.js";

/**
 * Per-tenant quotas, counted as Kubernetes' ResourceQuota counts: the requests of
 * the pods that exist (surge pods included; a pod without requests counts against
 * `pods` only) and the storage the claims ask for. Pure: the API checks an apply's
 * steady state with `steadyState` and `checkQuota`; controllers check each pod they
 * are about to create with `fitsQuota`.
 */

/** Amounts in the platform's integer units; the operator's limits have the same keys. */
export interface Usage {
  pods: number;
  cpuMillis: number;
  memoryBytes: number;
  storageBytes: number;
}

/** The operator's limits for a tenant (the store's `TenantQuota`); an absent key is unlimited. */
export type QuotaLimits = Partial<Usage>;

/** What a tenant's live pods take (`Store.tenantPodUsage`): pods carry no storage. */
export type PodUsage = Omit<Usage, "storageBytes">;

export type QuotaResource = "cpu" | "memory" | "pods" | "storage";

export interface Violation {
  resource: QuotaResource;
  hard: number;
  before: number;
  after: number;
}

/** A desired object as the quota sees it: its kind, identity, controller (if any) and spec. */
export interface QuotaObject {
  kind: string;
  namespace: string;
  name: string;
  /** Set when a controller made it: a Deployment's ReplicaSets are counted through the Deployment. */
  ownerKind?: string | null;
  spec: Json;
}

/** How long a controller refused by quota waits before it tries again. */
export const QUOTA_RETRY_MS = 5_000;

export const ZERO_USAGE: Usage = { pods: 0, cpuMillis: 0, memoryBytes: 0, storageBytes: 0 };

/** Memory and storage as Kubernetes writes quantities: the largest unit that keeps a whole number. */
export function formatBytesQuantity(bytes: number): string {
  const units: [string, number][] = [
    ["Ei", 2 ** 60],
    ["Pi", 2 ** 50],
    ["Ti", 2 ** 40],
    ["Gi", 2 ** 30],
    ["Mi", 2 ** 20],
    ["Ki", 2 ** 10],
    ["E", 1e18],
    ["P", 1e15],
    ["T", 1e12],
    ["G", 1e9],
    ["M", 1e6],
    ["k", 1e3],
  ];
  const unit = bytes > 0 ? units.find(([, size]) => bytes % size === 0) : undefined;
  return unit ? `${bytes / unit[1]}${unit[0]}` : String(bytes);
}

/** CPU as Kubernetes writes it: whole cores (`8`) or millicores (`500m`). */
export function formatCpuQuantity(millis: number): string {
  return millis % 1000 === 0 ? String(millis / 1000) : `${millis}m`;
}

const RESOURCES: { name: QuotaResource; key: keyof Usage; format: (n: number) => string }[] = [
  { name: "cpu", key: "cpuMillis", format: formatCpuQuantity },
  { name: "memory", key: "memoryBytes", format: formatBytesQuantity },
  { name: "pods", key: "pods", format: String },
  { name: "storage", key: "storageBytes", format: formatBytesQuantity },
];

/** Each amount as a quantity string, keyed by resource name; unset ones left out. */
export function formatUsage(usage: Partial<Usage>): Partial<Record<QuotaResource, string>> {
  const out: Partial<Record<QuotaResource, string>> = {};
  for (const r of RESOURCES) {
    const value = usage[r.key];
    if (value !== undefined) out[r.name] = r.format(value);
  }
  return out;
}

function add(a: Usage, b: Partial<Usage>): Usage {
  return {
    pods: a.pods + (b.pods ?? 0),
    cpuMillis: a.cpuMillis + (b.cpuMillis ?? 0),
    memoryBytes: a.memoryBytes + (b.memoryBytes ?? 0),
    storageBytes: a.storageBytes + (b.storageBytes ?? 0),
  };
}

/** The requests of a pod spec; a spec without containers asks for nothing. */
export function specRequests(spec: unknown): { cpuMillis: number; memoryBytes: number } {
  const pod = spec as { containers?: unknown } | undefined;
  if (!pod || !Array.isArray(pod.containers)) return { cpuMillis: 0, memoryBytes: 0 };
  return podRequests(pod as Parameters<typeof podRequests>[0]);
}

const replicasOf = (spec: Json) => (typeof spec.replicas === "number" ? spec.replicas : 1);
const templateSpec = (spec: Json) => (spec.template as { spec?: unknown } | undefined)?.spec;

function pods(count: number, podSpec: unknown): Usage {
  const requests = specRequests(podSpec);
  return {
    pods: count,
    cpuMillis: count * requests.cpuMillis,
    memoryBytes: count * requests.memoryBytes,
    storageBytes: 0,
  };
}

function storageOf(claimSpec: unknown): number {
  const requests = (claimSpec as { resources?: { requests?: { storage?: string | number } } } | undefined)?.resources
    ?.requests;
  return memoryBytes(requests?.storage);
}

/** The pods one desired object keeps running; DaemonSets (the operator's) and owned ReplicaSets count as nothing. */
function podDemand(object: QuotaObject): Usage {
  switch (object.kind) {
    case "Deployment":
    case "StatefulSet":
      return pods(replicasOf(object.spec), templateSpec(object.spec));
    case "ReplicaSet":
    case "ReplicationController":
      return object.ownerKind ? ZERO_USAGE : pods(replicasOf(object.spec), templateSpec(object.spec));
    case "Pod":
      return pods(1, object.spec);
    default:
      return ZERO_USAGE;
  }
}

interface ClaimSet {
  namespace: string;
  name: string;
  start: number;
  replicas: number;
  templates: { name: string; bytes: number }[];
}

function claimSetOf(sts: QuotaObject): ClaimSet {
  const templates =
    (sts.spec.volumeClaimTemplates as { metadata?: { name?: string }; spec?: unknown }[] | undefined) ?? [];
  const start = (sts.spec.ordinals as { start?: number } | undefined)?.start ?? 0;
  return {
    namespace: sts.namespace,
    name: sts.name,
    start,
    replicas: replicasOf(sts.spec),
    templates: templates.map((t) => ({ name: t.metadata?.name ?? "", bytes: storageOf(t.spec) })),
  };
}

/** The size of the claim of that name a StatefulSet would make itself, if it would make one. */
function impliedBytes(set: ClaimSet, namespace: string, claim: string): number | undefined {
  if (set.namespace !== namespace) return undefined;
  for (const t of set.templates) {
    const prefix = claimName(t.name, set.name, 0).slice(0, -1);
    const suffix = claim.slice(prefix.length);
    if (!claim.startsWith(prefix) || !/^(0|[1-9]\d*)$/.test(suffix)) continue;
    const ordinal = Number(suffix);
    if (ordinal >= set.start && ordinal < set.start + set.replicas) return t.bytes;
  }
  return undefined;
}

/**
 * Storage: every claim that exists, plus the claims each StatefulSet's templates
 * imply for its ordinals. A claim a StatefulSet made is counted once, at its own
 * size; claims kept after a scale-down still count.
 */
function storageDemand(objects: readonly QuotaObject[]): number {
  const claims = new Map<string, QuotaObject>();
  for (const o of objects) if (o.kind === "PersistentVolumeClaim") claims.set(`${o.namespace}/${o.name}`, o);
  const sets = objects.filter((o) => o.kind === "StatefulSet").map(claimSetOf);
  let bytes = 0;
  for (const set of sets) for (const t of set.templates) bytes += set.replicas * t.bytes;
  for (const claim of claims.values()) {
    bytes += storageOf(claim.spec);
    // The claim stands in for the one its StatefulSet implies: take that one back out.
    for (const set of sets) {
      const implied = impliedBytes(set, claim.namespace, claim.name);
      if (implied === undefined) continue;
      bytes -= implied;
      break;
    }
  }
  return bytes;
}

/** A tenant's steady-state demand: what its desired objects run and claim once every rollout is done. */
export function steadyState(objects: readonly QuotaObject[]): Usage {
  const total = objects.reduce((sum, o) => add(sum, podDemand(o)), ZERO_USAGE);
  return { ...total, storageBytes: storageDemand(objects) };
}

/**
 * The resources a change would take over the quota. A resource is violated only
 * when the change raises it above its limit: a change that keeps or lowers usage
 * is always allowed, even over a quota lowered since.
 */
export function checkQuota(hard: QuotaLimits, before: Usage, after: Usage): Violation[] {
  const violations: Violation[] = [];
  for (const r of RESOURCES) {
    const limit = hard[r.key];
    if (limit === undefined) continue;
    if (after[r.key] > limit && after[r.key] > before[r.key]) {
      violations.push({ resource: r.name, hard: limit, before: before[r.key], after: after[r.key] });
    }
  }
  return violations;
}

const FORMAT: Record<QuotaResource, (n: number) => string> = {
  cpu: formatCpuQuantity,
  memory: formatBytesQuantity,
  pods: String,
  storage: formatBytesQuantity,
};
const formatOf = (resource: QuotaResource) => FORMAT[resource];

/** The answer to a refused apply, with the numbers of every violated resource. */
export function quotaMessage(violations: readonly Violation[]): string {
  const parts = violations.map((v) => {
    const f = formatOf(v.resource);
    return `${v.resource}: the steady state after this change needs ${f(v.after)} (now ${f(v.before)}), the tenant's quota is ${f(v.hard)}`;
  });
  return `exceeded quota: ${parts.join("; ")}`;
}

/** The pod-level refusal, worded as Kubernetes words it: requested, used and limited per violated resource. */
export function podQuotaMessage(violations: readonly Violation[]): string {
  const list = (amount: (v: Violation) => number) =>
    violations.map((v) => `${v.resource}=${formatOf(v.resource)(amount(v))}`).join(",");
  return `exceeded quota: requested: ${list((v) => v.after - v.before)}, used: ${list((v) => v.before)}, limited: ${list((v) => v.hard)}`;
}

/** Whether one more pod with these requests fits beside the tenant's live pods; answers the violations if not. */
export function fitsQuota(
  hard: QuotaLimits,
  usage: PodUsage,
  requests: { cpuMillis: number; memoryBytes: number },
): Violation[] {
  const before = { ...usage, storageBytes: 0 };
  return checkQuota(hard, before, add(before, { ...requests, pods: 1 }));
}

/** A controller's view of its tenant's quota: the limits and what the live pods take now. */
export interface QuotaHeadroom {
  hard: QuotaLimits;
  used: PodUsage;
}

/**
 * How many of `wanted` pods with these requests a controller may create, and,
 * when not all, why the next one is refused (the `FailedCreate` message).
 */
export function quotaAllowance(
  headroom: QuotaHeadroom | undefined,
  requests: { cpuMillis: number; memoryBytes: number },
  wanted: number,
  generateName: string,
): { allowed: number; refusal?: string } {
  if (!headroom || wanted <= 0) return { allowed: Math.max(0, wanted) };
  const { hard, used } = headroom;
  const perPod = { pods: 1, ...requests };
  let allowed = wanted;
  for (const key of ["pods", "cpuMillis", "memoryBytes"] as const) {
    const limit = hard[key];
    if (limit === undefined || perPod[key] === 0) continue;
    allowed = Math.min(allowed, Math.max(0, Math.floor((limit - used[key]) / perPod[key])));
  }
  if (allowed === wanted) return { allowed };
  const after = {
    pods: used.pods + allowed,
    cpuMillis: used.cpuMillis + allowed * requests.cpuMillis,
    memoryBytes: used.memoryBytes + allowed * requests.memoryBytes,
  };
  const refusal = `pods "${generateName}" is forbidden: ${podQuotaMessage(fitsQuota(hard, after, requests))}`;
  return { allowed, refusal };
}

export interface ReplicaFailureCondition {
  type: "ReplicaFailure";
  status: "True";
  reason: "FailedCreate";
  message: string;
  lastTransitionTime: string;
}

/**
 * The `ReplicaFailure` condition a ReplicaSet carries while quota refuses its
 * pods, keeping its first time; gone (undefined) once they could be created.
 */
export function replicaFailure(
  status: Json,
  refusal: string | undefined,
  nowMs: number,
): ReplicaFailureCondition | undefined {
  if (refusal === undefined) return undefined;
  const previous = (status.conditions as { type?: string; lastTransitionTime?: string }[] | undefined)?.find(
    (c) => c.type === "ReplicaFailure",
  );
  const since = previous?.lastTransitionTime ?? new Date(nowMs).toISOString();
  return {
    type: "ReplicaFailure",
    status: "True",
    reason: "FailedCreate",
    message: refusal,
    lastTransitionTime: since,
  };
}
