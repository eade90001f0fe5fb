import { describe, expect, it } from "vitest";
import { reconcileService } from "./service.js";
import { testPod } from "./testkit.js";
import type { PodView, ServiceView } from "./types.js";

function pod(name: string, over: Partial<PodView> = {}): PodView {
  return testPod({
    id: `pod_${name}`,
    name,
    uid: `uid-${name}`,
    labels: { app: "redis" },
    phase: "Running",
    ready: true,
    podIP: `10.244.0.${name.length}`,
    namedPorts: { redis: 6379 },
    ...over,
  });
}

const svc: ServiceView = {
  name: "redis",
  namespace: "default",
  spec: { selector: { app: "redis" }, ports: [{ name: "db", port: 6379, targetPort: "redis", protocol: "TCP" }] },
};

describe("reconcileService", () => {
  it("lists ready pods matching the selector as addresses, resolving named target ports", () => {
    const actions = reconcileService(
      svc,
      [pod("a"), pod("bb", { ready: false }), pod("other", { labels: { app: "web" } })],
      undefined,
    );
    expect(actions).toEqual([
      {
        type: "setEndpoints",
        subsets: [
          {
            addresses: [{ ip: "10.244.0.1", targetRef: { kind: "Pod", name: "a", uid: "uid-a" } }],
            notReadyAddresses: [{ ip: "10.244.0.2", targetRef: { kind: "Pod", name: "bb", uid: "uid-bb" } }],
            ports: [{ name: "db", port: 6379, protocol: "TCP" }],
          },
        ],
      },
    ]);
  });

  it("writes nothing when the endpoints are unchanged, and leaves out pods without an address", () => {
    const first = reconcileService(svc, [pod("a")], undefined);
    const subsets = (first[0] as { subsets: unknown[] }).subsets;
    expect(reconcileService(svc, [pod("a"), pod("x", { podIP: undefined })], subsets as never)).toEqual([]);
  });

  it("keeps a deleted pod as a not-ready address until it is gone, so a proxy drains it", () => {
    const [action] = reconcileService(svc, [pod("a"), pod("yy", { deleting: true })], undefined);
    const [subset] = (action as { subsets: { addresses: { ip: string }[]; notReadyAddresses: { ip: string }[] }[] })
      .subsets;
    expect(subset?.addresses.map((a) => a.ip)).toEqual([pod("a").podIP]);
    expect(subset?.notReadyAddresses.map((a) => a.ip)).toEqual([pod("yy").podIP]);
  });

  it("selects nothing with an empty selector (Kubernetes leaves such endpoints to the user)", () => {
    const open = { ...svc, spec: { ...svc.spec, selector: {} } };
    expect(reconcileService(open, [pod("a")], undefined)).toEqual([]);
    expect(reconcileService(open, [pod("a")], [{ addresses: [], notReadyAddresses: [], ports: [] }])).toEqual([
      { type: "setEndpoints", subsets: [] },
    ]);
  });
});
