import { describe, expect, it } from "vitest";
import { ManualClock } from "../core/clock.js";
import { seededRng } from "../core/rng.js";
import type { ObjectQuery, PodRecord, StoredObject, StoreOps } from "../db/types.js";
import type { Reach, RouteTable } from "../routing/table.js";
import { generateCa, issueCertificate } from "./haproxy/certs.js";
import { edgeReach, nullRoutePublisher, type RoutePublisher, type RoutingStatusSpec, RoutingSync } from "./routing.js";

/** One tenant's routed objects: an Ingress to Service web, and its Endpoints with the subset `subset()` answers at each read. */
function routedObjects(subset: () => unknown): Pick<StoreOps, "listTenants" | "listObjects"> {
  const object = (kind: string, spec: unknown) =>
    ({ kind, tenantId: "t1", namespace: "default", name: "web", spec }) as unknown as StoredObject;
  return {
    listTenants: async () => [{ id: "t1", name: "acme", quota: null, createdAt: 0 }],
    listObjects: async (query: ObjectQuery) => {
      if (query.kind === "Ingress") {
        const backend = { service: { name: "web", port: { number: 80 } } };
        return [object("Ingress", { rules: [{ host: "a.test", http: { paths: [{ pathType: "Prefix", backend }] } }] })];
      }
      if (query.kind === "Service") return [object("Service", { ports: [{ port: 80 }] })];
      if (query.kind === "Endpoints") return [object("Endpoints", { subsets: [subset()] })];
      return [];
    },
  };
}

/** A store of one tenant's Ingress, Service and Endpoints, whose endpoint address the test changes. */
function fakeStore() {
  const state = { ip: "10.0.0.1" };
  const store = routedObjects(() => ({ addresses: [{ ip: state.ip }], ports: [{ port: 8080 }] }));
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

/**
 * A store of one tenant's Ingress, Service and Endpoints, and of the routing status: an object that
 * starts as `initial` and counts its writes. The Endpoints list the pods `pods()` answers at each
 * load, Ready or not; `onWrite` runs after each status write.
 */
function statusStore(options: {
  pods: () => { ready: string[]; notReady?: string[] };
  initial?: RoutingStatusSpec;
  onWrite?: () => void;
}) {
  const status: { spec?: RoutingStatusSpec; resourceVersion: number; writes: number } = {
    ...(options.initial ? { spec: options.initial } : {}),
    resourceVersion: options.initial ? 1 : 0,
    writes: 0,
  };
  const save = async (spec: unknown) => {
    status.spec = structuredClone(spec) as RoutingStatusSpec;
    status.resourceVersion++;
    status.writes++;
    options.onWrite?.();
    return { resourceVersion: String(status.resourceVersion) } as unknown as StoredObject;
  };
  // Each pod keeps its address (10.0.0.1 for the first one named, …) whether Ready or not.
  const addresses: string[] = [];
  const address = (name: string) => {
    if (!addresses.includes(name)) addresses.push(name);
    return { ip: `10.0.0.${addresses.indexOf(name) + 1}`, targetRef: { kind: "Pod", name } };
  };
  const store = {
    ...routedObjects(() => {
      const { ready, notReady = [] } = options.pods();
      return { addresses: ready.map(address), notReadyAddresses: notReady.map(address), ports: [{ port: 8080 }] };
    }),
    getTenantByName: async () => ({ id: "sys", name: "system", quota: null, createdAt: 0 }),
    getObject: async () =>
      status.spec
        ? ({ spec: status.spec, resourceVersion: String(status.resourceVersion) } as unknown as StoredObject)
        : undefined,
    createObject: async (fields: { spec: unknown }) => save(fields.spec),
    updateObject: async (_ref: unknown, fields: { spec: unknown }) => save(fields.spec),
  };
  return { store, status };
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

  it("publishes again after a failed publish, even a table equal to the last good one (the failed one may be half applied)", async () => {
    const { store, state } = fakeStore();
    let failing = false;
    const { publisher, tables } = recordingPublisher(() => failing);
    const sync = new RoutingSync(store, publisher);
    expect((await sync.sync()).status).toBe("published");
    failing = true;
    state.ip = "10.0.0.2";
    expect((await sync.sync()).status).toBe("failed");
    failing = false;
    state.ip = "10.0.0.1";
    expect((await sync.sync()).status).toBe("published");
    expect((await sync.sync()).status).toBe("unchanged");
    expect(tables.map((t) => t.backends[0]?.servers[0]?.address)).toEqual(["10.0.0.1", "10.0.0.2", "10.0.0.1"]);
  });

  it("publishes a table only once every pod it puts in rotation was announced before the table was loaded", async () => {
    // Pods a..c, each Ready or not in the Endpoints; the status lives in a store of one object. What
    // the status had announced when the Endpoints were last read is what the table loaded then may
    // put in rotation: a pod deleted later reads that it is (about to be) served, and waits.
    const pods = ["a", "b", "c"];
    const ready = new Set(["a"]);
    let announcedAtLoad = new Set<string>();
    const { store, status } = statusStore({
      pods: () => {
        announcedAtLoad = new Set(pods.filter((p) => status.spec?.pods[`acme/default/${p}`]?.state === "ready"));
        return { ready: pods.filter((p) => ready.has(p)), notReady: pods.filter((p) => !ready.has(p)) };
      },
      // Each status write lets the next pod turn Ready: the table loaded before the write is stale.
      onWrite: () => {
        if (!ready.has("b")) ready.add("b");
        else ready.add("c");
      },
    });
    const unannounced: string[][] = [];
    const publisher: RoutePublisher = {
      publish: async (table) => {
        const inRotation = table.backends.flatMap((b) => b.servers.filter((s) => s.state === "ready"));
        unannounced.push(inRotation.map((s) => s.name).filter((n) => !announcedAtLoad.has(n)));
        return { ok: true, version: table.version };
      },
      drain: async () => true,
    };
    const clock = new ManualClock();
    const sync = new RoutingSync(store, publisher, { status: { store: store as never, clock, rng: seededRng(1) } });
    for (let i = 0; i < 3; i++) expect((await sync.sync()).status).not.toBe("failed");
    expect(unannounced.length).toBeGreaterThan(0);
    expect(unannounced.flat()).toEqual([]);
    expect(Object.keys(status.spec?.pods ?? {}).sort()).toEqual(["acme/default/a", "acme/default/b", "acme/default/c"]);
    expect(Object.values(status.spec?.pods ?? {}).every((p) => p.state === "ready" && !p.publishing)).toBe(true);
  });

  it("a new leader whose first publish fails keeps, in the status, the pods the last leader's table serves", async () => {
    const { store, status } = statusStore({
      pods: () => ({ ready: ["a"] }),
      initial: {
        version: "v-last-leader",
        publishedAtMs: 0,
        error: null,
        pods: { "acme/default/a": { state: "ready", sinceMs: 0 } },
        services: ["acme/default/web"],
      },
    });
    const { publisher, tables } = recordingPublisher(() => true);
    const sync = new RoutingSync(store as never, publisher, {
      status: { store: store as never, clock: new ManualClock(), rng: seededRng(1) },
    });
    expect(await sync.sync()).toMatchObject({ status: "failed", error: "haproxy -c refused it" });
    expect(tables).toHaveLength(1);
    // Pod a is still served by the table the last leader published: a deletion reading the status waits for its drain.
    expect(status.spec?.pods["acme/default/a"]?.state).toBe("ready");
    expect(status.spec).toMatchObject({ version: "v-last-leader", error: "haproxy -c refused it" });
  });

  it("once stopped, starts no sync, and one under way neither records nor publishes again", async () => {
    const { store, status } = statusStore({ pods: () => ({ ready: ["a"] }) });
    let release: () => void = () => {};
    const held = new Promise<void>((resolve) => {
      release = resolve;
    });
    let publishing: () => void = () => {};
    const publishStarted = new Promise<void>((resolve) => {
      publishing = resolve;
    });
    const tables: RouteTable[] = [];
    const publisher: RoutePublisher = {
      publish: async (table) => {
        tables.push(table);
        publishing();
        await held;
        return { ok: true, version: table.version };
      },
      drain: async () => true,
    };
    const sync = new RoutingSync(store as never, publisher, {
      status: { store: store as never, clock: new ManualClock(), rng: seededRng(1) },
    });
    const running = sync.kick();
    await publishStarted;
    const writesBeforeStop = status.writes;
    const stopped = sync.stop();
    release();
    await Promise.all([running, stopped]);
    // The announcement before the publish was written; nothing after the stop was.
    expect(status.writes).toBe(writesBeforeStop);
    await sync.kick();
    expect(tables).toHaveLength(1);
    expect(status.writes).toBe(writesBeforeStop);
  });

  it("takes every table with the null publisher", async () => {
    const { store } = fakeStore();
    expect((await new RoutingSync(store, nullRoutePublisher).sync()).status).toBe("published");
  });
});

describe("RoutingSync and tenants' certificates", () => {
  it("drops a tenant's certificate for the platform's when its clock passes the certificate's end", async () => {
    const clock = new ManualClock(Date.parse("2030-01-01T00:00:00Z"));
    const ca = await generateCa(clock.now());
    const issued = await issueCertificate(ca, { dns: ["a.test"] }, clock.now(), 2);
    const b64 = (text: string) => Buffer.from(text, "utf8").toString("base64");
    const object = (kind: string, name: string, fields: Record<string, unknown>) =>
      ({ kind, tenantId: "t1", namespace: "default", name, ...fields }) as unknown as StoredObject;
    const backend = { service: { name: "web", port: { number: 80 } } };
    const store: Pick<StoreOps, "listTenants" | "listObjects"> = {
      listTenants: async () => [{ id: "t1", name: "acme", quota: null, createdAt: 0 }],
      listObjects: async (query: ObjectQuery) => {
        if (query.kind === "Ingress") {
          const rules = [{ host: "a.test", http: { paths: [{ pathType: "Prefix", backend }] } }];
          return [object("Ingress", "web", { spec: { tls: [{ hosts: ["a.test"], secretName: "web-tls" }], rules } })];
        }
        if (query.kind === "Service") return [object("Service", "web", { spec: { ports: [{ port: 80 }] } })];
        if (query.kind === "Secret") {
          const data = { "tls.crt": b64(issued.cert), "tls.key": b64(issued.key) };
          return [object("Secret", "web-tls", { spec: { type: "kubernetes.io/tls", data } })];
        }
        return [];
      },
    };
    const { publisher, tables } = recordingPublisher();
    const sync = new RoutingSync(store, publisher, { clock });
    expect((await sync.sync()).status).toBe("published");
    expect(tables[0]?.frontends[0]).toMatchObject({ certificate: "acme/default/web-tls", tls: true });
    expect(tables[0]?.frontends[0]?.certificateFingerprint).toBeDefined();
    clock.advance(24 * 3_600_000);
    expect((await sync.sync()).status).toBe("unchanged");
    clock.advance(2 * 24 * 3_600_000);
    expect((await sync.sync()).status).toBe("published");
    expect(tables[1]?.frontends[0]?.certificateFingerprint).toBeUndefined();
    expect(tables[1]?.frontends[0]?.certificateProblem).toMatch(/^the certificate expired on /);
  });
});

describe("edgeReach", () => {
  const pod = (id: string, name: string, nodeName: string | null) =>
    ({ id, tenantId: "t1", namespace: "default", name, nodeName }) as unknown as PodRecord;
  const store: Pick<StoreOps, "listTenants" | "listPods"> = {
    listTenants: async () => [{ id: "t1", name: "acme", quota: null, createdAt: 0 }],
    listPods: async () => [pod("p1", "near", "local-1"), pod("p2", "far", "remote-1"), pod("p3", "new", "remote-1")],
  };
  const source = { tenant: "acme", namespace: "default", name: "web" };
  const at = (name: string, ip: string) => ({ ip, targetRef: { name } });

  it("reaches pods of other machines' nodes at the node's address and published port, this machine's at their own", async () => {
    const provider = {
      remoteNodes: () => ["remote-1"],
      edgeEndpoint: (p: { podId: string }, port: number) =>
        p.podId === "p2" ? { address: "192.0.2.1", port: 30_000 + port } : undefined,
    };
    const reach = (await edgeReach(store, provider)) as Reach;
    expect(reach(source, at("near", "10.1.0.5"), 8080)).toEqual({ address: "10.1.0.5", port: 8080 });
    expect(reach(source, at("far", "10.9.0.7"), 8080)).toEqual({ address: "192.0.2.1", port: 38_080 });
    // Its published port not known yet, or its pod gone from the store: left out, never its own address.
    expect(reach(source, at("new", "10.9.0.8"), 8080)).toBeUndefined();
    expect(reach(source, at("gone", "10.9.0.9"), 8080)).toBeUndefined();
    expect(reach({ ...source, tenant: "globex" }, at("far", "10.9.0.7"), 8080)).toBeUndefined();
  });

  it("reads nothing when every node is this machine's", async () => {
    const reads: string[] = [];
    const counting: Pick<StoreOps, "listTenants" | "listPods"> = {
      listTenants: async () => {
        reads.push("tenants");
        return [];
      },
      listPods: async () => {
        reads.push("pods");
        return [];
      },
    };
    expect(await edgeReach(counting, { remoteNodes: () => [], edgeEndpoint: () => undefined })).toBeUndefined();
    expect(await edgeReach(counting, {})).toBeUndefined();
    expect(reads).toEqual([]);
  });
});
