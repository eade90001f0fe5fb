/**
 * Rollouts with a managed proxy (src/jobs/rotation.ts): a new pod counts as
 * available only once the proxy serves it, and a deleted pod is stopped only once
 * the proxy has drained it (or its drain bound has passed). The proxy here is a
 * publisher the test holds back; the real HAProxy is in test/e2e/routing.test.ts.
 */
import { afterEach, describe, expect, it } from "vitest";
import type { PodRecord } from "../../src/db/types.js";
import type { RoutePublisher } from "../../src/jobs/routing.js";
import type { RouteTable } from "../../src/routing/table.js";
import { ADMIN_KEY, createTestApi, type TestApi } from "../helpers/api.js";

function manifests(image: string): string {
  return `apiVersion: apps/v1
kind: Deployment
metadata: { name: web }
spec:
  replicas: 2
  selector: { matchLabels: { app: web } }
  template:
    metadata: { labels: { app: web } }
    spec:
      containers:
        - name: web
          image: ${image}
          ports: [{ containerPort: 8080 }]
          resources: { requests: { cpu: 50m, memory: 32Mi } }
---
apiVersion: v1
kind: Service
metadata: { name: web }
spec:
  selector: { app: web }
  ports: [{ port: 80, targetPort: 8080 }]
---
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata: { name: web }
spec:
  rules:
    - host: web.rotation.test
      http:
        paths: [{ path: /, pathType: Prefix, backend: { service: { name: web, port: { number: 80 } } } }]
`;
}

/** A proxy the test controls: while `holding`, publishes fail (it keeps serving the last table); drains end when told. */
function heldProxy() {
  const state = { holding: false, drained: false, tables: [] as RouteTable[] };
  const publisher: RoutePublisher = {
    publish: async (table) => {
      if (state.holding) return { ok: false, version: null, error: "held by the test" };
      state.tables.push(table);
      return { ok: true, version: table.version };
    },
    drain: async () => state.drained,
  };
  return { publisher, state };
}

let api: TestApi | undefined;
afterEach(async () => {
  await api?.close();
  api = undefined;
});

const pods = async (t: TestApi) => (await t.store.listPods({ tenantId: t.tenant.id })).filter((p) => p.ownerName);
const imageOf = (p: PodRecord) => (p.spec.containers as { image: string }[])[0]?.image;
const served = (state: { tables: RouteTable[] }) =>
  state.tables.at(-1)?.backends.flatMap((b) => b.servers.filter((s) => s.state === "ready").map((s) => s.name)) ?? [];

describe("rollouts behind a managed proxy", () => {
  it("take an old pod out only once the proxy serves its replacement, and stop it only once drained", async () => {
    const proxy = heldProxy();
    const t = await createTestApi({
      routing: { drainTimeoutMs: 120_000 },
      controlPlane: { routing: { publisher: proxy.publisher, syncMs: 100 } },
    });
    api = t;
    expect((await t.call("POST", "/v1/apply", { body: manifests("web:1") })).status).toBe(200);
    await t.until(async () => served(proxy.state).length === 2);

    // The proxy stops taking tables: the new pod turns Ready but is not served.
    proxy.state.holding = true;
    expect((await t.call("POST", "/v1/apply", { body: manifests("web:2") })).status).toBe(200);
    const fresh = await t.until(async () => (await pods(t)).find((p) => imageOf(p) === "web:2" && p.ready));
    // Bounded look: many reconcile passes (each 200 ms at most while a pod awaits the proxy).
    for (let i = 0; i < 15; i++) {
      await new Promise((r) => setTimeout(r, 100));
      const old = (await pods(t)).filter((p) => imageOf(p) === "web:1");
      expect(old.filter((p) => p.deletionRequestedAt !== null)).toEqual([]);
    }
    const deployment = (await t.call("GET", "/apis/apps/v1/namespaces/default/deployments/web")).body;
    expect(deployment.status.availableReplicas).toBe(2);
    // Held back by the wait for the proxy, not by a reconcile that fails (which holds a rollout back too).
    expect(t.jobErrors).toEqual([]);

    // The proxy serves the new pod: an old one is taken out, and waits for its drain while still running.
    proxy.state.holding = false;
    const leaving = await t.until(async () =>
      (await pods(t)).find((p) => imageOf(p) === "web:1" && p.deletionRequestedAt !== null),
    );
    expect(served(proxy.state)).toContain(fresh.name);
    await t.until(async () =>
      proxy.state.tables.at(-1)?.backends[0]?.servers.some((s) => s.name === leaving.name && s.state === "draining"),
    );
    for (let i = 0; i < 10; i++) {
      await new Promise((r) => setTimeout(r, 100));
      expect(await t.store.getPod(leaving.id)).toBeDefined();
      expect((await t.provider.listPods()).map((p) => p.podId)).toContain(leaving.id);
    }
    proxy.state.drained = true;
    await t.until(async () => (await t.store.getPod(leaving.id)) === undefined);
    await t.until(async () => (await pods(t)).every((p) => imageOf(p) === "web:2") && served(proxy.state).length === 2);
    // The operator sees the version the proxy serves, and no failure once it took the table again.
    const routing = (await t.call("GET", "/v1/admin/routing", { key: ADMIN_KEY })).body;
    expect(routing.published).toMatchObject({ version: proxy.state.tables.at(-1)?.version, error: null });
  }, 60_000);

  it("keeps a deleted pod running while a table putting it in rotation is being published, until drained", async () => {
    // A proxy that has drained everything it drains, whose publish of a table with 3 pods in rotation
    // hangs until the test lets it go: the proxy may serve the third pod already, or not yet.
    const state = { tables: [] as RouteTable[], release: () => {}, published: false };
    const held = new Promise<void>((resolve) => {
      state.release = resolve;
    });
    let entered: (name: string) => void = () => {};
    const entering = new Promise<string>((resolve) => {
      entered = resolve;
    });
    const publisher: RoutePublisher = {
      publish: async (table) => {
        const ready = table.backends.flatMap((b) => b.servers.filter((s) => s.state === "ready"));
        if (ready.length === 3 && !state.published) {
          const known = new Set(served(state));
          entered(ready.find((s) => !known.has(s.name))?.name ?? "");
          await held;
          state.published = true;
        }
        state.tables.push(table);
        return { ok: true, version: table.version };
      },
      drain: async () => true,
    };
    const t = await createTestApi({
      routing: { drainTimeoutMs: 120_000 },
      controlPlane: { routing: { publisher, syncMs: 100 } },
    });
    api = t;
    expect((await t.call("POST", "/v1/apply", { body: manifests("web:1") })).status).toBe(200);
    await t.until(async () => served(state).length === 2);
    const scaled = manifests("web:1").replace("replicas: 2", "replicas: 3");
    expect((await t.call("POST", "/v1/apply", { body: scaled })).status).toBe(200);
    const name = await entering;
    const pod = (await pods(t)).find((p) => p.name === name) as PodRecord;
    try {
      expect(pod).toBeDefined();
      expect((await t.call("DELETE", `/api/v1/namespaces/default/pods/${name}`)).status).toBe(200);
      // Bounded look while the publish hangs: the pod is deleted but still runs (before, the status still
      // said it was not served, and it was stopped at once).
      for (let i = 0; i < 10; i++) {
        await new Promise((r) => setTimeout(r, 100));
        expect((await t.provider.listPods()).map((p) => p.podId)).toContain(pod.id);
      }
    } finally {
      state.release();
    }
    await t.until(async () => (await t.store.getPod(pod.id)) === undefined, 30_000);
    expect(t.jobErrors).toEqual([]);
  }, 60_000);

  it("counts a Ready pod as available anyway once its rotation bound has passed, if the proxy never serves it", async () => {
    const proxy = heldProxy();
    const t = await createTestApi({
      routing: { drainTimeoutMs: 500, rotationTimeoutMs: 1_500 },
      controlPlane: { routing: { publisher: proxy.publisher, syncMs: 100 } },
    });
    api = t;
    expect((await t.call("POST", "/v1/apply", { body: manifests("web:1") })).status).toBe(200);
    await t.until(async () => served(proxy.state).length === 2);
    proxy.state.holding = true;
    expect((await t.call("POST", "/v1/apply", { body: manifests("web:2") })).status).toBe(200);
    const fresh = await t.until(async () => (await pods(t)).find((p) => imageOf(p) === "web:2" && p.ready));
    const leaving = await t.until(
      async () => (await pods(t)).find((p) => imageOf(p) === "web:1" && p.deletionRequestedAt !== null),
      30_000,
    );
    const readyAt = Date.parse(
      (fresh.status.conditions as { type: string; lastTransitionTime: string }[]).find((c) => c.type === "Ready")
        ?.lastTransitionTime ?? "",
    );
    expect((leaving.deletionRequestedAt as number) - readyAt).toBeGreaterThanOrEqual(1_500);
    expect(t.jobErrors).toEqual([]);
  }, 60_000);

  it("stops a deleted pod once its drain bound has passed, even if the proxy never drains it", async () => {
    const proxy = heldProxy();
    const t = await createTestApi({
      routing: { drainTimeoutMs: 1_500 },
      controlPlane: { routing: { publisher: proxy.publisher, syncMs: 100 } },
    });
    api = t;
    expect((await t.call("POST", "/v1/apply", { body: manifests("web:1") })).status).toBe(200);
    await t.until(async () => served(proxy.state).length === 2);
    const [victim] = await pods(t);
    expect((await t.call("DELETE", `/api/v1/namespaces/default/pods/${victim?.name}`)).status).toBe(200);
    const deletedAt = (await t.store.getPod(victim?.id ?? ""))?.deletionRequestedAt as number;
    await t.until(async () => (await t.store.getPod(victim?.id ?? "")) === undefined, 30_000);
    expect(Date.now() - deletedAt).toBeGreaterThanOrEqual(1_500);
  }, 60_000);
});
