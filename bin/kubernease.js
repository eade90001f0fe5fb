#!/usr/bin/env node
// The `kubernease` command runs the TypeScript sources directly through tsx, so a
// checkout needs `npm ci` and nothing else: no build step to remember.
import { register } from "tsx/esm/api";

register();
await import("../src/cli/main.ts");
