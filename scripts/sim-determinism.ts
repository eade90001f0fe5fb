/**
 * `npm run sim:determinism`: every example scenario, seeds 1..N (SIM_SEEDS, default 100), run twice
 * in two separate processes at once (`kubernease simulate FILE --seeds 1..N --json`); the two
 * outputs must be the same bytes — every report, with the SHA-256 of each run's store writes and
 * jobs (ids, virtual times) — and seeds must differ from one another. Exit code 1 on any difference.
 */
import { execFile } from "node:child_process";
import { readdir, readFile } from "node:fs/promises";
import { promisify } from "node:util";

const run = promisify(execFile);
const seeds = Number(process.env.SIM_SEEDS ?? 100);
const dir = "examples/scenarios";

interface Summary {
  reports: { seed: string; traceSha256: string | null }[];
}

async function simulate(file: string): Promise<string> {
  const args = ["bin/kubernease.js", "simulate", file, "--seeds", `1..${seeds}`, "--json"];
  // Exit code 1 (a failed assertion) still prints the reports; the comparison is what matters here.
  const { stdout } = await run(process.execPath, args, { maxBuffer: 1024 * 1024 * 1024 }).catch(
    (error: { stdout?: string; code?: number }) => {
      if (error.code === 1 && error.stdout) return { stdout: error.stdout };
      throw error;
    },
  );
  return stdout;
}

let failures = 0;
const started = performance.now();
const files: string[] = [];
for (const f of (await readdir(dir)).sort()) {
  // Scenarios, not the manifests they name.
  if (f.endsWith(".yaml") && /^cluster:/m.test(await readFile(`${dir}/${f}`, "utf8"))) files.push(f);
}
for (const name of files) {
  const file = `${dir}/${name}`;
  const [a, b] = await Promise.all([simulate(file), simulate(file)]);
  const hashes = (JSON.parse(a) as Summary).reports.map((r) => r.traceSha256);
  const distinct = new Set(hashes).size;
  const same = a === b;
  if (!same || distinct !== seeds) failures++;
  console.log(
    `${name}: ${seeds} seeds × 2 processes: ${same ? "identical" : "DIFFERENT"} (${a.length} bytes), ${distinct} distinct traces`,
  );
}
console.log(
  `determinism: ${failures === 0 ? "ok" : `${failures} scenario(s) failed`} in ${((performance.now() - started) / 1000).toFixed(0)} s`,
);
process.exitCode = failures === 0 ? 0 : 1;
