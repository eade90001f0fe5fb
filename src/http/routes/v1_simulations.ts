import type { Hono } from "hono";
import { ScenarioError } from "../../simulator/scenario.js";
import { DEFAULT_SIMULATION_POOLS, parseTenantScenario } from "../../simulator/tenant.js";
import { manifestFormat } from "../body.js";
import type { ApiDeps, AppEnv } from "../context.js";
import { ApiError } from "../errors.js";
import { DEFAULT_SIMULATION_LIMITS, SimulationRunner } from "../simulations.js";
import { tenantId } from "./shared.js";

const MAX_SCENARIO_BYTES = 1024 * 1024;

/**
 * `POST /v1/simulations[?seed=N]`: a tenant's "what happens if…". The body is a scenario in the
 * format of `kubernease simulate` (YAML or JSON, manifests inline); without a `cluster:` it runs on
 * the operator's node pool shape, never on the platform's nodes. It runs in a bounded child process
 * (src/http/simulations.ts) and the answer is the report, as `kubernease simulate --json` prints it:
 * 200 whether the scenario's assertions passed (`ok`) or not; 422 naming each field for a bad scenario
 * or one over the bounds; 429 when too many run at once.
 */
export function registerSimulations(app: Hono<AppEnv>, deps: ApiDeps): void {
  const runner = simulationRunner(deps);
  app.post("/v1/simulations", async (c) => {
    manifestFormat(c);
    const text = await c.req.text();
    const maxBytes = deps.maxBodyBytes ?? MAX_SCENARIO_BYTES;
    if (Buffer.byteLength(text) > maxBytes) {
      throw new ApiError("PAYLOAD_TOO_LARGE", `the scenario is larger than ${maxBytes} bytes`);
    }
    const seedParam = c.req.query("seed");
    if (seedParam !== undefined && !/^[A-Za-z0-9_.-]{1,64}$/.test(seedParam)) {
      throw new ApiError("BAD_REQUEST", "seed: up to 64 letters, digits, '.', '_' or '-'");
    }
    let scenario: Awaited<ReturnType<typeof parseTenantScenario>>;
    try {
      scenario = await parseTenantScenario(text, deps.simulations?.pools ?? DEFAULT_SIMULATION_POOLS);
    } catch (error) {
      if (!(error instanceof ScenarioError)) throw error;
      throw new ApiError("INVALID", `invalid scenario: ${error.problems.join("; ")}`, {
        causes: error.problems.map(fieldOf),
      });
    }
    const seed = seedParam ?? String(scenario.scenario.seed ?? deps.rng.int(1_000_000_000));
    return c.json(await runner.run(tenantId(c), scenario.text, seed));
  });
}

const runners = new WeakMap<ApiDeps, SimulationRunner>();

/** The API's one runner: simulations and dry runs' "survives" share its bounds. */
export function simulationRunner(deps: ApiDeps): SimulationRunner {
  let runner = runners.get(deps);
  if (!runner) {
    runner = new SimulationRunner({ ...DEFAULT_SIMULATION_LIMITS, ...deps.simulations?.limits }, deps.clock);
    runners.set(deps, runner);
  }
  return runner;
}

/** `timeline[2].partitionNode.for: expected …` → a cause naming that field. */
function fieldOf(problem: string): { reason: string; field: string; message: string } {
  const at = problem.indexOf(": ");
  const field = at < 0 ? "" : problem.slice(0, at).replace(/ \(.*$/, "");
  return /^[\w.[\]-]+$/.test(field)
    ? { reason: "FieldValueInvalid", field, message: problem.slice(at + 2) }
    : { reason: "FieldValueInvalid", field: "", message: problem };
}
