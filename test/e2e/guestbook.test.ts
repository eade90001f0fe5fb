import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { Agent, fetch } from "undici";
import { afterAll, describe, expect, it } from "vitest";
import type { KnownNode } from "../helpers/leaks.js";
import { httpsClient, type Served, serve } from "../helpers/serve.js";

const GUESTBOOK = fileURLToPath(
  new URL(
    "../../../shared/corpus/kubernetes-examples/web/guestbook/all-in-one/guestbook-all-in-one.yaml",
    import.meta.url,
  ),
);
const corpusPresent = existsSync(GUESTBOOK);
if (!corpusPresent && process.env.CI === "true") throw new Error(`the corpus is missing at ${GUESTBOOK}; CI needs it`);
const describeCorpus = corpusPresent ? describe : describe.skip;

const dataDir = mkdtempSync(join(tmpdir(), "kubernease-e2e-"));
let served: Served | undefined;
afterAll(async () => {
  await served?.stop();
  rmSync(dataDir, { recursive: true, force: true });
});

/** Polls (bounded) until `check` holds; generous, since only the logic is under test here, not speed. */
async function until<T>(what: string, check: () => Promise<T | false | undefined>, timeoutMs = 30_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`${what}: not reached within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

describeCorpus(
  `kubernease serve, over HTTPS, with the guestbook (corpus${corpusPresent ? "" : " absent: skipped"})`,
  () => {
    let client: ReturnType<typeof httpsClient>;
    let nodes: KnownNode[] = [];
    const knownNodes = async () => nodes;

    const readyPods = async (selector?: string) => {
      const q = selector ? `?labelSelector=${encodeURIComponent(selector)}` : "";
      const res = await client.call("GET", `/api/v1/namespaces/default/pods${q}`);
      return res.body.items.filter(
        (p: any) =>
          !p.metadata.deletionTimestamp &&
          p.status.conditions?.some((c: any) => c.type === "Ready" && c.status === "True"),
      ).length as number;
    };
    const podCount = async (selector: string) =>
      (await client.call("GET", `/api/v1/namespaces/default/pods?labelSelector=${encodeURIComponent(selector)}`)).body
        .items.length as number;

    it("starts with no external service, printing the URL, the CA, an admin key and a tenant key", async () => {
      served = await serve(dataDir);
      expect(served.url).toMatch(/^https:\/\/127\.0\.0\.1:\d+$/);
      expect(served.caPath).toBe(join(dataDir, "ca.crt"));
      expect(served.adminKey).toMatch(/^kn_/);
      expect(served.tenantKey).toMatch(/^kn_/);
      const admin = new Agent({ connect: { ca: readFileSync(served.caPath, "utf8") } });
      const res = await fetch(`${served.url}/api/v1/nodes`, {
        dispatcher: admin,
        headers: { authorization: `Bearer ${served.adminKey}` },
      });
      const list = (await res.json()) as {
        items: { metadata: { name: string }; status: { addresses: { address: string }[] } }[];
      };
      nodes = list.items.map((n) => ({ name: n.metadata.name, address: n.status.addresses[0]?.address ?? "" }));
      expect(nodes).toHaveLength(3);
      await admin.close();
      const health = await fetch(`${served.url}/healthz`, {
        dispatcher: new Agent({ connect: { ca: readFileSync(served.caPath, "utf8") } }),
      });
      expect(health.status).toBe(200);
      client = httpsClient(served.url, served.caPath, served.tenantKey as string, knownNodes);
    });

    it("applies the guestbook over HTTPS and runs 6 ready pods", async () => {
      const res = await client.call("POST", "/v1/apply", readFileSync(GUESTBOOK, "utf8"));
      expect(res.status).toBe(200);
      expect(res.body.results.map((r: any) => `${r.kind}/${r.name}:${r.action}`)).toEqual([
        "Service/redis-master:created",
        "Deployment/redis-master:created",
        "Service/redis-replica:created",
        "Deployment/redis-replica:created",
        "Service/frontend:created",
        "Deployment/frontend:created",
      ]);
      await until("6 pods ready", async () => (await readyPods()) === 6);
      // The owners look at their pods at most once a second while they keep changing: the status follows.
      const deployment = () => client.call("GET", "/apis/apps/v1/namespaces/default/deployments/frontend");
      await until("frontend's status", async () => (await deployment()).body.status?.availableReplicas === 3);
      expect((await deployment()).body.status).toMatchObject({ replicas: 3, readyReplicas: 3, availableReplicas: 3 });
    });

    it("scales frontend to 5 and back to 1", async () => {
      const scale = "/apis/apps/v1/namespaces/default/deployments/frontend/scale";
      expect(
        (await client.call("PATCH", scale, JSON.stringify({ spec: { replicas: 5 } }), "application/merge-patch+json"))
          .status,
      ).toBe(200);
      await until("5 frontend pods ready", async () => (await readyPods("app=guestbook")) === 5);
      expect(
        (await client.call("PATCH", scale, JSON.stringify({ spec: { replicas: 1 } }), "application/merge-patch+json"))
          .status,
      ).toBe(200);
      await until(
        "1 frontend pod left",
        async () => (await podCount("app=guestbook")) === 1 && (await readyPods("app=guestbook")) === 1,
      );
    });

    it("keeps every object across a restart on the same data folder, and converges again", async () => {
      const key = served?.tenantKey as string;
      const names = async () =>
        (await client.call("GET", "/apis/apps/v1/deployments")).body.items.map(
          (d: any) => `${d.metadata.name}:${d.metadata.uid}`,
        );
      const before = await names();
      await client.close();
      expect(await served?.stop()).toBe(0);
      served = await serve(dataDir);
      // Keys are shown once: the second start prints none, and the first ones still work.
      expect(served.adminKey).toBeUndefined();
      expect(served.tenantKey).toBeUndefined();
      client = httpsClient(served.url, served.caPath, key, knownNodes);
      expect(await names()).toEqual(before);
      await until("4 pods ready after the restart", async () => (await readyPods()) === 4);
    });

    it("deleting a deployment removes its pods", async () => {
      const res = await client.call("DELETE", "/apis/apps/v1/namespaces/default/deployments/frontend");
      expect(res.status).toBe(200);
      await until("frontend pods gone", async () => (await podCount("app=guestbook")) === 0);
      expect(await readyPods()).toBe(3);
      await client.close();
    });
  },
);
