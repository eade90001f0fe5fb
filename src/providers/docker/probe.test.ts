import http from "node:http";
import net from "node:net";
import { describe, expect, it } from "vitest";
import { httpProbe, tcpProbe } from "./probe.js";

/** A port on 127.0.0.1 that nothing listens on any more: dialling it is refused. */
async function closedPort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as net.AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

describe("Docker probes' messages", () => {
  // The probe dials the node's address and published port; its message reaches tenants (events, pod
  // status), who must never learn a node's address: it names the pod's address and container port.
  const pod = { host: "10.9.8.7", port: 8080 };

  it("an HTTP probe that fails names the pod's address and port, not the node's", async () => {
    const port = await closedPort();
    const result = await httpProbe("127.0.0.1", port, { path: "/_health" }, 2_000, pod);
    expect(result).toEqual({ ok: false, message: 'Get "http://10.9.8.7:8080/_health": connect: connection refused' });
    expect(result.message).not.toContain("127.0.0.1");
    expect(result.message).not.toContain(String(port));
  });

  it("a TCP probe that fails names the pod's address and port, not the node's", async () => {
    const port = await closedPort();
    const result = await tcpProbe("127.0.0.1", port, 2_000, pod);
    expect(result).toEqual({ ok: false, message: "dial tcp 10.9.8.7:8080: connect: connection refused" });
  });

  it("a tenant's path stays a path: `@host:port/…` and `//host/…` never send the probe elsewhere", async () => {
    const seen: string[] = [];
    const server = http.createServer((req, res) => {
      seen.push(req.url ?? "");
      res.end("ok");
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    const { port } = server.address() as net.AddressInfo;
    const elsewhere = await closedPort();
    try {
      for (const path of [`@127.0.0.1:${elsewhere}/x`, `//127.0.0.1:${elsewhere}/x`, "/ok?a=1"]) {
        const result = await httpProbe("127.0.0.1", port, { path }, 2_000, pod);
        expect(result.ok, path).toBe(true);
      }
      expect(seen).toEqual([`/@127.0.0.1:${elsewhere}/x`, `//127.0.0.1:${elsewhere}/x`, "/ok?a=1"]);
    } finally {
      await new Promise((resolve) => server.close(resolve));
    }
  });
});
