/**
 * bin/typescript.mjs, which the `kubernease` command, the benchmarks and these tests' child processes
 * run TypeScript with: sources that import one another by their compiled `.js` names, stack traces
 * into the sources, and nothing added to the code (no helper wrapped around each function).
 */
import { execFile } from "node:child_process";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, describe, expect, it } from "vitest";
import { TYPESCRIPT_LOADER } from "../helpers/processes.js";

const run = promisify(execFile);
const dirs: string[] = [];

afterAll(async () => {
  for (const dir of dirs) await rm(dir, { recursive: true, force: true });
});

/** Writes the files (each given as its lines) to a new folder and runs `main` there through the loader. */
async function runTypeScript(
  files: Record<string, string[]>,
  main: string,
): Promise<{ stdout: string; stderr: string; path: string }> {
  const dir = await mkdtemp(join(tmpdir(), "kn-typescript-"));
  dirs.push(dir);
  for (const [name, lines] of Object.entries(files)) await writeFile(join(dir, name), lines.join("\n"));
  const path = join(dir, main);
  const ran = await run(process.execPath, ["--import", TYPESCRIPT_LOADER, path]).catch(
    (error: { stdout: string; stderr: string }) => error,
  );
  return { stdout: ran.stdout, stderr: ran.stderr, path };
}

describe("the TypeScript loader", () => {
  it("runs sources that import each other by their .js names, types stripped", async () => {
    const { stdout } = await runTypeScript(
      {
        "main.ts": [
          'import { greet, type Greeting } from "./greet.js";',
          'const greeting: Greeting = greet("kubernease");',
          "console.log(greeting.text);",
        ],
        "greet.ts": [
          "export interface Greeting { text: string }",
          "export function greet(name: string): Greeting { return { text: 'hello ' + name }; }",
        ],
      },
      "main.ts",
    );
    expect(stdout.trim()).toBe("hello kubernease");
  });

  it("defines class fields as tsconfig.json's target does, and names functions without help (.mts by .mjs)", async () => {
    const { stdout } = await runTypeScript(
      {
        "main.mts": [
          'import { outer } from "./outer.mjs";',
          "class Base { constructor() { (this as { kind?: string }).kind = 'base'; } }",
          "class Pod extends Base { kind?: string; }",
          "console.log(JSON.stringify([new Pod().kind ?? null, outer().name, String(outer).includes('__name')]));",
        ],
        "outer.mts": ["export function outer(): () => number { const inner = () => 1; return inner; }"],
      },
      "main.mts",
    );
    // A defined field (no initializer) replaces what the base constructor set, as tsc's ES2023 output does.
    expect(JSON.parse(stdout)).toEqual([null, "inner", false]);
  });

  it("points a stack trace at the line of the TypeScript source", async () => {
    const { stderr, path } = await runTypeScript(
      {
        "main.ts": [
          "type Reason = string;",
          "",
          "function fail(reason: Reason): never {",
          "  throw new Error(reason);",
          "}",
          "fail('on purpose');",
        ],
      },
      "main.ts",
    );
    expect(stderr).toContain(`${path}:4:`);
  });
});
