import { execFile } from "node:child_process";
import { createHash } from "node:crypto";
import { promisify } from "node:util";
import { describe, expect, it } from "vitest";
import type { Store } from "../../src/db/types.js";
import { runScenario } from "../../src/simulator/run.js";
import { loadScenarioFile } from "../../src/simulator/scenario.js";

const run = promisify(execFile);
const root = new URL("../../", import.meta.url).pathname;
const SCENARIO = "examples/scenarios/node-loss-mid-rollout.yaml";

/** One run in its own process, as a user runs it: the JSON report on stdout. */
async function simulateInChild(seed: string): Promise<string> {
  const { stdout } = await run("node", ["bin/kubernease.js", "simulate", SCENARIO, "--seed", seed, "--json"], {
    cwd: root,
    maxBuffer: 64 * 2 ** 20,
  });
  return stdout;
}

describe("determinism", () => {
  it("two processes print the same report, byte for byte, for one seed", async () => {
    const [a, b] = await Promise.all([simulateInChild("5"), simulateInChild("5")]);
    expect(a.length).toBeGreaterThan(1000);
    expect(a).toBe(b);
    const report = JSON.parse(a);
    expect(report.seed).toBe("5");
    // The trace digest covers every store write and every job, with ids, resource versions and virtual times.
    expect(report.traceSha256).toMatch(/^[0-9a-f]{64}$/);
    expect(report.stats.storeWrites).toBeGreaterThan(100);
  });

  it("the trace sees every store write: the same writes give the same lines; a planted wall-clock default does not", async () => {
    const scenario = await loadScenarioFile(`${root}${SCENARIO}`);
    const linesOf = async (wrapStore?: (store: Store) => Store, seed = "9") => {
      const lines: string[] = [];
      const report = await runScenario(scenario, {
        seed,
        source: SCENARIO,
        hooks: { onTraceLine: (line) => lines.push(line), ...(wrapStore ? { wrapStore } : {}) },
      });
      return { lines, digest: report.traceSha256 };
    };
    const first = await linesOf();
    const second = await linesOf();
    expect(second.lines).toEqual(first.lines);
    expect(second.digest).toBe(first.digest);
    expect(createHash("sha256").update(first.lines.join("")).digest("hex")).toBe(first.digest);
    expect(first.lines.some((l) => / createPods? /.test(l) && l.includes('"id":"pod_'))).toBe(true);
    expect(first.lines.some((l) => l.includes(" job schedule pod_"))).toBe(true);
    expect((await linesOf(undefined, "10")).digest).not.toBe(first.digest);

    // A store whose event rows take their time from the wall clock, as a database default would.
    const planted = await linesOf(
      (store) =>
        new Proxy(store, {
          get(target, property) {
            const value = Reflect.get(target, property, target);
            if (property !== "recordEvent") return typeof value === "function" ? value.bind(target) : value;
            return (event: { atMs: number }) => target.recordEvent({ ...event, atMs: Date.now() } as never);
          },
        }),
    );
    expect(planted.digest).not.toBe(first.digest);
  });
});
