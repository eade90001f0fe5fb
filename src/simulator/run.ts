import type { EventRecord } from "../db/types.js";
import { applyManifests } from "./apply.js";
import { FaultInjector } from "./faults.js";
import { yieldToHost } from "./host.js";
import { checkInvariants, INVARIANTS, type Invariant, type Violation } from "./invariants.js";
import { failingImages, faultsStopMs, livenessFromMs } from "./liveness.js";
import { Metrics } from "./metrics.js";
import { PodIndex, podIndexDifferences } from "./podIndex.js";
import { buildReport, type SimulationReport, type StopReason, type TimelineEntry } from "./report.js";
import type { Scenario } from "./scenario.js";
import { IdentityCache, type LivenessTerms, takeSnapshot } from "./snapshot.js";
import { workloadStates } from "./workloads.js";
import { World, type WorldHooks } from "./world.js";

export interface RunOptions {
  seed: string | number;
  /** How the scenario was named on the command line, for the reproduce command. */
  source: string;
  /** Hash every store write and job into the report (default on; the benchmark turns it off to measure). */
  trace?: boolean;
  /** The invariants to check (all of them unless a test narrows them). */
  invariants?: readonly Invariant[];
  /** Bugs planted by tests, in the system under test only. */
  hooks?: WorldHooks;
  /**
   * Also read every pod at every look and check the run's pod index against them (tests): a
   * difference is a violation of `pod-index`. Off by default: the index exists to spare that read.
   */
  verifyPodIndex?: boolean;
  /** Called now and then with the virtual time reached (a progress bar on stderr). */
  onProgress?: (elapsedMs: number, durationMs: number) => void;
}

/** Bounds of the loop, unless the scenario's `limits` say otherwise. */
const DEFAULT_MAX_STEPS = 10_000_000;
const DEFAULT_MAX_STEPS_PER_INSTANT = 10_000;
const DEFAULT_MAX_STORE_CALLS_PER_INSTANT = 2_000_000;
/** Turns of the host loop one settle may take before the run is declared stuck. */
const MAX_YIELDS_PER_SETTLE = 10_000;

/**
 * Runs one scenario with one seed in virtual time and reports what happened.
 *
 * The loop: let all promise work settle; check the invariants and sample the
 * workloads; then move the clock to whichever comes first — the next timer any
 * component set, the next timeline event, or the end — firing only what falls
 * due at that one instant, and go round again. Virtual time never moves while
 * work is pending, and work never runs "between" instants, so a run is a pure
 * function of the scenario and the seed. Everything is bounded: steps overall,
 * steps and store calls at one instant (a zero-delay loop, a job feeding
 * itself), and turns of the host loop per settle.
 */
export async function runScenario(scenario: Scenario, options: RunOptions): Promise<SimulationReport> {
  const seed = String(options.seed);
  const world = await World.build(scenario, { seed, trace: options.trace ?? true, hooks: options.hooks });
  return new Simulation(scenario, world, options).run();
}

type Stop = { reason: StopReason; message: string };

class Simulation {
  private readonly faults: FaultInjector;
  private readonly metrics = new Metrics();
  private readonly identities = new IdentityCache();
  /** The pods' aggregates, kept up to date from look to look. */
  private readonly podIndex = new PodIndex();
  private readonly invariants: readonly Invariant[];
  private readonly timeline: TimelineEntry[] = [];
  private readonly violations: Violation[] = [];
  private readonly startMs: number;
  private readonly endMs: number;
  private readonly maxSteps: number;
  private readonly maxStepsPerInstant: number;
  private steps = 0;
  private nextEvent = 0;
  private instantMs: number;
  private stepsAtInstant = 0;
  private lastLook = "";
  /** The liveness invariant's terms; its `fromMs` is an instant the run looks at, whatever was written. */
  private readonly liveness: LivenessTerms;
  private livenessLooked = false;

  constructor(
    private readonly scenario: Scenario,
    private readonly world: World,
    private readonly options: RunOptions,
  ) {
    this.faults = new FaultInjector(world);
    // An invariant with memory (liveness) starts afresh for each run.
    this.invariants = (options.invariants ?? INVARIANTS).map((inv) => inv.forRun?.() ?? inv);
    this.startMs = world.clock.now();
    this.endMs = this.startMs + scenario.durationMs;
    this.instantMs = this.startMs;
    this.maxSteps = scenario.limits.maxSteps ?? DEFAULT_MAX_STEPS;
    this.maxStepsPerInstant = scenario.limits.maxStepsPerInstant ?? DEFAULT_MAX_STEPS_PER_INSTANT;
    world.trace.callBudget = scenario.limits.maxStoreCallsPerInstant ?? DEFAULT_MAX_STORE_CALLS_PER_INSTANT;
    this.liveness = {
      stoppedMs: faultsStopMs(scenario.timeline),
      fromMs: livenessFromMs(scenario),
      failingImages: failingImages(scenario.images),
    };
  }

  async run(): Promise<SimulationReport> {
    let stopped: Stop | undefined;
    try {
      await this.world.controlPlane.start();
      await this.applyInitialManifests();
      // Bounded: `step` answers a stop at the latest after `maxSteps` steps.
      for (stopped = await this.step(); stopped === undefined && this.world.clock.now() < this.endMs; ) {
        stopped = await this.step();
      }
    } catch (error) {
      stopped = { reason: "error", message: error instanceof Error ? (error.stack ?? error.message) : String(error) };
    }
    return this.finish(stopped);
  }

  /** Settle, look, then move to the next instant and fire what falls due there; a stop when the run must end. */
  private async step(): Promise<Stop | undefined> {
    if (!(await this.settle()) || this.world.trace.overBudget) return this.livelock();
    await this.look();
    const violation = this.violations[0];
    if (violation) return { reason: "invariant", message: `${violation.invariant}: ${violation.message}` };
    if (this.world.clock.now() >= this.endMs) return undefined;
    if (++this.steps > this.maxSteps) return { reason: "step-limit", message: `more than ${this.maxSteps} steps` };
    const eventAt = this.startMs + (this.scenario.timeline[this.nextEvent]?.atMs ?? Number.POSITIVE_INFINITY);
    const livenessAt = this.livenessLooked
      ? Number.POSITIVE_INFINITY
      : this.startMs + (this.liveness.fromMs ?? Number.POSITIVE_INFINITY);
    const target = Math.min(
      this.world.clock.nextTimerAt() ?? Number.POSITIVE_INFINITY,
      eventAt,
      livenessAt,
      this.endMs,
    );
    if (target !== this.instantMs) this.newInstant(target);
    else if (++this.stepsAtInstant > this.maxStepsPerInstant) {
      return {
        reason: "livelock",
        message: `more than ${this.maxStepsPerInstant} steps at one instant of virtual time`,
      };
    }
    // The timers due at this instant fire first; the timeline's events at it follow, each once the system settled.
    this.world.clock.advanceTo(target);
    await this.applyEventsAt(target);
    for (const followUp of this.faults.followUps.splice(0)) this.timeline.push({ ...followUp, kind: "heal" });
    return undefined;
  }

  private newInstant(targetMs: number): void {
    this.instantMs = targetMs;
    this.stepsAtInstant = 0;
    this.world.trace.newInstant();
    this.options.onProgress?.(targetMs - this.startMs, this.scenario.durationMs);
  }

  private livelock(): Stop {
    const trace = this.world.trace;
    const why = trace.overBudget
      ? `more than ${trace.callBudget} store calls`
      : `work still running after ${MAX_YIELDS_PER_SETTLE} turns of the host loop`;
    return { reason: "livelock", message: `${why} at one instant of virtual time` };
  }

  private async applyEventsAt(targetMs: number): Promise<void> {
    const due = () => {
      const event = this.scenario.timeline[this.nextEvent];
      return event && this.startMs + event.atMs === targetMs ? event : undefined;
    };
    for (let event = due(); event; event = due()) {
      if (!(await this.settle())) return;
      this.nextEvent++;
      const applied = await this.faults.apply(event);
      this.timeline.push({
        atMs: event.atMs,
        kind: event.action.type,
        what: applied.what,
        ...(applied.ok ? {} : { skipped: true }),
        event: event.index,
      });
    }
  }

  /** Lets every pending continuation run; false when work is still running after the bound. */
  private async settle(): Promise<boolean> {
    for (let turn = 0; turn < MAX_YIELDS_PER_SETTLE; turn++) {
      const before = this.world.trace.activity();
      await yieldToHost();
      if (this.world.trace.activity() === before) return true;
    }
    return false;
  }

  /**
   * Invariants and samples, only when state may have changed since the last look: a state write, or
   * a node crashed. An idle tick, a heartbeat or an outbox pass changes nothing a checker reads.
   * Once, when the liveness invariant comes to be judged, it looks whatever changed: a workload
   * nobody reconciles is one nothing writes.
   */
  private async look(): Promise<void> {
    const mark = `${this.world.trace.stateWrites}/${this.faults.crashedNodes.size}`;
    const judged = this.liveness.fromMs !== null && this.world.elapsedMs() >= this.liveness.fromMs;
    const firstJudged = judged && !this.livenessLooked;
    if (mark === this.lastLook && !firstJudged) return;
    this.lastLook = mark;
    this.livenessLooked ||= judged;
    const snapshot = await takeSnapshot(
      this.world,
      this.identities,
      this.faults.crashedNodes,
      this.liveness,
      this.podIndex,
    );
    if (this.options.verifyPodIndex) this.violations.push(...(await this.verifyPodIndex(snapshot.atMs)));
    this.violations.push(...checkInvariants(snapshot, this.invariants));
    this.metrics.observe(workloadStates(snapshot), snapshot.atMs);
  }

  /** The index, kept from the pods written only, against one made afresh from every pod the store lists now. */
  private async verifyPodIndex(atMs: number): Promise<Violation[]> {
    const listed = await this.world.store.listPods({});
    const problems = podIndexDifferences(this.podIndex, new PodIndex().update(listed), listed);
    return problems.map((message) => ({ invariant: "pod-index", atMs, message }));
  }

  private async applyInitialManifests(): Promise<void> {
    if (this.scenario.manifests.length === 0) return;
    const parts: string[] = [];
    for (const set of this.scenario.manifests) {
      const results = await applyManifests(this.world.applyDeps(), set.manifests);
      parts.push(`${set.source}: ${results.map((r) => `${r.ref.kind}/${r.ref.name}`).join(", ")}`);
    }
    this.timeline.push({ atMs: 0, kind: "apply", what: `apply ${parts.join("; ")}` });
  }

  private async finish(stopped: Stop | undefined): Promise<SimulationReport> {
    const { world } = this;
    const endedAtMs = world.elapsedMs();
    // The reads below are the report's, not the run's: no budget applies to them.
    world.trace.callBudget = Number.POSITIVE_INFINITY;
    const events = await world.store.listEvents({ tenantId: world.tenantId }).catch(() => [] as EventRecord[]);
    await this.stopWorld();
    return buildReport({
      scenario: this.scenario,
      seed: String(this.options.seed),
      source: this.options.source,
      endedAtMs,
      stopped,
      violations: this.violations,
      invariants: this.invariants,
      metrics: this.metrics,
      timeline: this.timeline,
      events,
      world,
      steps: this.steps,
    });
  }

  /** Stops the control plane without advancing time: whatever waits on a virtual timer is simply dropped. */
  private async stopWorld(): Promise<void> {
    let done = false;
    void this.world.controlPlane
      .stop()
      .catch(() => undefined)
      .finally(() => {
        done = true;
      });
    await this.settle();
    if (done) await this.world.provider.close();
  }
}
