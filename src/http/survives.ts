import { cpuMillis, memoryBytes } from "../core/quantity.js";
import type { ExpandedManifest } from "../manifest/index.js";
import { type ReplicaRequests, type SurviveVerdict, surviveCases, surviveVerdict } from "../simulator/survive.js";
import { DEFAULT_SIMULATION_POOLS } from "../simulator/tenant.js";
import type { ApiDeps } from "./context.js";
import { simulationRunner } from "./routes/v1_simulations.js";

const WORKLOADS = new Set(["Deployment", "StatefulSet", "ReplicaSet", "DaemonSet", "ReplicationController"]);

/**
 * A dry run's "survives": the file, on the operator's node pool shape, losing one node and each
 * zone (src/simulator/survive.ts), simulated in one bounded child process; a verdict per fault.
 */
export async function survives(
  deps: ApiDeps,
  tenantId: string,
  text: string,
  manifests: ExpandedManifest[],
): Promise<SurviveVerdict[]> {
  const cases = surviveCases(text, deps.simulations?.pools ?? DEFAULT_SIMULATION_POOLS);
  const reports = await simulationRunner(deps).runBatch(
    tenantId,
    cases.map((c) => c.text),
    "survives",
  );
  if (reports.length !== cases.length) throw new Error(`${cases.length} survival cases gave ${reports.length} reports`);
  const requests = replicaRequests(manifests);
  return cases.map((c, i) => surviveVerdict(c.fault, reports[i] as (typeof reports)[number], requests));
}

/** What one replica of each workload of the file asks for, keyed `Kind/name`. */
function replicaRequests(manifests: ExpandedManifest[]): ReplicaRequests {
  const out: ReplicaRequests = {};
  for (const m of manifests) {
    if (!WORKLOADS.has(m.kind) || !("spec" in m)) continue;
    const spec = m.spec as { template?: { spec?: { containers?: unknown[] } } } | undefined;
    const template = spec?.template?.spec;
    let cpu = 0;
    let memory = 0;
    for (const c of (template?.containers ?? []) as { resources?: { requests?: Record<string, string | number> } }[]) {
      const requests = c.resources?.requests ?? {};
      if (requests.cpu !== undefined) cpu += cpuMillis(requests.cpu);
      if (requests.memory !== undefined) memory += memoryBytes(requests.memory);
    }
    out[`${m.kind}/${m.metadata.name}`] = { cpuMillis: cpu, memoryBytes: memory };
  }
  return out;
}
