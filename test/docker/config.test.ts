import { describe, expect, it } from "vitest";
import { dockerHosts, serveConfig } from "../../src/cli/config.js";

describe("serve --docker", () => {
  it("turns a list of Engines into nodes: named or numbered, unix sockets on 127.0.0.1, tcp on its host", () => {
    expect(dockerHosts("unix:///var/run/docker.sock, edge=tcp://10.0.0.7:2375")).toEqual([
      { name: "docker-1", socketPath: "/var/run/docker.sock" },
      { name: "edge", host: "10.0.0.7", port: 2375, address: "10.0.0.7" },
    ]);
    expect(serveConfig({}, { KUBERNEASE_DOCKER: "a=unix:///run/a.sock" }).docker).toEqual([
      { name: "a", socketPath: "/run/a.sock" },
    ]);
    expect(serveConfig({}, {}).docker).toBeUndefined();
  });

  it("refuses what it cannot dial, and two nodes of one name", () => {
    expect(() => dockerHosts("http://x:1")).toThrow(/neither unix/);
    expect(() => dockerHosts(" , ")).toThrow(/at least one Engine/);
    expect(() => dockerHosts("a=unix:///x.sock,a=unix:///y.sock")).toThrow(/must differ/);
  });
});
