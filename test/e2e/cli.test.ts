import { execFile } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { TYPESCRIPT_LOADER } from "../helpers/processes.js";
import { type Served, serve } from "../helpers/serve.js";

const run = promisify(execFile);
const BIN = fileURLToPath(new URL("../../bin/kubernease.js", import.meta.url));
const EXAMPLE = fileURLToPath(new URL("../../examples/hello.yaml", import.meta.url));
const dir = mkdtempSync(join(tmpdir(), "kubernease-cli-"));
const env = { ...process.env, KUBERNEASE_CONFIG: join(dir, "config.json") };

async function cli(...args: string[]): Promise<string> {
  const { stdout } = await run(process.execPath, [BIN, ...args], { env, timeout: 60_000 });
  return stdout.trim();
}

let recorded = 0;

/** The modules `kubernease ARGS` loads, by URL: a resolve hook registered after the TypeScript loader's writes them down. */
async function modulesLoadedBy(...args: string[]): Promise<string[]> {
  const list = join(dir, `modules-${++recorded}.txt`);
  const recorder = join(dir, "record-modules.mjs");
  const hooks = `import { appendFileSync } from "node:fs";
  export async function resolve(specifier, context, next) {
    const resolved = await next(specifier, context);
    appendFileSync(process.env.KN_MODULES, resolved.url + "\\n");
    return resolved;
  }`;
  writeFileSync(
    recorder,
    `import { register } from "node:module";\nregister(${JSON.stringify(`data:text/javascript,${encodeURIComponent(hooks)}`)});\n`,
  );
  const main = fileURLToPath(new URL("../../src/cli/main.ts", import.meta.url));
  await run(process.execPath, ["--import", TYPESCRIPT_LOADER, "--import", recorder, main, ...args], {
    env: { ...env, KN_MODULES: list },
    timeout: 60_000,
  }).catch(() => undefined);
  return readFileSync(list, "utf8").trim().split("\n");
}

let served: Served;
beforeAll(async () => {
  served = await serve(join(dir, "data"));
});
afterAll(async () => {
  await served?.stop();
  rmSync(dir, { recursive: true, force: true });
});

describe("the kubernease command", () => {
  it("loads none of the server's modules for --help or a client verb", async () => {
    const server =
      /\/src\/(db|jobs|http|providers|simulator|scheduler)\/|\/node_modules\/(@electric-sql|bullmq|ioredis|dockerode|drizzle-orm|postgres|hono)\//;
    for (const args of [["--help"], ["get", "pods"]]) {
      const modules = await modulesLoadedBy(...args);
      // Recorded: the command's own modules were loaded through the hook.
      expect(modules.some((url) => url.endsWith("/src/cli/main.ts"))).toBe(true);
      expect(modules.filter((url) => server.test(url))).toEqual([]);
    }
    // The server's command does load them: the check sees them when they are there.
    const serve = await modulesLoadedBy("serve", "--port", "not-a-port");
    expect(serve.some((url) => server.test(url))).toBe(true);
  });
});

describe("the kubernease client verbs, over HTTPS", () => {
  it("login checks the key and saves server, CA and key", async () => {
    const bad = cli("login", "--server", served.url, "--ca", served.caPath, "--key", "kn_wrong");
    await expect(bad).rejects.toThrow(/401/);
    expect(
      await cli("login", "--server", served.url, "--ca", served.caPath, "--key", served.tenantKey as string),
    ).toMatch(/^logged in to https:\/\/127\.0\.0\.1:\d+/);
  });

  it("apply --dry-run plans, apply creates, get shows the pods running", async () => {
    expect(await cli("apply", "-f", EXAMPLE, "--dry-run")).toBe(
      "deployment/hello created (dry run)\nservice/hello created (dry run)",
    );
    expect(await cli("get", "deployments")).toBe("No resources found in default namespace.");
    expect(await cli("apply", "-f", EXAMPLE)).toBe("deployment/hello created\nservice/hello created");
    const deadline = Date.now() + 30_000;
    let pods = "";
    while (Date.now() < deadline) {
      pods = await cli("get", "pods");
      if ((pods.match(/1\/1\s+Running/g) ?? []).length === 3) break;
      await new Promise((r) => setTimeout(r, 200));
    }
    expect(pods.split("\n")[0]).toMatch(/^NAME\s+READY\s+STATUS\s+RESTARTS\s+AGE$/);
    expect(pods.match(/^hello-[a-z0-9]+-[a-z0-9]{5}\s+1\/1\s+Running\s+0\s+\d+s$/gm)).toHaveLength(3);
    const json = JSON.parse(await cli("get", "deployment", "hello", "-o", "json"));
    expect(json).toMatchObject({ kind: "Deployment", metadata: { name: "hello" }, spec: { replicas: 3 } });
    expect(await cli("get", "svc", "-o", "yaml")).toMatch(/kind: ServiceList/);
  });

  it("rollout status follows a new template; history lists revisions; undo goes back; describe tells the story", async () => {
    expect(await cli("rollout", "status", "deployment/hello", "--timeout", "60")).toBe(
      'deployment "hello" successfully rolled out',
    );
    const v2 = join(dir, "hello-v2.yaml");
    writeFileSync(v2, readFileSync(EXAMPLE, "utf8").replace("image: nginx:1.27", "image: nginx:1.28"));
    expect(await cli("apply", "-f", v2)).toBe("deployment/hello configured\nservice/hello unchanged");
    expect(await cli("rollout", "status", "deployment/hello", "--timeout", "60")).toMatch(
      /deployment "hello" successfully rolled out$/,
    );
    expect(await cli("rollout", "history", "deployment/hello")).toBe(
      "deployment.apps/hello\nREVISION  IMAGES\n1         nginx:1.27\n2         nginx:1.28",
    );
    expect(await cli("rollout", "undo", "deployment/hello")).toBe("deployment.apps/hello rolled back");
    expect(await cli("rollout", "status", "deployment/hello", "--timeout", "60")).toMatch(/successfully rolled out$/);
    const described = await cli("describe", "deployment", "hello");
    expect(described).toMatch(/^Name: +hello$/m);
    expect(described).toMatch(/^Replicas: +3 desired \| 3 updated \| 3 total \| 3 available \| 0 unavailable$/m);
    expect(described).toMatch(/ScalingReplicaSet +.*Scaled up replica set hello-/);
    expect(described).toMatch(/DeploymentRollback +Rolled back to revision 1/);
    const pods = await cli("get", "pods", "-o", "json");
    const name = JSON.parse(pods).items[0].metadata.name as string;
    expect(await cli("describe", "pod", name)).toMatch(/^Controlled by: +ReplicaSet\/hello-/m);
  });

  it("scale and delete", async () => {
    expect(await cli("scale", "deployment", "hello", "--replicas", "1")).toBe("deployment/hello scaled");
    expect(JSON.parse(await cli("get", "deploy", "hello", "-o", "json")).spec.replicas).toBe(1);
    expect(await cli("delete", "-f", EXAMPLE)).toBe("deployment/hello deleted\nservice/hello deleted");
    await expect(cli("get", "deployment", "hello")).rejects.toThrow(/404/);
  });
});
