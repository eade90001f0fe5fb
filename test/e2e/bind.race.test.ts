/**
 * Two schedulers, each a process of its own with its own connections, race to bind pods onto one
 * nearly full node, round after round; in some rounds one of them is SIGKILLed mid-way. The node is
 * never over-committed: a bind is a conditional update of the node's allocation in one statement
 * (src/db/sqlStore.ts), so a read-modify-write bind would show here as allocation past capacity.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, expect, it } from "vitest";
import { seededRng } from "../../src/core/rng.js";
import { openStore } from "../../src/db/index.js";
import type { Store } from "../../src/db/types.js";
import { createTestDatabase, describePostgres, isPostgresReachable } from "../helpers/db.js";
import { TYPESCRIPT_LOADER } from "../helpers/processes.js";

const BINDER = fileURLToPath(new URL("../fixtures/binder.ts", import.meta.url));
const ROUNDS = 12;
const CAPACITY_PODS = 7;
const POD_CPU = 100;
const reachable = await isPostgresReachable();

function binder(databaseUrl: string, tenantId: string, node: string): { child: ChildProcess; exited: Promise<void> } {
  const child = spawn(process.execPath, ["--import", TYPESCRIPT_LOADER, BINDER, databaseUrl, tenantId, node], {
    stdio: ["ignore", "pipe", "pipe"],
  });
  let out = "";
  child.stderr?.on("data", (d) => (out += d));
  const exited = new Promise<void>((resolve, reject) =>
    child.once("exit", (code, signal) =>
      code === 0 || signal === "SIGKILL" ? resolve() : reject(new Error(`binder exited ${code}: ${out}`)),
    ),
  );
  return { child, exited };
}

describePostgres("two schedulers racing for one node", reachable, () => {
  let database: { url: string; drop(): Promise<void> };
  let store: Store;

  beforeAll(async () => {
    database = await createTestDatabase();
    store = await openStore({ databaseUrl: database.url, dataDir: "/nonexistent" });
  });
  afterAll(async () => {
    await store?.close();
    await database?.drop();
  });

  it("never over-commits the node, whoever binds and whoever is killed", async () => {
    const rng = seededRng("bind-race");
    for (let round = 0; round < ROUNDS; round++) {
      const node = `race-${round}`;
      const tenantId = `tenant-race-${round}`;
      // Nearly full: room for CAPACITY_PODS more pods, three times as many waiting.
      await store.upsertNode(
        {
          ...{ name: node, provider: "simulated", address: "10.0.0.1", labels: {}, maxPods: 110 },
          ...{ cpuMillis: 4_000, memoryBytes: 2 ** 34, ready: true, unschedulable: false, lastHeartbeatAt: 1 },
        },
        1,
      );
      const filler = await store.createPod(pod(tenantId, "filler", 4_000 - CAPACITY_PODS * POD_CPU));
      expect(await store.bindPod(filler.id, node, 1)).toBe("bound");
      for (let i = 0; i < CAPACITY_PODS * 3; i++) await store.createPod(pod(tenantId, `p-${i}`, POD_CPU));

      const racers = [binder(database.url, tenantId, node), binder(database.url, tenantId, node)];
      const killing = round % 2 === 1;
      if (killing) {
        await new Promise((r) => setTimeout(r, 200 + rng.int(800)));
        racers[rng.int(2)]?.child.kill("SIGKILL");
      }
      await Promise.all(racers.map((r) => r.exited));

      const allocated = await store.getNode(node);
      const bound = (await store.listPods({ tenantId })).filter((p) => p.nodeName === node);
      expect(allocated?.allocatedCpuMillis).toBeLessThanOrEqual(4_000);
      expect(allocated?.allocatedCpuMillis).toBe(bound.reduce((n, p) => n + p.cpuMillis, 0));
      expect(allocated?.allocatedPods).toBe(bound.length);
      // A racer that was not killed binds until the node is full.
      if (!killing) expect(bound.length).toBe(CAPACITY_PODS + 1);
      expect(bound.length).toBeLessThanOrEqual(CAPACITY_PODS + 1);
    }
  }, 300_000);
});

function pod(tenantId: string, name: string, cpuMillis: number) {
  return {
    id: `pod-${tenantId}-${name}`,
    tenantId,
    namespace: "default",
    name,
    uid: `uid-${tenantId}-${name}`,
    ownerKind: null,
    ownerName: null,
    ownerUid: null,
    labels: {},
    annotations: {},
    templateHash: null,
    spec: { containers: [{ name: "web", image: "web:1" }] },
    cpuMillis,
    memoryBytes: 2 ** 20,
    createdAt: 1,
  };
}
