/**
 * Import rules for kubernease: the "may import" column of DESIGN.md's module table, enforced.
 *
 * Each module below lists the other modules of ours it may import. Every other module is
 * forbidden to it, whether the import is a value import or `import type` (TypeScript
 * pre-compilation dependencies are on, so type-only imports are seen and judged too).
 * Third-party packages and Node built-ins are not restricted here, except that the pure
 * modules (controllers, scheduler) may not reach for the drivers and built-ins that do I/O.
 *
 * To change who may import what, change DESIGN.md first, then the table below.
 */

/** module folder under src/ → the module folders it may import (besides itself). */
const mayImport = {
  core: [],
  manifest: ["core"],
  db: ["core", "manifest"],
  controllers: ["core", "manifest", "scheduler"],
  scheduler: ["core"],
  providers: ["core", "manifest", "db"],
  routing: ["core", "manifest", "db"],
  simulator: ["core", "manifest", "db", "controllers", "scheduler", "jobs", "providers", "routing"],
  jobs: ["core", "manifest", "db", "controllers", "scheduler", "providers", "routing"],
  http: ["core", "manifest", "db", "controllers", "scheduler", "jobs", "providers", "routing", "simulator"],
  cli: null, // The process edge: everything.
};

const moduleNames = Object.keys(mayImport);

/**
 * Where DESIGN.md says "types" (e.g. providers: "nothing of ours but types"), a value import is
 * allowed by the table above but reported as a warning: a warning shows in the output without
 * failing the run, so it can be tightened to an error once the code base agrees.
 */
const typesOnly = {
  db: ["manifest"],
  controllers: ["scheduler"],
  providers: ["manifest", "db"],
  routing: ["db"],
};

/**
 * One forbidden rule per module: it may import nothing under src/ outside its own folder and the
 * folders on its list. Written as an allow-list, so a file directly in src/ or a folder missing
 * from the table is forbidden too, not silently allowed.
 */
const moduleRules = Object.entries(mayImport)
  .filter(([, allowed]) => allowed !== null)
  .map(([name, allowed]) => ({
    name: `${name}-imports`,
    comment:
      `src/${name} may import ${allowed.length > 0 ? allowed.map((m) => `src/${m}`).join(", ") : "nothing of ours"} ` +
      "(DESIGN.md, module table). Move the shared piece down into a module both may import, " +
      "or pass it in from the caller.",
    severity: "error",
    from: { path: `^src/${name}/` },
    to: { path: "^src/", pathNot: `^src/(${[name, ...allowed].join("|")})/` },
  }));

// Every file of ours sits in one module folder of the table, so that the rules above apply to it.
const knownModulesOnly = {
  name: "known-modules-only",
  comment:
    "This file is outside every module folder of DESIGN.md's table (src/<module>/…), so no import rule " +
    "covers it. Move it into the module that owns its concept, or add the new module to DESIGN.md and " +
    "to mayImport in .dependency-cruiser.cjs.",
  severity: "error",
  from: { path: "^src/", pathNot: `^src/(${moduleNames.join("|")})/` },
  to: {},
};

const typesOnlyRules = Object.entries(typesOnly).map(([name, modules]) => ({
  name: `${name}-value-imports`,
  comment:
    `DESIGN.md allows src/${name} only the types of ${modules.map((m) => `src/${m}`).join(", ")}. ` +
    "Use `import type`, or move the value into a module both may import (e.g. src/core).",
  severity: "warn",
  // A unit test may wire in the real collaborator its module is handed at run time (the scheduler a rule is given).
  from: { path: `^src/${name}/`, pathNot: "\\.test\\.ts$" },
  to: { path: `^src/(${modules.join("|")})/`, dependencyTypesNot: ["type-only"] },
}));

// I/O drivers and Node built-ins that touch the outside world; controllers and the scheduler are pure.
const ioModules = [
  "(node:)?(fs|fs/promises|net|http|http2|https|tls|dgram|dns|dns/promises|child_process|cluster|worker_threads|readline)",
  "postgres",
  "@electric-sql/pglite",
  "drizzle-orm",
  "bullmq",
  "ioredis",
  "redis",
  "dockerode",
  "undici",
  "hono",
  "@hono/node-server",
];

module.exports = {
  forbidden: [
    ...moduleRules,
    knownModulesOnly,
    {
      name: "pure-modules-no-io",
      comment:
        "src/controllers and src/scheduler are pure: (desired, observed, now) → actions. " +
        "They do no I/O, so they may not import drivers or I/O built-ins; the worker in src/jobs applies their actions.",
      severity: "error",
      from: { path: "^src/(controllers|scheduler)/" },
      to: {
        path: [`^(${ioModules.join("|")})$`, `node_modules/(${ioModules.slice(1).join("|")})/`],
      },
    },
    ...typesOnlyRules,
    {
      name: "no-circular",
      comment:
        "This file is part of an import cycle. Cycles hide layering mistakes and make start-up " +
        "order fragile; break the cycle by moving the shared piece into its own file.",
      severity: "error",
      from: {},
      to: { circular: true },
    },
    {
      // Unit tests beside their file (src/**/*.test.ts) may use helpers from test/; the code they test may not.
      name: "src-not-to-test",
      comment: "Production code may not import from test/; move shared helpers into src/ (e.g. src/core).",
      severity: "error",
      from: { path: "^src/", pathNot: "\\.test\\.ts$" },
      to: { path: "^test/" },
    },
    {
      name: "src-not-to-test-files",
      comment:
        "Production code may not import a *.test.ts file. If something in a test is useful elsewhere, " +
        "move it into its own (non-test) file.",
      severity: "error",
      from: { path: "^src/", pathNot: "\\.test\\.ts$" },
      to: { path: "\\.test\\.ts$" },
    },
    {
      name: "not-to-unresolvable",
      comment:
        "This import cannot be resolved to a file or an installed package, so the rules above cannot judge it. " +
        "Fix the path (relative imports end in .js under NodeNext) or install the package.",
      severity: "error",
      from: { path: "^src/" },
      to: { couldNotResolve: true },
    },
  ],
  options: {
    doNotFollow: { path: ["node_modules"] },
    // `import type` and type-only re-exports count as dependencies.
    tsPreCompilationDeps: true,
    tsConfig: { fileName: "tsconfig.json" },
    enhancedResolveOptions: {
      exportsFields: ["exports"],
      conditionNames: ["import", "require", "node", "default", "types"],
      mainFields: ["module", "main", "types", "typings"],
    },
    skipAnalysisNotInRules: true,
    reporterOptions: {
      text: { highlightFocused: true },
    },
  },
};
