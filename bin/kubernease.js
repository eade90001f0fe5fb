#!/usr/bin/env node
// The `kubernease` command runs the TypeScript sources directly (see typescript.mjs), so a
// checkout needs `npm ci` and nothing else: no build step to remember.
import "./typescript.mjs";

await import("../src/cli/main.ts");
