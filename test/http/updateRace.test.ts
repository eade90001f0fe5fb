import { readFileSync } from "node:fs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { openStore } from "../../src/db/index.js";
import type { ConditionalWrite, ObjectChange, ObjectRef, Store, StoreOps } from "../../src/db/types.js";
import { createTestApi, type TestApi } from "../helpers/api.js";

const DEPLOYMENT = readFileSync(new URL("../fixtures/web.yaml", import.meta.url), "utf8").split(/^---$/m)[0] as string;
const DEP = "/apis/apps/v1/namespaces/default/deployments";

/**
 * Another writer (a controller writing the Deployment's status) that comes between each of the
 * next `left` writes of a Deployment's spec and the read it was made from: it writes the status
 * in the same transaction, just before the conditional spec write, so that write finds a newer
 * resourceVersion than the one it read.
 */
const racer = { left: 0, wrote: 0 };

function racingOps(tx: StoreOps): StoreOps {
  return new Proxy(tx, {
    get(target, prop) {
      if (prop === "updateObject") {
        return async (ref: ObjectRef, change: ObjectChange, write: ConditionalWrite) => {
          if (ref.kind === "Deployment" && racer.left > 0) {
            racer.left--;
            racer.wrote++;
            const current = await target.getObject(ref);
            await target.updateObjectStatus(
              ref,
              { ...current?.status, racedBy: racer.wrote },
              { expectedResourceVersion: current?.resourceVersion, nowMs: write.nowMs },
            );
          }
          return target.updateObject(ref, change, write);
        };
      }
      const value = Reflect.get(target, prop, target);
      return typeof value === "function" ? value.bind(target) : value;
    },
  });
}

function racingStore(inner: Store): Store {
  return new Proxy(inner, {
    get(target, prop) {
      if (prop === "transaction") {
        return <T>(fn: (tx: StoreOps) => Promise<T>) => target.transaction((tx) => fn(racingOps(tx)));
      }
      const value = Reflect.get(target, prop, target);
      return typeof value === "function" ? value.bind(target) : value;
    },
  });
}

let api: TestApi;
beforeAll(async () => {
  api = await createTestApi({ store: racingStore(await openStore({ memory: true })) });
  expect((await api.call("POST", DEP, { body: DEPLOYMENT })).status).toBe(201);
});
afterAll(() => api.close());

describe("a write the client did not pin to a resourceVersion, while a controller writes status", () => {
  it("PATCH …/scale is made again on what the other writer left, however often it loses the race", async () => {
    racer.left = 8;
    const res = await api.call("PATCH", `${DEP}/web/scale`, {
      body: { spec: { replicas: 3 } },
      contentType: "application/merge-patch+json",
    });
    expect(res.status).toBe(200);
    expect(res.body.spec.replicas).toBe(3);
    expect(racer.left).toBe(0);
    const stored = await api.store.getObject({
      tenantId: api.tenant.id,
      kind: "Deployment",
      namespace: "default",
      name: "web",
    });
    expect(stored?.spec.replicas).toBe(3);
  });

  it("PATCH of the Deployment keeps both writes: the patch and the status written meanwhile", async () => {
    racer.left = 8;
    const wroteBefore = racer.wrote;
    const res = await api.call("PATCH", `${DEP}/web`, {
      body: { metadata: { labels: { tier: "front" } } },
      contentType: "application/merge-patch+json",
    });
    expect(res.status).toBe(200);
    expect(res.body.metadata.labels).toMatchObject({ app: "web", tier: "front" });
    expect(racer.wrote - wroteBefore).toBe(8);
  });

  it("a Scale pinned to an old resourceVersion is still a 409, not retried", async () => {
    const scale = (await api.call("GET", `${DEP}/web/scale`)).body;
    await api.call("PATCH", `${DEP}/web/scale`, {
      body: { spec: { replicas: 2 } },
      contentType: "application/merge-patch+json",
    });
    const stale = await api.call("PUT", `${DEP}/web/scale`, { body: { ...scale, spec: { replicas: 5 } } });
    expect(stale.status).toBe(409);
    expect((await api.call("GET", `${DEP}/web/scale`)).body.spec.replicas).toBe(2);
  });
});
