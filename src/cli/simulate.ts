import { writeFile } from "node:fs/promises";
import { parseArgs } from "node:util";
import { randomSeed } from "../core/rng.js";
import { renderHtml } from "../simulator/html.js";
import { renderText, reproduceCommand, type SimulationReport } from "../simulator/report.js";
import { runScenario } from "../simulator/run.js";
import {
  loadScenarioFile,
  parseScenario,
  type Scenario,
  ScenarioError,
  type TimelineEvent,
} from "../simulator/scenario.js";
import { describeFault, parseFaultNumbers, shrinkFaults, swarmFaults, withFaults } from "../simulator/swarm.js";
import { SIMULATE_USAGE } from "./usage.js";

const HELP = `${SIMULATE_USAGE}

Runs a scenario (cluster, manifests, faults, assertions) in virtual time on the
production control plane and reports what happened. The same seed gives the
same run, byte for byte. Without --seed, the scenario's seed is used, else a
random one (printed first, so the run can be replayed). FILE - reads the
scenario from stdin (its manifests inline). A scenario with a swarm: section
adds, per seed, a random schedule of node faults within its bounds: swarm mode.

  --seed N      one run with this seed
  --seeds A..B  one run per seed from A to B (whole numbers); failures listed with their seeds
  --faults L    with a swarm: section, run only these faults of the seed's random schedule
                (numbers from 1, or none); a failing --seeds run prints the smallest such list
  --report F    also write the report as an HTML page with a plot of Ready replicas over time
                (with --seeds: the first failing run's, else the last run's)
  --json        the report as JSON on stdout, nothing else

Exit code: 0 when every run passed, 1 when an assertion or invariant failed, 2 for a bad scenario or usage.`;

const MAX_SEEDS = 10_000;

/** `kubernease simulate …`: its own flags, so it is dispatched before the other commands' parse. */
export async function simulate(argv: string[]): Promise<number> {
  let parsed: ReturnType<typeof parseFlags>;
  try {
    parsed = parseFlags(argv);
  } catch (error) {
    console.error(`${error instanceof Error ? error.message : String(error)}\n\nusage: ${SIMULATE_USAGE}`);
    return 2;
  }
  if (parsed.help) {
    console.log(HELP);
    return 0;
  }
  if (parsed.batch) return batch(parsed.seed);
  let scenario: Scenario;
  try {
    scenario =
      parsed.file === "-"
        ? await parseScenario(await readStdin(), "scenario.yaml", async (path) => {
            throw new Error(`${path}: a scenario read from stdin holds its manifests inline`);
          })
        : await loadScenarioFile(parsed.file);
  } catch (error) {
    if (!(error instanceof ScenarioError)) throw error;
    console.error(`invalid scenario ${error.message}`);
    return 2;
  }
  if (parsed.faults !== undefined && !scenario.swarm) {
    console.error(`--faults picks faults of a swarm schedule, and ${parsed.file} has no swarm: section`);
    return 2;
  }
  const seeds = parsed.seeds ?? [parsed.seed ?? (scenario.seed !== undefined ? String(scenario.seed) : randomSeed())];
  if (!parsed.json && seeds.length === 1) console.error(`seed: ${seeds[0]}`);
  /** One run; with a swarm: section, on the seed's random fault schedule (only the faults numbered in `keep`). */
  const runSeed = async (seed: string, keep?: number[]) => {
    const faults = swarmFaults(scenario, seed);
    const report = await runScenario(scenario.swarm ? withFaults(scenario, faults, keep) : scenario, {
      seed,
      source: parsed.file,
      onProgress: progressBar(scenario.name, seed),
    });
    clearProgress();
    if (keep) report.reproduce = `${reproduceCommand(parsed.file, seed)} --faults ${keep.join(",") || "none"}`;
    return { report, faults };
  };
  const reports: SimulationReport[] = [];
  const shrunk = new Map<string, Shrunk>();
  for (const seed of seeds) {
    let keep: number[] | undefined;
    if (parsed.faults !== undefined) {
      try {
        keep = parseFaultNumbers(parsed.faults, swarmFaults(scenario, seed).length);
      } catch (error) {
        console.error(error instanceof Error ? error.message : String(error));
        return 2;
      }
    }
    const { report, faults } = await runSeed(seed, keep);
    reports.push(report);
    if (!parsed.json && seeds.length > 1)
      console.log(`seed ${seed}: ${report.ok ? "pass" : `FAIL  ${report.reproduce}`}`);
    if (report.ok || !scenario.swarm || seeds.length === 1 || keep) continue;
    // Swarm mode: the smallest schedule of this seed's faults that still fails.
    const all = faults.map((_, i) => i + 1);
    const smallest = await shrinkFaults(all, async (subset) => !(await runSeed(seed, subset)).report.ok);
    const found: Shrunk = {
      faults: smallest.map((n) => `#${n} ${describeFault(faults[n - 1] as TimelineEvent)}`),
      of: faults.length,
      reproduce: `${reproduceCommand(parsed.file, seed)} --faults ${smallest.join(",") || "none"}`,
    };
    shrunk.set(seed, found);
    if (!parsed.json) console.log(`  shrunk to ${smallest.length} of ${faults.length} faults: ${found.reproduce}`);
  }
  const failed = reports.filter((r) => !r.ok);
  if (parsed.report !== undefined) {
    await writeFile(parsed.report, renderHtml(failed[0] ?? (reports.at(-1) as SimulationReport)));
    if (!parsed.json) console.error(`report: ${parsed.report}`);
  }
  if (parsed.json) {
    const out = seeds.length === 1 ? reports[0] : swarmSummary(scenario, reports, shrunk);
    process.stdout.write(`${JSON.stringify(out, null, 2)}\n`);
  } else if (seeds.length === 1) {
    console.log(renderText(reports[0] as SimulationReport));
  } else {
    console.log(`${reports.length - failed.length} of ${reports.length} seeds passed`);
    for (const r of failed) {
      console.log(`  seed ${r.seed}: ${firstProblem(r)}\n    ${r.reproduce}`);
      const small = shrunk.get(r.seed);
      if (small)
        console.log(
          `    fails with ${small.faults.length} of ${small.of} faults: ${small.faults.join("; ") || "(none: not the faults)"}\n    ${small.reproduce}`,
        );
    }
  }
  return failed.length > 0 ? 1 : 0;
}

function parseFlags(argv: string[]) {
  const { values, positionals } = parseArgs({
    args: argv,
    options: {
      seed: { type: "string" },
      seeds: { type: "string" },
      json: { type: "boolean" },
      report: { type: "string" },
      faults: { type: "string" },
      batch: { type: "boolean" },
      help: { type: "boolean", short: "h" },
    },
    allowPositionals: true,
    strict: true,
  });
  if (values.help) return { help: true, file: "", json: false } as const;
  if (positionals.length !== 1) throw new Error("simulate takes one scenario file");
  if (values.seed !== undefined && values.seeds !== undefined) throw new Error("give --seed or --seeds, not both");
  if (values.batch && (positionals[0] !== "-" || values.seed === undefined || !values.json)) {
    throw new Error("--batch reads a JSON list of scenarios from stdin: simulate - --batch --seed N --json");
  }
  return {
    help: false,
    file: positionals[0] as string,
    json: values.json ?? false,
    report: values.report,
    faults: values.faults,
    batch: values.batch ?? false,
    seed: values.seed,
    seeds: values.seeds === undefined ? undefined : seedRange(values.seeds),
  } as const;
}

function seedRange(text: string): string[] {
  const match = /^(\d+)\.\.(\d+)$/.exec(text.trim());
  if (!match) throw new Error(`--seeds takes a range of whole numbers like 1..500, not "${text}"`);
  const from = Number(match[1]);
  const to = Number(match[2]);
  if (to < from) throw new Error(`--seeds ${text}: the range is empty`);
  if (to - from + 1 > MAX_SEEDS) throw new Error(`--seeds ${text}: at most ${MAX_SEEDS} seeds at once`);
  return Array.from({ length: to - from + 1 }, (_, i) => String(from + i));
}

/** A failing swarm schedule shrunk: the faults it still fails with, of how many, and the command that replays that. */
interface Shrunk {
  faults: string[];
  of: number;
  reproduce: string;
}

function swarmSummary(scenario: Scenario, reports: SimulationReport[], shrunk: Map<string, Shrunk>) {
  const failed = reports.filter((r) => !r.ok);
  return {
    scenario: scenario.name,
    seeds: reports.map((r) => r.seed),
    passed: reports.length - failed.length,
    failed: failed.map((r) => ({
      seed: r.seed,
      problem: firstProblem(r),
      reproduce: r.reproduce,
      ...(shrunk.has(r.seed) ? { shrunk: shrunk.get(r.seed) } : {}),
    })),
    reports,
  };
}

function firstProblem(report: SimulationReport): string {
  if (report.violations[0]) return `${report.violations[0].invariant}: ${report.violations[0].message}`;
  if (report.stopped) return `${report.stopped.reason}: ${report.stopped.message.split("\n")[0]}`;
  const failed = report.assertions.find((a) => !a.ok);
  return failed ? `${failed.assertion}: ${failed.detail}` : "failed";
}

/** A one-line progress bar on stderr, only on a terminal, redrawn at most once per percent of virtual time. */
function progressBar(name: string, seed: string): ((elapsedMs: number, durationMs: number) => void) | undefined {
  if (!process.stderr.isTTY) return undefined;
  let shown = -1;
  return (elapsedMs, durationMs) => {
    const pct = Math.floor((100 * elapsedMs) / durationMs);
    if (pct === shown) return;
    shown = pct;
    const bar = "#".repeat(Math.floor(pct / 5)).padEnd(20, ".");
    process.stderr.write(`\r${name} seed ${seed} [${bar}] ${pct}%`);
  };
}

function clearProgress(): void {
  if (process.stderr.isTTY) process.stderr.write("\r\u001b[2K");
}

/** The scenario of `simulate -`: stdin, bounded (16 MiB). */
async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of process.stdin) {
    size += (chunk as Buffer).length;
    if (size > 16 * 1024 * 1024) throw new ScenarioError("stdin", ["the scenario is larger than 16 MiB"]);
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks).toString("utf8");
}

/**
 * `simulate - --batch --seed N --json`: a JSON list of scenario texts on stdin (manifests inline), each
 * run with the seed; their reports as one JSON list. For the API's dry-run "survives" question, which
 * asks several at once and pays for one process.
 */
async function batch(seed: string | undefined): Promise<number> {
  let texts: unknown;
  try {
    texts = JSON.parse(await readStdin());
  } catch (error) {
    console.error(`--batch: stdin is not a JSON list: ${error instanceof Error ? error.message : error}`);
    return 2;
  }
  if (!Array.isArray(texts) || !texts.every((t) => typeof t === "string") || texts.length > 20) {
    console.error("--batch: expected a JSON list of at most 20 scenario texts");
    return 2;
  }
  const reports: SimulationReport[] = [];
  for (const [i, text] of texts.entries()) {
    try {
      const scenario = await parseScenario(text, `scenario ${i + 1}`, async (path) => {
        throw new Error(`${path}: a scenario read from stdin holds its manifests inline`);
      });
      reports.push(await runScenario(scenario, { seed: String(seed), source: "scenario.yaml" }));
    } catch (error) {
      if (!(error instanceof ScenarioError)) throw error;
      console.error(`invalid scenario ${error.message}`);
      return 2;
    }
  }
  process.stdout.write(`${JSON.stringify(reports)}\n`);
  return 0;
}
