// Module hooks that run kubernease's TypeScript sources as they are (see typescript.mjs, which
// registers them): an ES module written in TypeScript (`.ts`, `.mts`) is compiled by esbuild as it is
// loaded, types stripped and nothing else changed. Sources import one another by the name of the
// compiled file (NodeNext), so a relative `.js` (`.mjs`) import from a TypeScript file that has no such
// file is the `.ts` (`.mts`) file beside it. CommonJS TypeScript (`.cts`, `require`) is not handled.
import { existsSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { fileURLToPath } from "node:url";
import { transform } from "esbuild";

const TARGET = `node${process.versions.node}`;
const TYPESCRIPT = /\.m?ts$/;

export async function resolve(specifier, context, nextResolve) {
  const { parentURL } = context;
  if (/^\.\.?\/.*\.m?js$/.test(specifier) && parentURL?.startsWith("file:") && TYPESCRIPT.test(parentURL)) {
    const source = new URL(specifier.replace(/js$/, "ts"), parentURL);
    if (!existsSync(new URL(specifier, parentURL)) && existsSync(source)) {
      return { url: source.href, format: "module", shortCircuit: true };
    }
  }
  return nextResolve(specifier, context);
}

export async function load(url, context, nextLoad) {
  if (!url.startsWith("file:") || !TYPESCRIPT.test(url)) return nextLoad(url, context);
  const file = fileURLToPath(url);
  const { code } = await transform(await readFile(file, "utf8"), {
    loader: "ts",
    format: "esm",
    target: TARGET,
    // Stack traces point into the sources (typescript.mjs turns source maps on).
    sourcemap: "inline",
    sourcefile: file,
    // As tsconfig.json's ES2023 target has it: class fields are defined, not assigned.
    tsconfigRaw: { compilerOptions: { useDefineForClassFields: true, verbatimModuleSyntax: true } },
  });
  return { format: "module", source: code, shortCircuit: true };
}
