import { describe, expect, it } from "vitest";
import { renderHtml } from "../../src/simulator/html.js";
import type { SimulationReport } from "../../src/simulator/report.js";
import { runScenario } from "../../src/simulator/run.js";
import { loadScenarioFile } from "../../src/simulator/scenario.js";

const FILE = "examples/scenarios/node-loss-mid-rollout.yaml";

async function report(seed: string): Promise<SimulationReport> {
  return runScenario(await loadScenarioFile(FILE), { seed, source: FILE });
}

describe("the HTML report", () => {
  it("plots Ready and desired replicas of every workload, with one marker per fault", async () => {
    const r = await report("4");
    const html = renderHtml(r);
    expect(r.faults.length).toBeGreaterThan(0);
    expect(html.match(/<svg /g)).toHaveLength(r.workloads.length);
    // Two step lines per workload: desired (dashed) and Ready.
    expect(html.match(/<polyline /g)).toHaveLength(2 * r.workloads.length);
    expect(html.match(/stroke="#b42318"/g)).toHaveLength(r.faults.length * r.workloads.length);
    expect(html).toContain(r.reproduce);
    for (const a of r.assertions) expect(html).toContain(a.assertion.replace(/&/g, "&amp;").replace(/</g, "&lt;"));
  });

  it("renders the same bytes for the same seed, and holds no wall-clock time", async () => {
    const [a, b] = [renderHtml(await report("4")), renderHtml(await report("4"))];
    expect(a).toBe(b);
    expect(a).not.toMatch(/20\d\d-\d\d-\d\dT/);
  });

  it("escapes every name a scenario supplies", async () => {
    const r = await report("4");
    const hostile = '<script>alert("x")</script>';
    const html = renderHtml({
      ...r,
      scenario: hostile,
      workloads: r.workloads.map((w) => ({ ...w, workload: `${w.workload}${hostile}` })),
      timeline: [{ atMs: 0, kind: "apply", what: hostile }],
    });
    expect(html).not.toContain("<script>");
    expect(html).toContain("&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;");
  });

  it("says FAIL and lists the violations of a failed run", async () => {
    const r = await report("4");
    const html = renderHtml({
      ...r,
      ok: false,
      violations: [{ invariant: "capacity", atMs: 61_000, message: "node-1 holds 5 CPU of 4" }],
    });
    expect(html).toContain('<span class="bad">FAIL</span>');
    expect(html).toContain("node-1 holds 5 CPU of 4");
  });
});
