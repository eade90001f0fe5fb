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

async function project(files: Record<string, string>): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), "kn-typescript-"));
  dirs.push(dir);
  for (const [name, text] of Object.entries(files)) await writeFile(join(dir, name), text);
  return dir;
}

describe("the TypeScript loader", () => {
  it("runs sources that import each other by their .js names, types stripped", async () => {
    const dir = await project({
      "main.ts": [
        'import { greet, type Greeting } from "./greet.js";',
        'const greeting: Greeting = greet("kubernease");',
        "console.log(greeting.text);",
      ].join("\n"),
      "greet.ts": [
        "export interface Greeting { text: string }",
        "export function greet(name: string): Greeting { return { text: 'hello ' + name }; }",
      ].join("\n"),
    });
    const { stdout } = await run(process.execPath, ["--import", TYPESCRIPT_LOADER, join(dir, "main.ts")]);
    expect(stdout.trim()).toBe("hello kubernease");
  });

  it("defines class fields as tsconfig.json's target does, and names functions without help", async () => {
    const dir = await project({
      "main.mts": [
        "class Base { constructor() { (this as { kind?: string }).kind = 'base'; } }",
        "class Pod extends Base { kind?: string; }",
        "function outer() { const inner = () => 1; return inner; }",
        "console.log(JSON.stringify([new Pod().kind ?? null, outer().name, String(outer).includes('__name')]));",
      ].join("\n"),
    });
    const { stdout } = await run(process.execPath, ["--import", TYPESCRIPT_LOADER, join(dir, "main.mts")]);
    // A defined field (no initializer) replaces what the base constructor set, as tsc's ES2023 output does.
    expect(JSON.parse(stdout)).toEqual([null, "inner", false]);
  });

  it("points a stack trace at the line of the TypeScript source", async () => {
    const dir = await project({
      "main.ts": [
        "type Reason = string;",
        "",
        "function fail(reason: Reason): never {",
        "  throw new Error(reason);",
        "}",
        "fail('on purpose');",
      ].join("\n"),
    });
    const failure = await run(process.execPath, ["--import", TYPESCRIPT_LOADER, join(dir, "main.ts")]).catch(
      (error: { stderr: string }) => error,
    );
    expect("stderr" in failure ? failure.stderr : "").toContain(`${join(dir, "main.ts")}:4:`);
  });
});
