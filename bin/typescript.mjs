// Lets Node run kubernease's TypeScript sources with no build step: `node --import ./bin/typescript.mjs
// file.ts`, or imported first, as bin/kubernease.js does. The hooks (typescript-hooks.mjs) strip the
// types with esbuild and change nothing else. A general-purpose loader such as tsx also asks esbuild to
// keep every function's name, which wraps each function expression in a call that sets `name` as the
// function is made; the simulator makes closures by the million, and spent a tenth of its time there.
import { register } from "node:module";

register("./typescript-hooks.mjs", import.meta.url);
process.setSourceMapsEnabled(true);
