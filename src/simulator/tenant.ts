import { parse as parseYaml, stringify as stringifyYaml } from "yaml";
import { parseScenario, type Scenario, ScenarioError } from "./scenario.js";

/**
 * Scenarios sent by tenants (`POST /v1/simulations`): the file format of `kubernease simulate`,
 * with everything inline (no file is ever read on a tenant's behalf), bounded in size, and run on
 * the operator's node pool shape unless the tenant describes a hypothetical cluster of its own —
 * never on the platform's nodes. The result is the scenario as YAML text with the bounds written
 * into its `limits`, ready for the bounded runner.
 */
export const TENANT_SCENARIO_LIMITS = {
  maxNodes: 500,
  maxDurationMs: 24 * 3_600_000,
  maxTimelineEvents: 200,
  maxSteps: 2_000_000,
} as const;

/** A node pool as a scenario file spells it (`{ name, count, cpu, memory, zones }`). */
export type PoolShape = Record<string, unknown>;

/** The pool shape simulations run on when neither the operator nor the tenant gives one. */
export const DEFAULT_SIMULATION_POOLS: PoolShape[] = [
  { name: "general", count: 6, cpu: 4, memory: "8Gi", zones: ["zone-a", "zone-b", "zone-c"] },
];

const SOURCE = "scenario.yaml";

export interface TenantScenario {
  scenario: Scenario;
  /** The scenario to run, as YAML, with the cluster filled in and the limits applied. */
  text: string;
}

/** Validates a tenant's scenario; a `ScenarioError` lists every problem with the path of its field. */
export async function parseTenantScenario(text: string, operatorPools: PoolShape[]): Promise<TenantScenario> {
  let document: unknown;
  try {
    document = parseYaml(text, { maxAliasCount: 100 });
  } catch (error) {
    throw new ScenarioError(SOURCE, [`not valid YAML or JSON: ${error instanceof Error ? error.message : error}`]);
  }
  if (typeof document !== "object" || document === null || Array.isArray(document)) {
    throw new ScenarioError(SOURCE, ["(top level): expected a scenario: an object with manifests, timeline, duration"]);
  }
  const file = { ...(document as Record<string, unknown>) };
  file.cluster ??= { pools: operatorPools };
  const limits = (typeof file.limits === "object" && file.limits !== null ? file.limits : {}) as Record<
    string,
    unknown
  >;
  const steps = typeof limits.maxSteps === "number" ? limits.maxSteps : TENANT_SCENARIO_LIMITS.maxSteps;
  file.limits = { ...limits, maxSteps: Math.min(steps, TENANT_SCENARIO_LIMITS.maxSteps) };
  const normalized = stringifyYaml(file);
  const scenario = await parseScenario(normalized, SOURCE, async (path) => {
    throw new Error(`${path} is a file path; a simulation sent over the API holds its manifests inline`);
  });
  const problems: string[] = [];
  const added = scenario.timeline.reduce((n, e) => n + (e.action.type === "addNodes" ? e.action.count : 0), 0);
  // A pool that autoscales may grow to its max.
  const nodes = scenario.pools.reduce((n, p) => n + Math.max(p.count, p.autoscale?.max ?? 0), added);
  if (nodes > TENANT_SCENARIO_LIMITS.maxNodes) {
    problems.push(
      `cluster.pools: a simulation holds at most ${TENANT_SCENARIO_LIMITS.maxNodes} machines (addNodes and autoscale maxima included); this one asks for ${nodes}`,
    );
  }
  if (scenario.durationMs > TENANT_SCENARIO_LIMITS.maxDurationMs) {
    problems.push(`duration: at most ${TENANT_SCENARIO_LIMITS.maxDurationMs / 3_600_000}h per simulation`);
  }
  if (scenario.timeline.length > TENANT_SCENARIO_LIMITS.maxTimelineEvents) {
    problems.push(`timeline: at most ${TENANT_SCENARIO_LIMITS.maxTimelineEvents} events per simulation`);
  }
  if (problems.length > 0) throw new ScenarioError(SOURCE, problems);
  return { scenario, text: normalized };
}
