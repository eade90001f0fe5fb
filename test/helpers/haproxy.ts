/**
 * HAProxy for tests: whether the binary is installed (scripts/services.sh ensure_haproxy),
 * the CI rule for suites that need it, free loopback ports and tiny HTTP endpoints.
 * Each test starts its own haproxy (HaproxyPublisher.start) in a temp dir and stops it after.
 */
import { execFile } from "node:child_process";
import { randomInt } from "node:crypto";
import { createServer, request, type Server } from "node:http";
import { createServer as createNetServer } from "node:net";
import { promisify } from "node:util";
import { describe, expect, it } from "vitest";

const run = promisify(execFile);

/** Whether `haproxy -v` runs within 5 s. */
export async function isHaproxyAvailable(): Promise<boolean> {
  try {
    await run("haproxy", ["-v"], { timeout: 5_000 });
    return true;
  } catch {
    return false;
  }
}

/** Like describeDocker: the suite when haproxy is installed; failing under CI=true otherwise, skipped elsewhere. */
export function describeHaproxy(title: string, available: boolean, suite: () => void): void {
  const why = "the haproxy binary is not installed (scripts/services.sh ensure_haproxy)";
  if (available) {
    describe(title, suite);
  } else if (process.env.CI === "true") {
    describe(title, () => {
      it("finds haproxy (required when CI=true)", () => {
        expect.fail(`${why}; with CI=true this fails rather than skips`);
      });
    });
  } else {
    describe.skip(`${title} — skipped, ${why}`, () => {
      it("needs haproxy", () => {});
    });
  }
}

/** Where `freePort` picks: below Linux's ephemeral range (32768–60999 by default). */
const FREE_PORTS = { from: 10_000, to: 32_000 };

/**
 * A TCP port free on 127.0.0.1 right now, for a listener the test starts next (HAProxy's, a
 * process's). Picked at random below the kernel's ephemeral range, never by the kernel (port 0):
 * a port from that range can be taken before the listener binds it, as the local port of any
 * outgoing connection or by a Docker Engine publishing a container's port, both of which the
 * suite's files running beside this one make by the hundred. (A haproxy exited at start in CI;
 * a port taken so is the likely cause.)
 */
export async function freePort(): Promise<number> {
  for (let attempt = 0; attempt < 50; attempt++) {
    const port = randomInt(FREE_PORTS.from, FREE_PORTS.to);
    const server = createNetServer();
    const bound = await new Promise<boolean>((resolve) => {
      server.once("error", () => resolve(false));
      server.listen(port, "127.0.0.1", () => resolve(true));
    });
    if (!bound) continue;
    await new Promise<void>((resolve) => server.close(() => resolve()));
    return port;
  }
  throw new Error(`no free port on 127.0.0.1 in ${FREE_PORTS.from}–${FREE_PORTS.to} after 50 tries`);
}

export interface Endpoint {
  port: number;
  server: Server;
}

/** An HTTP server on 127.0.0.1 answering `<name>` to every request, after `delayMs` for paths under /slow. */
export async function startEndpoint(name: string, delayMs = 0): Promise<Endpoint> {
  const server = createServer((req, res) => {
    const answer = () => res.end(name);
    if (req.url?.startsWith("/slow")) setTimeout(answer, delayMs);
    else answer();
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const address = server.address();
  if (address === null || typeof address === "string") throw new Error("no port");
  return { port: address.port, server };
}

export async function stopEndpoints(endpoints: Endpoint[]): Promise<void> {
  await Promise.all(
    endpoints.map(
      (e) =>
        new Promise<void>((resolve) => {
          e.server.closeAllConnections();
          e.server.close(() => resolve());
        }),
    ),
  );
}

/** GET http://127.0.0.1:<port><path> with a Host header; status and body, or status 0 on a connection error. */
export function get(
  port: number,
  host: string,
  path = "/",
  timeoutMs = 10_000,
): Promise<{ status: number; body: string }> {
  return new Promise((resolve) => {
    const req = request(
      { host: "127.0.0.1", port, path, headers: { host }, agent: false, timeout: timeoutMs },
      (res) => {
        let body = "";
        res.setEncoding("utf8");
        res.on("data", (chunk: string) => {
          body += chunk;
        });
        res.on("end", () => resolve({ status: res.statusCode ?? 0, body }));
      },
    );
    req.on("timeout", () => req.destroy(new Error("timeout")));
    req.on("error", () => resolve({ status: 0, body: "" }));
    req.end();
  });
}
