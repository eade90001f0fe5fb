import { readFile } from "node:fs/promises";
import { dirname, resolve } from "node:path";
import { parse as parseYaml } from "yaml";
import { z } from "zod";
import { cpuMillis, isQuantity, memoryBytes } from "../core/quantity.js";
import { type ExpandedManifest, parseManifests } from "../manifest/index.js";
import { parseDurationMs } from "./duration.js";

/**
 * Scenario files: the cluster, the manifests, a timeline of faults and changes,
 * how long to run, and what must hold. Validated with zod; every error names the
 * path of the offending field (`timeline[2].partitionNode.for: …`). Manifests are
 * parsed here too, by the production parser, so a bad manifest is refused before
 * anything runs.
 */

/** How long after the faults stop every workload must have been reconciled, unless the scenario says (`quiet:`). */
export const DEFAULT_QUIET_MS = 2 * 60_000;

/** Bounds on a scenario, so that no file can ask for a run that never ends. */
export const SCENARIO_LIMITS = {
  maxDurationMs: 30 * 86_400_000,
  maxNodes: 10_000,
  maxEvents: 10_000,
} as const;

const duration = (what = "a duration") =>
  z.union([z.number(), z.string()]).transform((value, ctx) => {
    const ms = parseDurationMs(value);
    if (ms === undefined) {
      ctx.addIssue({
        code: "custom",
        message: `expected ${what} like 500ms, 40s, 2m or 1h30m (a bare number counts seconds), got ${JSON.stringify(value)}`,
      });
      return z.NEVER;
    }
    return ms;
  });

const quantity = (kind: "cpu" | "memory") =>
  z.union([z.number(), z.string()]).transform((value, ctx) => {
    if (!isQuantity(value)) {
      ctx.addIssue({
        code: "custom",
        message: `expected a ${kind} quantity like ${kind === "cpu" ? "4 or 500m" : "8Gi or 512Mi"}, got ${JSON.stringify(value)}`,
      });
      return z.NEVER;
    }
    return kind === "cpu" ? cpuMillis(value) : memoryBytes(value);
  });

const name = z.string().regex(/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/, "expected a lowercase DNS label (a-z, 0-9, -)");

const Pool = z
  .strictObject({
    name,
    count: z.number().int().min(0).max(SCENARIO_LIMITS.maxNodes),
    cpu: quantity("cpu"),
    memory: quantity("memory"),
    maxPods: z.number().int().min(1).max(10_000).optional(),
    /** Every node of the pool in this zone. */
    zone: z.string().min(1).optional(),
    /** The pool's nodes dealt round-robin over these zones (zone-a, zone-b, zone-c when neither is given). */
    zones: z.array(z.string().min(1)).min(1).optional(),
    /** The production node autoscaler grows and shrinks the pool between these node counts. */
    autoscale: z
      .strictObject({
        min: z.number().int().min(0).max(SCENARIO_LIMITS.maxNodes),
        max: z.number().int().min(0).max(SCENARIO_LIMITS.maxNodes),
      })
      .refine((a) => a.min <= a.max, { message: "min must not exceed max", path: ["max"] })
      .optional(),
  })
  .refine((p) => !(p.zone && p.zones), { message: "give zone or zones, not both", path: ["zones"] })
  .refine((p) => !p.autoscale || p.count <= p.autoscale.max, {
    message: "count must not exceed autoscale.max",
    path: ["count"],
  });

const ManifestSource = z.union(
  [z.string().min(1), z.strictObject({ file: z.string().min(1) }), z.strictObject({ inline: z.string().min(1) })],
  {
    error: "expected a file path, inline YAML, { file: PATH } or { inline: YAML }",
  },
);

const NodeSelector = z.union(
  [
    z.literal("random"),
    z.strictObject({ name: z.string().min(1) }),
    z.strictObject({ pool: z.string().min(1), index: z.number().int().min(1).optional() }),
  ],
  {
    error:
      'expected "random", { name: NODE }, or { pool: POOL, index: N } (index from 1; without it, a random node of the pool)',
  },
);

const ProbeBehaviour = z.union(
  [
    z.enum(["pass", "fail"]),
    z.strictObject({ failAfter: duration() }).transform((b) => ({ failAfterMs: b.failAfter })),
    z.strictObject({ passAfter: duration() }).transform((b) => ({ passAfterMs: b.passAfter })),
    z.strictObject({ failRate: z.number().min(0).max(1) }),
  ],
  { error: "expected pass, fail, { failAfter: DURATION }, { passAfter: DURATION } or { failRate: 0..1 }" },
);

const LatencyRange = z
  .strictObject({ min: duration(), max: duration() })
  .refine((r) => r.min <= r.max, { message: "min must not exceed max", path: ["max"] });

/** What an image does when it runs (the simulated provider's `ImageBehaviour`, with durations). */
const Image = z.strictObject({
  readiness: ProbeBehaviour.optional(),
  liveness: ProbeBehaviour.optional(),
  startup: ProbeBehaviour.optional(),
  crashAfter: duration().optional(),
  exitCode: z.number().int().min(0).max(255).optional(),
  startLatency: LatencyRange.optional(),
});

const CrashLoop = z.union(
  [z.string().min(1), z.strictObject({ image: z.string().min(1), after: duration().optional() })],
  {
    error: "expected an image, or { image: IMAGE, after: DURATION }",
  },
);

/** Every image pull on the node (all nodes when `node` is absent) takes `pull`, for the event's `for:` window. */
const SlowPulls = z.union(
  [duration().transform((pull) => ({ pull })), z.strictObject({ pull: duration(), node: NodeSelector.optional() })],
  { error: "expected a pull duration, or { pull: DURATION, node: NODE } (every node when node is absent)" },
);

const ACTIONS = [
  "crashNode",
  "crashZone",
  "partitionNode",
  "crashLoopImage",
  "drainNode",
  "slowImagePulls",
  "apply",
  "scale",
  "addNodes",
] as const;
export type ActionName = (typeof ACTIONS)[number];
/** Actions that are faults (or, for a drain, voluntary disruptions): recovery is measured after each of them. */
export const FAULTS: ReadonlySet<ActionName> = new Set([
  "crashNode",
  "crashZone",
  "partitionNode",
  "crashLoopImage",
  "drainNode",
  "slowImagePulls",
]);
/** Actions that last a while: `for:` bounds them (absent: to the end of the run). */
const LASTING: ReadonlySet<ActionName> = new Set(["partitionNode", "crashLoopImage", "slowImagePulls"]);

const Event = z
  .strictObject({
    at: duration(),
    crashNode: NodeSelector.optional(),
    crashZone: z.string().min(1).optional(),
    partitionNode: NodeSelector.optional(),
    crashLoopImage: CrashLoop.optional(),
    /** Cordon the node and evict its pods, as the operator's drain does. */
    drainNode: NodeSelector.optional(),
    slowImagePulls: SlowPulls.optional(),
    apply: z.union([ManifestSource, z.array(ManifestSource).min(1)]).optional(),
    scale: z.strictObject({ workload: z.string().min(1), replicas: z.number().int().min(0).max(100_000) }).optional(),
    addNodes: z
      .strictObject({ pool: z.string().min(1), count: z.number().int().min(1).max(SCENARIO_LIMITS.maxNodes) })
      .optional(),
    /** How long a partition, a crash loop or slow pulls last; absent: to the end of the run. */
    for: duration().optional(),
  })
  .superRefine((event, ctx) => {
    const actions = ACTIONS.filter((a) => event[a] !== undefined);
    if (actions.length !== 1) {
      ctx.addIssue({
        code: "custom",
        message:
          actions.length === 0
            ? `expected one action: ${ACTIONS.join(", ")}`
            : `expected one action per event, got ${actions.join(" and ")}; give each its own event`,
      });
    }
    if (event.for !== undefined && !actions.every((a) => LASTING.has(a))) {
      ctx.addIssue({
        code: "custom",
        message: `for: applies to ${[...LASTING].join(", ")} only`,
        path: ["for"],
      });
    }
  });

const MinReady = z.strictObject({
  workload: z.string().min(1),
  atLeast: z.number().int().min(0),
  /** The share of the run (from the moment the workload first had `atLeast` Ready) it must keep them. */
  forFraction: z.number().gt(0).max(1).default(1),
});

const FinalState = z.union([
  z.number().int().min(0),
  z.strictObject({ ready: z.number().int().min(0).optional(), image: z.string().min(1).optional() }),
]);

const Platform = z.strictObject({
  heartbeat: duration().optional(),
  nodeGracePeriod: duration().optional(),
  nodeMonitor: duration().optional(),
  probeTick: duration().optional(),
  resync: duration().optional(),
  outboxPoll: duration().optional(),
  unschedulableRetry: duration().optional(),
  /** The node autoscaler's timings, for pools with `autoscale` (production defaults otherwise). */
  autoscaler: z
    .strictObject({
      interval: duration().optional(),
      scaleUpCooldown: duration().optional(),
      scaleDownUnneeded: duration().optional(),
      scaleDownUtilization: z.number().gt(0).max(1).optional(),
      drainTimeout: duration().optional(),
    })
    .optional(),
});

const Limits = z.strictObject({
  maxSteps: z.number().int().min(1).max(100_000_000).optional(),
  maxStepsPerInstant: z.number().int().min(1).max(1_000_000).optional(),
  maxStoreCallsPerInstant: z.number().int().min(1).max(100_000_000).optional(),
});

/** Swarm mode: each seed adds its own random schedule of node faults, within these bounds. */
const SWARM_KINDS = ["crashNode", "partitionNode", "crashZone", "drainNode"] as const;
const Swarm = z
  .strictObject({
    /** At most this many faults per run (at least one). */
    faults: z.number().int().min(1).max(50).default(3),
    kinds: z.array(z.enum(SWARM_KINDS)).min(1).default(["crashNode", "partitionNode"]),
    /** When faults may strike; `to` defaults to three quarters of the duration. */
    from: duration().default(0),
    to: duration().optional(),
    partitionFor: LatencyRange.default({ min: 10_000, max: 60_000 }),
  })
  .refine((s) => s.to === undefined || s.from <= s.to, { message: "from must not be after to", path: ["to"] });

const ScenarioFile = z.strictObject({
  name: z.string().min(1).optional(),
  description: z.string().optional(),
  seed: z.union([z.number().int(), z.string().min(1)]).optional(),
  cluster: z.strictObject({
    pools: z.array(Pool).min(1),
    startLatency: LatencyRange.optional(),
  }),
  images: z.record(z.string().min(1), Image).optional(),
  platform: Platform.optional(),
  manifests: z.array(ManifestSource).default([]),
  timeline: z.array(Event).max(SCENARIO_LIMITS.maxEvents).default([]),
  duration: duration(),
  /** How long after the last fault stops every workload must be reconciled (the liveness invariant). */
  quiet: duration().optional(),
  assertions: z
    .strictObject({
      minReady: z.union([MinReady, z.array(MinReady)]).optional(),
      recoversWithin: duration().optional(),
      final: z.record(z.string().min(1), FinalState).optional(),
    })
    .default({}),
  limits: Limits.optional(),
  swarm: Swarm.optional(),
});

type ParsedFile = z.output<typeof ScenarioFile>;
type ParsedEvent = z.output<typeof Event>;

/** A manifest file or inline text, parsed: where it came from (for messages) and its objects. */
export interface ManifestSet {
  source: string;
  manifests: ExpandedManifest[];
}

export type NodeTarget = z.output<typeof NodeSelector>;
export type ImageSpec = z.output<typeof Image>;

export type TimelineAction =
  | { type: "crashNode"; node: NodeTarget }
  | { type: "crashZone"; zone: string }
  | { type: "partitionNode"; node: NodeTarget; forMs?: number }
  | { type: "crashLoopImage"; image: string; afterMs: number; forMs?: number }
  | { type: "drainNode"; node: NodeTarget }
  /** `node` absent: every node, those added later included. */
  | { type: "slowImagePulls"; pullMs: number; node?: NodeTarget; forMs?: number }
  | { type: "apply"; sets: ManifestSet[] }
  | { type: "scale"; workload: string; replicas: number }
  | { type: "addNodes"; pool: string; count: number };

export interface TimelineEvent {
  /** Index in the file's timeline, to name it in reports. */
  index: number;
  atMs: number;
  action: TimelineAction;
}

export interface PoolSpec {
  name: string;
  count: number;
  cpuMillis: number;
  memoryBytes: number;
  maxPods?: number;
  zones: string[];
  autoscale?: { min: number; max: number };
}

export interface Scenario {
  name: string;
  seed?: string | number;
  pools: PoolSpec[];
  startLatencyMs?: { min: number; max: number };
  images: Record<string, ImageSpec>;
  platform: z.output<typeof Platform>;
  manifests: ManifestSet[];
  timeline: TimelineEvent[];
  durationMs: number;
  /** See `liveness.ts`: the liveness invariant is judged this long after the faults stop. */
  quietMs: number;
  assertions: {
    minReady: z.output<typeof MinReady>[];
    recoversWithinMs?: number;
    final: Record<string, { ready?: number; image?: string }>;
  };
  limits: z.output<typeof Limits>;
  swarm?: SwarmSpec;
}

export interface SwarmSpec {
  faults: number;
  kinds: (typeof SWARM_KINDS)[number][];
  fromMs: number;
  toMs: number;
  partitionForMs: { min: number; max: number };
}

export class ScenarioError extends Error {
  constructor(
    readonly source: string,
    readonly problems: string[],
  ) {
    super(`${source}: ${problems.length === 1 ? problems[0] : `\n  ${problems.join("\n  ")}`}`);
    this.name = "ScenarioError";
  }
}

/** `timeline[2].partitionNode.for`: a zod path as the file spells it. */
function pathOf(path: readonly PropertyKey[]): string {
  return path.reduce<string>((text, part) => {
    if (typeof part === "number") return `${text}[${part}]`;
    return text === "" ? String(part) : `${text}.${String(part)}`;
  }, "");
}

/** Reads a file's text; injected so tests and tenants' uploads need no file system. */
export type ReadText = (path: string) => Promise<string>;

const readText: ReadText = (path) => readFile(path, "utf8");

/** Loads, validates and resolves a scenario file (manifest paths relative to the file). */
export async function loadScenarioFile(path: string, read: ReadText = readText): Promise<Scenario> {
  let text: string;
  try {
    text = await read(path);
  } catch (error) {
    throw new ScenarioError(path, [`cannot read the scenario: ${error instanceof Error ? error.message : error}`]);
  }
  return parseScenario(text, path, (file) => read(resolve(dirname(path), file)));
}

/** Validates a scenario's YAML text; `source` names it in messages, `read` fetches manifest files it names. */
export async function parseScenario(text: string, source: string, read: ReadText): Promise<Scenario> {
  let document: unknown;
  try {
    document = parseYaml(text);
  } catch (error) {
    throw new ScenarioError(source, [`not valid YAML: ${error instanceof Error ? error.message : error}`]);
  }
  const parsed = ScenarioFile.safeParse(document ?? {});
  if (!parsed.success) {
    throw new ScenarioError(
      source,
      parsed.error.issues.map((issue) => `${pathOf(issue.path) || "(top level)"}: ${issue.message}`),
    );
  }
  const file = parsed.data;
  const problems: string[] = [];
  const manifests = await loadSets(file.manifests, "manifests", read, problems);
  const timeline: TimelineEvent[] = [];
  for (const [index, event] of file.timeline.entries()) {
    const action = await actionOf(event, `timeline[${index}]`, read, problems);
    if (action) timeline.push({ index, atMs: event.at, action });
  }
  checkReferences(file, problems);
  if (file.duration > SCENARIO_LIMITS.maxDurationMs || file.duration <= 0) {
    problems.push(`duration: must be more than 0 and at most ${SCENARIO_LIMITS.maxDurationMs / 86_400_000} days`);
  }
  if (problems.length > 0) throw new ScenarioError(source, problems);
  // Stable: events at the same time keep the file's order.
  timeline.sort((a, b) => a.atMs - b.atMs || a.index - b.index);
  return {
    name: file.name ?? source.replace(/^.*\//, "").replace(/\.ya?ml$/, ""),
    ...(file.seed !== undefined ? { seed: file.seed } : {}),
    pools: file.cluster.pools.map((p) => ({
      name: p.name,
      count: p.count,
      cpuMillis: p.cpu,
      memoryBytes: p.memory,
      ...(p.maxPods ? { maxPods: p.maxPods } : {}),
      zones: p.zones ?? (p.zone ? [p.zone] : ["zone-a", "zone-b", "zone-c"]),
      ...(p.autoscale ? { autoscale: p.autoscale } : {}),
    })),
    ...(file.cluster.startLatency ? { startLatencyMs: file.cluster.startLatency } : {}),
    images: file.images ?? {},
    platform: file.platform ?? {},
    manifests,
    timeline,
    durationMs: file.duration,
    quietMs: file.quiet ?? DEFAULT_QUIET_MS,
    assertions: {
      minReady: file.assertions.minReady === undefined ? [] : [file.assertions.minReady].flat(),
      ...(file.assertions.recoversWithin !== undefined ? { recoversWithinMs: file.assertions.recoversWithin } : {}),
      final: Object.fromEntries(
        Object.entries(file.assertions.final ?? {}).map(([w, f]) => [w, typeof f === "number" ? { ready: f } : f]),
      ),
    },
    limits: file.limits ?? {},
    ...(file.swarm
      ? {
          swarm: {
            faults: file.swarm.faults,
            kinds: file.swarm.kinds,
            fromMs: file.swarm.from,
            toMs: Math.min(file.swarm.to ?? Math.floor(file.duration * 0.75), file.duration),
            partitionForMs: file.swarm.partitionFor,
          },
        }
      : {}),
  };
}

async function actionOf(
  event: ParsedEvent,
  path: string,
  read: ReadText,
  problems: string[],
): Promise<TimelineAction | undefined> {
  const forMs = event.for !== undefined ? { forMs: event.for } : {};
  if (event.crashNode !== undefined) return { type: "crashNode", node: event.crashNode };
  if (event.crashZone !== undefined) return { type: "crashZone", zone: event.crashZone };
  if (event.partitionNode !== undefined) return { type: "partitionNode", node: event.partitionNode, ...forMs };
  if (event.crashLoopImage !== undefined) {
    const spec = typeof event.crashLoopImage === "string" ? { image: event.crashLoopImage } : event.crashLoopImage;
    return { type: "crashLoopImage", image: spec.image, afterMs: spec.after ?? 2_000, ...forMs };
  }
  if (event.drainNode !== undefined) return { type: "drainNode", node: event.drainNode };
  if (event.slowImagePulls !== undefined) {
    const { pull, node } = event.slowImagePulls as { pull: number; node?: NodeTarget };
    return { type: "slowImagePulls", pullMs: pull, ...(node !== undefined ? { node } : {}), ...forMs };
  }
  if (event.scale !== undefined) return { type: "scale", ...event.scale };
  if (event.addNodes !== undefined) return { type: "addNodes", ...event.addNodes };
  if (event.apply !== undefined) {
    const sets = await loadSets([event.apply].flat(), `${path}.apply`, read, problems);
    return { type: "apply", sets };
  }
  return undefined;
}

/** A plain string is a file when it is one line ending in .yaml, .yml or .json; else inline YAML. */
function isFilePath(text: string): boolean {
  return !text.includes("\n") && /\.(ya?ml|json)$/i.test(text.trim());
}

async function loadSets(
  sources: z.output<typeof ManifestSource>[],
  path: string,
  read: ReadText,
  problems: string[],
): Promise<ManifestSet[]> {
  const sets: ManifestSet[] = [];
  for (const [i, source] of sources.entries()) {
    const at = sources.length === 1 && !path.startsWith("manifests") ? path : `${path}[${i}]`;
    const file =
      typeof source === "string"
        ? isFilePath(source)
          ? source
          : undefined
        : "file" in source
          ? source.file
          : undefined;
    const inline =
      typeof source === "string" ? (file ? undefined : source) : "inline" in source ? source.inline : undefined;
    let text = inline ?? "";
    if (file !== undefined) {
      try {
        text = await read(file);
      } catch (error) {
        problems.push(`${at}: cannot read ${file}: ${error instanceof Error ? error.message : error}`);
        continue;
      }
    }
    const label = file ?? `${at} (inline)`;
    const parsed = parseManifests(text, file?.endsWith(".json") ? "json" : "yaml");
    if (!parsed.ok) {
      for (const e of parsed.errors) {
        const doc = e.document !== undefined ? ` document ${e.document}` : "";
        problems.push(`${at} (${label}${doc}): ${e.path ? `${e.path}: ` : ""}${e.message}`);
      }
      continue;
    }
    sets.push({ source: label, manifests: parsed.manifests });
  }
  return sets;
}

/** Pools named by events must exist; `final` and `minReady` name workloads the run will look for. */
function checkReferences(file: ParsedFile, problems: string[]): void {
  const pools = new Set(file.cluster.pools.map((p) => p.name));
  if (pools.size !== file.cluster.pools.length) problems.push("cluster.pools: pool names must be unique");
  const total = file.cluster.pools.reduce((n, p) => n + Math.max(p.count, p.autoscale?.max ?? 0), 0);
  if (total > SCENARIO_LIMITS.maxNodes)
    problems.push(`cluster.pools: at most ${SCENARIO_LIMITS.maxNodes} nodes in all`);
  for (const [i, event] of file.timeline.entries()) {
    const targets = {
      crashNode: event.crashNode,
      partitionNode: event.partitionNode,
      drainNode: event.drainNode,
      "slowImagePulls.node": (event.slowImagePulls as { node?: NodeTarget } | undefined)?.node,
    };
    for (const [field, target] of Object.entries(targets)) {
      if (target && typeof target === "object" && "pool" in target && !pools.has(target.pool)) {
        problems.push(`timeline[${i}].${field}.pool: no pool named ${target.pool} in cluster.pools`);
      }
    }
    if (event.addNodes && !pools.has(event.addNodes.pool)) {
      problems.push(`timeline[${i}].addNodes.pool: no pool named ${event.addNodes.pool} in cluster.pools`);
    }
  }
}
