import { describe, expect, it } from "vitest";
import { planChange, slotsFor } from "./haproxy.js";
import { type ProxyEndpoint, proxyServices, proxyTable, renderProxyConfig } from "./serviceProxy.js";

const svc = (name: string, spec: object) => ({ namespace: "default", name, spec });
const eps = (name: string, ready: string[], notReady: string[] = [], port = 6379, portName?: string) => ({
  namespace: "default",
  name,
  subsets: [
    {
      addresses: ready.map((ip, i) => ({ ip, targetRef: { name: `${name}-r${i}` } })),
      notReadyAddresses: notReady.map((ip, i) => ({ ip, targetRef: { name: `${name}-n${i}` } })),
      ports: [{ ...(portName ? { name: portName } : {}), port }],
    },
  ],
});
const direct = (e: ProxyEndpoint) => ({ address: e.ip, port: e.port });

describe("proxyServices", () => {
  it("serves each TCP port of a Service from its endpoints: ready ones and draining ones", () => {
    const { services, skipped } = proxyServices(
      [svc("redis-master", { ports: [{ port: 6379, targetPort: 6379 }] })],
      [eps("redis-master", ["10.0.0.2"], ["10.0.0.3"])],
    );
    expect(skipped).toEqual([]);
    expect(services).toEqual([
      {
        namespace: "default",
        name: "redis-master",
        ports: [
          {
            port: 6379,
            endpoints: [
              { pod: "redis-master-r0", ip: "10.0.0.2", port: 6379, ready: true },
              { pod: "redis-master-n0", ip: "10.0.0.3", port: 6379, ready: false },
            ],
          },
        ],
      },
    ]);
  });

  it("matches named Service ports to the endpoint ports of the same name", () => {
    const { services } = proxyServices(
      [
        svc("web", {
          ports: [
            { name: "http", port: 80 },
            { name: "admin", port: 9000 },
          ],
        }),
      ],
      [
        {
          namespace: "default",
          name: "web",
          subsets: [
            {
              addresses: [{ ip: "10.0.0.9" }],
              ports: [
                { name: "http", port: 8080 },
                { name: "admin", port: 9090 },
              ],
            },
          ],
        },
      ],
    );
    expect(services[0]?.ports.map((p) => [p.port, p.endpoints.map((e) => e.port)])).toEqual([
      [80, [8080]],
      [9000, [9090]],
    ]);
  });

  it("gives no proxy to a headless or ExternalName Service or one without a TCP port, and says why", () => {
    const { services, skipped } = proxyServices(
      [
        svc("db", { clusterIP: "None", ports: [{ port: 5432 }] }),
        svc("dns", { ports: [{ port: 53, protocol: "UDP" }] }),
        svc("ext", { type: "ExternalName", externalName: "db.example.com", ports: [{ port: 5432 }] }),
      ],
      [],
    );
    expect(services).toEqual([]);
    expect(skipped.map((s) => `${s.name}: ${s.reason}`)).toEqual([
      "db: headless (clusterIP: None)",
      "dns: no TCP port",
      "ext: ExternalName: a name elsewhere, not pods",
    ]);
  });
});

describe("proxyTable and its changes", () => {
  const [redis] = proxyServices(
    [svc("redis", { ports: [{ port: 6379 }] })],
    [eps("redis", ["10.0.0.2", "10.0.0.3"])],
  ).services;

  it("addresses endpoints as the node reaches them, and leaves out those it cannot reach", () => {
    const table = proxyTable(redis as never, (e) =>
      e.ip === "10.0.0.3" ? undefined : { address: "192.0.2.7", port: 31000 },
    );
    expect(table.backends).toMatchObject([
      { name: "p6379", port: 6379, servers: [{ name: "redis-r0", address: "192.0.2.7", port: 31000, state: "ready" }] },
    ]);
  });

  it("renders one TCP listener per Service port, its server slots, and the command socket in the run folder", () => {
    const table = proxyTable(redis as never, direct);
    const config = renderProxyConfig(table, slotsFor(table), "/run/kubernease");
    expect(config).toContain("stats socket /run/kubernease/admin.sock mode 600 level admin expose-fd listeners");
    expect(config).toContain("  mode tcp");
    expect(config).toContain("  nbthread 1");
    expect(config).toMatch(/frontend f6379\n {2}bind :6379\n {2}default_backend p6379/);
    expect(config).toContain("  server s1 10.0.0.2:6379");
    expect(config).toContain("  server s2 10.0.0.3:6379");
    expect(config).toContain("  server s3 0.0.0.0:0 disabled");
  });

  it("takes endpoint churn through the runtime API, a new port through a reload", () => {
    const before = proxyTable(redis as never, direct);
    const slots = slotsFor(before);
    const [moved] = proxyServices(
      [svc("redis", { ports: [{ port: 6379 }] })],
      [eps("redis", ["10.0.0.2", "10.0.0.4"], ["10.0.0.3"])],
    ).services;
    const plan = planChange(before, slots, proxyTable(moved as never, direct), { dir: "", bind: "" });
    expect(plan.needsReload).toBe(false);
    expect(plan.needsReload === false && plan.commands).toEqual([
      "set server p6379/s3 addr 10.0.0.4 port 6379",
      "set server p6379/s2 state drain",
      "set server p6379/s3 state ready",
      "set server p6379/s3 weight 1",
    ]);
    const [twoPorts] = proxyServices(
      [svc("redis", { ports: [{ port: 6379 }, { name: "sentinel", port: 26379 }] })],
      [eps("redis", ["10.0.0.2"])],
    ).services;
    const grown = planChange(before, slots, proxyTable(twoPorts as never, direct), { dir: "", bind: "" });
    expect(grown).toEqual({ needsReload: true, reason: "new backend p26379" });
  });
});
