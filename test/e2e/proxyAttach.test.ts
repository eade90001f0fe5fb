/**
 * `serve --proxy … --proxy-attach DIR`: the platform publishes to an HAProxy the operator runs
 * (master-worker, its master socket in DIR) instead of starting one, and leaves it running.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, expect, it } from "vitest";
import { describeHaproxy, freePort, get, isHaproxyAvailable } from "../helpers/haproxy.js";
import { type Served, serve } from "../helpers/serve.js";

const haproxy = await isHaproxyAvailable();

describeHaproxy("serve attached to the operator's HAProxy", haproxy, () => {
  const root = mkdtempSync(join(tmpdir(), "kn-attach-"));
  const dir = join(root, "proxy");
  let proxy: ChildProcess | undefined;
  let served: Served | undefined;

  afterAll(async () => {
    await served?.stop();
    proxy?.kill("SIGKILL");
    rmSync(root, { recursive: true, force: true });
  });

  it("takes the platform's route table at start, and keeps serving after the platform stops", async () => {
    const port = await freePort();
    // The operator's own first configuration answers 418 to everything.
    mkdirSync(dir);
    writeFileSync(
      join(dir, "haproxy.cfg"),
      `global\n  stats socket ${dir}/admin.sock mode 600 level admin\ndefaults\n  mode http\n  timeout connect 5s\n  timeout client 30s\n  timeout server 30s\nfrontend f\n  bind 127.0.0.1:${port}\n  http-request return status 418\n`,
    );
    proxy = spawn("haproxy", ["-W", "-db", "-S", `${dir}/master.sock`, "-f", `${dir}/haproxy.cfg`], {
      stdio: "ignore",
    });
    const deadline = Date.now() + 30_000;
    while ((await get(port, "x.test", "/").catch(() => ({ status: 0 }))).status !== 418) {
      if (Date.now() > deadline) throw new Error("the operator's HAProxy did not answer");
      await new Promise((r) => setTimeout(r, 100));
    }

    served = await serve(join(root, "data"), {}, 60_000, ["--proxy", `127.0.0.1:${port}`, "--proxy-attach", dir]);
    // The platform's table: no route for an unknown host is its 404, not the operator's 418.
    expect((await get(port, "x.test", "/")).status).toBe(404);
    expect(readFileSync(join(dir, "haproxy.cfg"), "utf8")).toMatch(/^# kubernease route table /);
    expect(await served.stop()).toBe(0);
    expect(proxy.exitCode).toBeNull();
    expect((await get(port, "x.test", "/")).status).toBe(404);
  }, 120_000);
});
