import { spawn } from "node:child_process";
import { fileURLToPath } from "node:url";
import type { Clock } from "../core/clock.js";
import type { SimulationReport } from "../simulator/report.js";
import { ApiError } from "./errors.js";

/** How tenants' simulations run: each in a child process of its own, bounded in time, memory and number. */
export interface SimulationLimits {
  /** Wall time per simulation before it is stopped (60 s). */
  timeLimitMs: number;
  /** The child's JavaScript heap (512 MiB). */
  memoryMb: number;
  /** Simulations running at once in this API process; more are refused with 429 (2). */
  maxConcurrent: number;
  /** Of which one tenant may hold (1), so that no tenant locks the others out. */
  maxPerTenant: number;
}

export const DEFAULT_SIMULATION_LIMITS: SimulationLimits = {
  timeLimitMs: 60_000,
  memoryMb: 512,
  maxConcurrent: 2,
  maxPerTenant: 1,
};

const CLI = fileURLToPath(new URL("../../bin/kubernease.js", import.meta.url));
const MAX_OUTPUT_BYTES = 64 * 1024 * 1024;

/**
 * Runs validated scenarios (src/simulator/tenant.ts) through `kubernease simulate - --json` in a
 * child process: a runaway scenario costs its own process, which is killed at the time limit, and
 * can neither exhaust the API's heap nor see its memory. The report comes back as JSON.
 */
export class SimulationRunner {
  private running = 0;
  private readonly byTenant = new Map<string, number>();

  constructor(
    private readonly limits: SimulationLimits,
    private readonly clock: Clock,
  ) {}

  /** One scenario's report. */
  run(tenantId: string, text: string, seed: string): Promise<SimulationReport> {
    return this.bounded(tenantId, () => this.spawn([`--seed=${seed}`], text)) as Promise<SimulationReport>;
  }

  /** Several scenarios in one child process, one after the other: their reports, in order. */
  runBatch(tenantId: string, texts: string[], seed: string): Promise<SimulationReport[]> {
    return this.bounded(tenantId, () => this.spawn(["--batch", `--seed=${seed}`], JSON.stringify(texts))) as Promise<
      SimulationReport[]
    >;
  }

  private async bounded(tenantId: string, task: () => Promise<unknown>): Promise<unknown> {
    const mine = this.byTenant.get(tenantId) ?? 0;
    if (this.running >= this.limits.maxConcurrent || mine >= this.limits.maxPerTenant) {
      const why =
        mine >= this.limits.maxPerTenant
          ? `this tenant's ${this.limits.maxPerTenant} simulation(s) are running already`
          : `${this.limits.maxConcurrent} simulations are running already`;
      throw new ApiError("TOO_MANY_REQUESTS", `${why}; try again when one has finished`);
    }
    this.running++;
    this.byTenant.set(tenantId, mine + 1);
    try {
      return await task();
    } finally {
      this.running--;
      const left = (this.byTenant.get(tenantId) ?? 1) - 1;
      if (left > 0) this.byTenant.set(tenantId, left);
      else this.byTenant.delete(tenantId);
    }
  }

  private spawn(args: string[], input: string): Promise<unknown> {
    const { timeLimitMs, memoryMb } = this.limits;
    const child = spawn(
      process.execPath,
      [`--max-old-space-size=${memoryMb}`, CLI, "simulate", "-", ...args, "--json"],
      { stdio: ["pipe", "pipe", "pipe"], env: { PATH: process.env.PATH ?? "" } },
    );
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    let size = 0;
    let timedOut = false;
    const cancelTimer = this.clock.setTimer(timeLimitMs, () => {
      timedOut = true;
      child.kill("SIGKILL");
    });
    child.stdout.on("data", (chunk: Buffer) => {
      size += chunk.length;
      if (size > MAX_OUTPUT_BYTES) child.kill("SIGKILL");
      else out.push(chunk);
    });
    child.stderr.on("data", (chunk: Buffer) => {
      if (err.length < 64) err.push(chunk);
    });
    child.stdin.on("error", () => {});
    child.stdin.end(input);
    return new Promise((resolve, reject) => {
      child.on("error", (error) => {
        cancelTimer();
        reject(error);
      });
      child.on("close", (code) => {
        cancelTimer();
        const stderr = Buffer.concat(err).toString("utf8");
        if (timedOut) {
          reject(
            new ApiError(
              "INVALID",
              `the simulation did not finish within ${timeLimitMs / 1000} s: shorten its duration or shrink its cluster`,
            ),
          );
        } else if (/heap out of memory|Allocation failed/i.test(stderr)) {
          reject(
            new ApiError("INVALID", `the simulation needed more than ${memoryMb} MiB: shrink its cluster or workloads`),
          );
        } else if (size > MAX_OUTPUT_BYTES) {
          reject(
            new ApiError("INVALID", "the simulation's report is larger than 64 MiB: shorten its duration or timeline"),
          );
        } else if (code === 0 || code === 1) {
          try {
            resolve(JSON.parse(Buffer.concat(out).toString("utf8")));
          } catch {
            reject(new Error(`the simulation printed no report: ${stderr.slice(0, 500)}`));
          }
        } else if (code === 2) {
          reject(new ApiError("INVALID", stderr.trim().slice(0, 2_000) || "the scenario is not valid"));
        } else {
          reject(new Error(`the simulation ended with code ${code}: ${stderr.slice(0, 500)}`));
        }
      });
    });
  }
}
