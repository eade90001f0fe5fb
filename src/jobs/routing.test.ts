import { describe, expect, it } from "vitest";
import { ManualClock } from "../core/clock.js";
import type { ObjectQuery, StoredObject, StoreOps } from "../db/types.js";
import type { RouteTable } from "../routing/table.js";
import { nullRoutePublisher, type RoutePublisher, RoutingSync } from "./routing.js";

/** A store of one tenant's Ingress, Service and Endpoints, whose endpoint address the test changes. */
function fakeStore() {
  const state = { ip: "10.0.0.1" };
  const object = (kind: string, spec: unknown) =>
    ({ kind, tenantId: "t1", namespace: "default", name: "web", spec }) as unknown as StoredObject;
  const store: Pick<StoreOps, "listTenants" | "listObjects"> = {
    listTenants: async () => [{ id: "t1", name: "acme", quota: null, createdAt: 0 }],
    listObjects: async (query: ObjectQuery) => {
      if (query.kind === "Ingress") {
        const backend = { service: { name: "web", port: { number: 80 } } };
        return [object("Ingress", { rules: [{ host: "a.test", http: { paths: [{ pathType: "Prefix", backend }] } }] })];
      }
      if (query.kind === "Service") return [object("Service", { ports: [{ port: 80 }] })];
      if (query.kind === "Endpoints") {
        return [object("Endpoints", { subsets: [{ addresses: [{ ip: state.ip }], ports: [{ port: 8080 }] }] })];
      }
      return [];
    },
  };
  return { store, state };
}

function recordingPublisher(fail = () => false) {
  const tables: RouteTable[] = [];
  const publisher: RoutePublisher = {
    publish: async (table) => {
      tables.push(table);
      return fail()
        ? { ok: false, version: null, error: "haproxy -c refused it" }
        : { ok: true, version: table.version };
    },
  };
  return { publisher, tables };
}

describe("RoutingSync", () => {
  it("publishes the store's table once per version", async () => {
    const { store, state } = fakeStore();
    const { publisher, tables } = recordingPublisher();
    const sync = new RoutingSync(store, publisher);
    expect((await sync.sync()).status).toBe("published");
    expect((await sync.sync()).status).toBe("unchanged");
    state.ip = "10.0.0.2";
    expect((await sync.sync()).status).toBe("published");
    expect(tables.map((t) => t.backends[0]?.servers[0]?.address)).toEqual(["10.0.0.1", "10.0.0.2"]);
  });

  it("tries a failed table again on the next run and records the failure", async () => {
    const { store } = fakeStore();
    let failing = true;
    const { publisher, tables } = recordingPublisher(() => failing);
    const sync = new RoutingSync(store, publisher);
    expect(await sync.sync()).toMatchObject({ status: "failed", error: "haproxy -c refused it" });
    failing = false;
    expect((await sync.sync()).status).toBe("published");
    expect(tables).toHaveLength(2);
    expect(sync.failures).toEqual(["haproxy -c refused it"]);
  });

  it("runs on the clock until stopped", async () => {
    const { store, state } = fakeStore();
    const { publisher, tables } = recordingPublisher();
    const clock = new ManualClock();
    const sync = new RoutingSync(store, publisher);
    const stop = sync.start(clock, 1_000);
    const settle = async () => {
      for (let i = 0; i < 100; i++) await Promise.resolve();
    };
    clock.advance(999);
    await settle();
    expect(tables).toHaveLength(0);
    clock.advance(1);
    await settle();
    expect(tables).toHaveLength(1);
    state.ip = "10.0.0.3";
    clock.advance(1_000);
    await settle();
    expect(tables).toHaveLength(2);
    stop();
    state.ip = "10.0.0.4";
    clock.advance(5_000);
    await settle();
    expect(tables).toHaveLength(2);
    expect(clock.pendingTimers()).toBe(0);
  });

  it("runs one sync at a time: kicks during a run make exactly one more run", async () => {
    const { store, state } = fakeStore();
    let release = () => {};
    let calls = 0;
    const publisher: RoutePublisher = {
      publish: async (table) => {
        calls++;
        if (calls === 1) await new Promise<void>((r) => (release = r));
        return { ok: true, version: table.version };
      },
    };
    const sync = new RoutingSync(store, publisher);
    const first = sync.kick();
    for (let i = 0; i < 100 && calls === 0; i++) await Promise.resolve();
    state.ip = "10.0.0.9";
    const second = sync.kick();
    const third = sync.kick();
    release();
    await Promise.all([first, second, third]);
    expect(calls).toBe(2);
  });

  it("takes every table with the null publisher", async () => {
    const { store } = fakeStore();
    expect((await new RoutingSync(store, nullRoutePublisher).sync()).status).toBe("published");
  });
});
