import { formatDurationMs } from "./duration.js";
import type { SeriesPoint } from "./metrics.js";
import type { SimulationReport } from "./report.js";

/**
 * The report as one self-contained HTML page (`kubernease simulate … --report out.html`): a plot
 * of Ready replicas per workload over virtual time, with the faults marked, then the assertions,
 * the recoveries, the invariants and the timeline. Inline SVG and CSS, no script, nothing fetched;
 * every name from the scenario is escaped (tenants write scenarios). Like the JSON, the page holds
 * no wall-clock figure, so the same seed renders the same bytes.
 */
export function renderHtml(report: SimulationReport): string {
  const verdict = report.ok ? "PASS" : "FAIL";
  const title = `${report.scenario}, seed ${report.seed}: ${verdict}`;
  const sections = [
    `<h1>${esc(report.scenario)} <span class="${report.ok ? "ok" : "bad"}">${verdict}</span></h1>`,
    `<p>seed ${esc(report.seed)} · ${formatDurationMs(report.endedAtMs)} of ${formatDurationMs(report.durationMs)} virtual · ${report.stats.steps} steps · ${report.stats.jobs} jobs · ${report.stats.storeWrites} store writes</p>`,
    report.stopped
      ? `<p class="bad">stopped early (${esc(report.stopped.reason)}): ${esc(firstLine(report.stopped.message))}</p>`
      : "",
    `<p><code>${esc(report.reproduce)}</code></p>`,
    "<h2>Ready replicas</h2>",
    ...report.workloads.map((w) => plot(w.workload, w.series, report)),
    table(
      "Assertions",
      ["", "assertion", "detail"],
      report.assertions.map((a) => [mark(a.ok), esc(a.assertion), esc(a.detail)]),
    ),
    table(
      "Faults",
      ["at", "fault", "recovery"],
      report.faults.map((f) => [
        formatDurationMs(f.atMs),
        esc(f.fault),
        f.recoveredAfterMs === null
          ? '<span class="bad">never recovered</span>'
          : `recovered in ${formatDurationMs(f.recoveredAfterMs)}`,
      ]),
    ),
    table(
      "Invariants, checked after every event",
      ["", "invariant", "rule", "violations"],
      report.invariants.map((i) => [mark(i.violations === 0), esc(i.name), esc(i.rule), String(i.violations)]),
    ),
    report.violations.length > 0
      ? table(
          "Violations",
          ["at", "invariant", "what"],
          report.violations.map((v) => [formatDurationMs(v.atMs), esc(v.invariant), esc(v.message)]),
        )
      : "",
    table(
      "Timeline",
      ["at", "kind", "what"],
      report.timeline.map((t) => [
        formatDurationMs(t.atMs),
        esc(t.kind),
        `${esc(t.what)}${t.skipped ? " <em>(skipped)</em>" : ""}`,
      ]),
    ),
    report.traceSha256 ? `<p>trace: sha256 <code>${report.traceSha256}</code></p>` : "",
  ];
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>${esc(title)}</title>
<style>
body { font: 14px/1.4 system-ui, sans-serif; margin: 2em; color: #222; max-width: 70em; }
.ok { color: #17803d; } .bad { color: #b42318; }
table { border-collapse: collapse; margin-bottom: 1.5em; }
td, th { border-bottom: 1px solid #ddd; padding: 2px 10px 2px 0; text-align: left; vertical-align: top; }
svg { display: block; margin-bottom: 1.5em; }
svg text { font: 11px system-ui, sans-serif; fill: #444; }
</style>
</head>
<body>
${sections.filter((s) => s !== "").join("\n")}
</body>
</html>
`;
}

const WIDTH = 800;
const HEIGHT = 180;
const LEFT = 40;
const RIGHT = 10;
const TOP = 20;
const BOTTOM = 24;

/** One workload's Ready (solid) and desired (dashed) replicas as step lines; faults as red rules. */
function plot(name: string, series: SeriesPoint[], report: SimulationReport): string {
  const endMs = Math.max(report.endedAtMs, 1);
  const top = Math.max(1, ...series.map(([, ready, desired]) => Math.max(ready, desired)));
  const x = (ms: number) => round(LEFT + (ms / endMs) * (WIDTH - LEFT - RIGHT));
  const y = (n: number) => round(TOP + (1 - n / top) * (HEIGHT - TOP - BOTTOM));
  const steps = (pick: (p: SeriesPoint) => number) => {
    if (series.length === 0) return "";
    const points: string[] = [];
    let last: number | undefined;
    for (const p of series) {
      if (last !== undefined) points.push(`${x(p[0])},${y(last)}`);
      points.push(`${x(p[0])},${y(pick(p))}`);
      last = pick(p);
    }
    points.push(`${x(endMs)},${y(last as number)}`);
    return points.join(" ");
  };
  const faults = report.faults
    .map(
      (f) =>
        `<line x1="${x(f.atMs)}" y1="${TOP}" x2="${x(f.atMs)}" y2="${HEIGHT - BOTTOM}" stroke="#b42318" stroke-width="1"><title>${esc(f.fault)} at ${formatDurationMs(f.atMs)}</title></line>`,
    )
    .join("");
  const ticks = [0, 0.25, 0.5, 0.75, 1]
    .map(
      (f) =>
        `<text x="${x(f * endMs)}" y="${HEIGHT - 6}" text-anchor="middle">${formatDurationMs(Math.round(f * endMs))}</text>`,
    )
    .join("");
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${WIDTH}" height="${HEIGHT}" viewBox="0 0 ${WIDTH} ${HEIGHT}" role="img" aria-label="${esc(name)}: Ready replicas over time">
<text x="${LEFT}" y="13">${esc(name)}</text>
<line x1="${LEFT}" y1="${HEIGHT - BOTTOM}" x2="${WIDTH - RIGHT}" y2="${HEIGHT - BOTTOM}" stroke="#999"/>
<text x="${LEFT - 6}" y="${y(top) + 4}" text-anchor="end">${top}</text>
<text x="${LEFT - 6}" y="${y(0) + 4}" text-anchor="end">0</text>
${ticks}${faults}
<polyline fill="none" stroke="#999" stroke-dasharray="4 3" points="${steps((p) => p[2])}"><title>desired</title></polyline>
<polyline fill="none" stroke="#1d4ed8" stroke-width="2" points="${steps((p) => p[1])}"><title>Ready</title></polyline>
</svg>`;
}

function table(title: string, head: string[], rows: string[][]): string {
  if (rows.length === 0) return "";
  const th = head.map((h) => `<th>${h}</th>`).join("");
  const body = rows.map((r) => `<tr>${r.map((c) => `<td>${c}</td>`).join("")}</tr>`).join("\n");
  return `<h2>${title}</h2>\n<table>\n<tr>${th}</tr>\n${body}\n</table>`;
}

function mark(ok: boolean): string {
  return ok ? '<span class="ok">✓</span>' : '<span class="bad">✗</span>';
}

function firstLine(text: string): string {
  return text.split("\n")[0] ?? "";
}

function round(n: number): number {
  return Math.round(n * 10) / 10;
}

const ESCAPES: Record<string, string> = { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" };

/** Text and attribute values, escaped. */
export function esc(text: string): string {
  return text.replace(/[&<>"']/g, (c) => ESCAPES[c] as string);
}
