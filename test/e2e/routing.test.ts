/**
 * Routing end to end: the API, the control plane and the Docker provider in-process on the main
 * Engine, and a real HAProxy the platform starts and publishes to (src/jobs/haproxy). Requests go to
 * 127.0.0.1 with the tenant's Host header; `/cgi-bin/whoami` of the test image answers the pod's name.
 */

import { execFile } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import Docker from "dockerode";
import { afterAll, beforeAll, expect, it } from "vitest";
import { systemClock } from "../../src/core/clock.js";
import { ensureLocalCa } from "../../src/jobs/haproxy/certs.js";
import { HaproxyPublisher } from "../../src/jobs/haproxy/publisher.js";
import type { SyncOutcome } from "../../src/jobs/routing.js";
import { DockerProvider } from "../../src/providers/docker/index.js";
import { buildRouteTable } from "../../src/routing/table.js";
import { createTestApi, type TestApi } from "../helpers/api.js";
import { DOCKER_SOCKET, describeDocker, isDockerReachable, removeOwned } from "../helpers/docker.js";
import { describeHaproxy, freePort, get, isHaproxyAvailable } from "../helpers/haproxy.js";

const HOST = "web.acme.apps.test";
const run = promisify(execFile);
const TEST_MS = 300_000;
const reachable = await isDockerReachable();
const haproxy = await isHaproxyAvailable();
const owner = `e2e-routing-${randomBytes(4).toString("hex")}`;

function app(image: string, replicas: number): string {
  return `apiVersion: apps/v1
kind: Deployment
metadata: { name: web }
spec:
  replicas: ${replicas}
  selector: { matchLabels: { app: web } }
  template:
    metadata: { labels: { app: web } }
    spec:
      terminationGracePeriodSeconds: 10
      containers:
        - name: web
          image: ${image}
          ports: [{ name: http, containerPort: 8080 }]
          resources: { requests: { cpu: 50m, memory: 16Mi }, limits: { cpu: "1", memory: 32Mi } }
          readinessProbe:
            httpGet: { path: /_health, port: http }
            periodSeconds: 1
            timeoutSeconds: 3
            failureThreshold: 10
---
apiVersion: v1
kind: Service
metadata: { name: web }
spec:
  selector: { app: web }
  ports: [{ port: 80, targetPort: http }]
---
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata: { name: web }
spec:
  rules:
    - host: ${HOST}
      http:
        paths: [{ path: /, pathType: Prefix, backend: { service: { name: web, port: { number: 80 } } } }]
`;
}

/** A bounded constant load: `workers` clients, one request after another, until stopped or `max` sent. */
function load(port: number, workers: number, max: number) {
  const tally = {
    sent: 0,
    failed: 0,
    failures: [] as string[],
    failedAt: [] as { at: number; answer: string }[],
    byBody: new Map<string, number>(),
  };
  let stopped = false;
  const loops = Array.from({ length: workers }, async () => {
    while (!stopped && tally.sent < max) {
      tally.sent++;
      const answer = await get(port, HOST, "/", 10_000);
      if (answer.status !== 200) {
        tally.failed++;
        tally.failedAt.push({ at: Date.now(), answer: `${answer.status} ${answer.body.slice(0, 40)}` });
        if (tally.failures.length < 10) tally.failures.push(`${answer.status} ${answer.body.slice(0, 80)}`);
      } else tally.byBody.set(answer.body.trim(), (tally.byBody.get(answer.body.trim()) ?? 0) + 1);
    }
  });
  return {
    tally,
    async stop() {
      stopped = true;
      await Promise.all(loops);
      return tally;
    },
  };
}

describeHaproxy("Routing end to end", haproxy, () => {
  describeDocker("a Deployment behind the managed HAProxy, on Docker", reachable, () => {
    let api: TestApi<DockerProvider>;
    let publisher: HaproxyPublisher;
    let port: number;
    let tlsPort: number;
    let dir: string;
    let caPath: string;
    /** Each route sync's outcome, timed: with the tenant's events, what explains a failed request. */
    const outcomes: { at: number; outcome: SyncOutcome }[] = [];

    beforeAll(async () => {
      dir = mkdtempSync(join(tmpdir(), "kn-routing-e2e-"));
      port = await freePort();
      tlsPort = await freePort();
      const ca = await ensureLocalCa(dir, Date.now());
      caPath = ca.certPath;
      publisher = await HaproxyPublisher.start(
        {
          layout: {
            dir,
            bind: `127.0.0.1:${port}`,
            tls: { bind: `127.0.0.1:${tlsPort}`, certificateDir: join(dir, "certs") },
          },
          clock: systemClock,
          ca: { cert: ca.cert, key: ca.key },
        },
        buildRouteTable({ ingresses: [], services: [], endpoints: [] }),
      );
      const provider = new DockerProvider({
        clock: systemClock,
        owner,
        hosts: [{ name: "docker-main", socketPath: DOCKER_SOCKET }],
      });
      api = await createTestApi({
        provider,
        routing: { drainTimeoutMs: 20_000 },
        // One node holds every replica: a slow Engine under the suite's load must not read as a lost node
        // (all its pods NotReady at once), which is not what this file is about.
        controlPlane: {
          routing: { publisher, syncMs: 200, onOutcome: (outcome) => outcomes.push({ at: Date.now(), outcome }) },
          probeTickMs: 100,
          nodeGracePeriodMs: 120_000,
        },
      });
    }, TEST_MS);

    afterAll(async () => {
      await api?.close();
      await publisher?.stop();
      await removeOwned(new Docker({ socketPath: DOCKER_SOCKET }), owner);
      rmSync(dir, { recursive: true, force: true });
    }, TEST_MS);

    /** Prints what happened around each failed request: route syncs and the tenant's events, ±5 s. */
    async function explain(failedAt: { at: number; answer: string }[]): Promise<void> {
      const events = await api.store.listEvents({ tenantId: api.tenant.id });
      const near = (at: number) => failedAt.some((f) => Math.abs(f.at - at) <= 5_000);
      const lines = [
        ...failedAt.map(({ at, answer }) => ({ at, text: `request failed: ${answer.replace(/\s+/g, " ")}` })),
        ...outcomes
          .filter((o) => near(o.at) && o.outcome.status !== "unchanged")
          .map((o) => ({ at: o.at, text: `route sync ${JSON.stringify(o.outcome)}` })),
        ...events
          .filter((e) => near(e.lastSeenAt))
          .map((e) => ({ at: e.lastSeenAt, text: `${e.involvedKind} ${e.involvedName} ${e.reason}: ${e.message}` })),
      ].sort((a, b) => a.at - b.at);
      console.log(lines.map((l) => `${new Date(l.at).toISOString()} ${l.text}`).join("\n"));
    }

    const livePods = async () =>
      (await api.store.listPods({ tenantId: api.tenant.id })).filter(
        (p) => p.labels.app === "web" && p.deletionRequestedAt === null,
      );

    it(
      "routes the tenant's host to every replica in turn, over HTTP and HTTPS, and refuses the host to another tenant",
      async () => {
        expect((await api.call("POST", "/v1/apply", { body: app("kubernease-test/web:1", 3) })).status).toBe(200);
        await api.until(async () => (await livePods()).filter((p) => p.ready).length === 3, 180_000);
        const names = new Set((await livePods()).map((p) => p.name));
        // Round robin: once all three are in rotation, six requests meet each one. Until the route
        // sync has published them (it follows readiness within its period), the proxy may answer 503:
        // only a pod's own answer counts.
        const answered = await api.until(async () => {
          const seen = new Set<string>();
          for (let i = 0; i < 6; i++) {
            const res = await get(port, HOST, "/cgi-bin/whoami");
            if (res.status !== 200) return false;
            seen.add(res.body.trim());
          }
          return seen.size === 3 && seen;
        }, 60_000);
        expect([...answered].sort()).toEqual([...names].sort());
        // Over HTTPS, as a client would: the platform CA vouches for the tenant's host.
        const overTls = new Set<string>();
        for (let i = 0; i < 6; i++) {
          const { stdout } = await run("curl", [
            ...["-sS", "--fail", "--max-time", "10", "--cacert", caPath],
            ...["--resolve", `${HOST}:${tlsPort}:127.0.0.1`, `https://${HOST}:${tlsPort}/cgi-bin/whoami`],
          ]);
          overTls.add(stdout.trim());
        }
        expect([...overTls].sort()).toEqual([...names].sort());
        expect(await get(port, HOST, "/")).toEqual({ status: 200, body: "web 1\n" });
        expect((await get(port, "other.apps.test", "/")).status).toBe(404);

        const taken = await api.call("POST", "/v1/apply", {
          key: api.other.key,
          body: `apiVersion: networking.k8s.io/v1
kind: Ingress
metadata: { name: mine }
spec:
  rules: [{ host: ${HOST}, http: { paths: [{ path: /, pathType: Prefix, backend: { service: { name: x, port: { number: 80 } } } }] } }]
`,
        });
        expect(taken.status).toBe(409);
        expect(JSON.stringify(taken.body)).toContain(HOST);
      },
      TEST_MS,
    );

    it(
      "fails no request under constant load through a rolling update, a scale to 10 and back, and a pod's loss",
      async () => {
        const before = await publisher.reloadCounter();
        const running = load(port, 4, 20_000);
        const waitForVersion = async (body: string, replicas: number) =>
          api.until(async () => {
            const pods = await livePods();
            const image = body === "web 2" ? "kubernease-test/web:2" : "kubernease-test/web:1";
            const ready = pods.filter((p) => p.ready && (p.spec.containers as { image: string }[])[0]?.image === image);
            return pods.length === replicas && ready.length === replicas;
          }, 180_000);

        expect((await api.call("POST", "/v1/apply", { body: app("kubernease-test/web:2", 3) })).status).toBe(200);
        await waitForVersion("web 2", 3);
        expect((await api.call("POST", "/v1/apply", { body: app("kubernease-test/web:2", 10) })).status).toBe(200);
        await waitForVersion("web 2", 10);
        expect((await api.call("POST", "/v1/apply", { body: app("kubernease-test/web:2", 3) })).status).toBe(200);
        await waitForVersion("web 2", 3);
        const [victim] = await livePods();
        expect((await api.call("DELETE", `/api/v1/namespaces/default/pods/${victim?.name}`)).status).toBe(200);
        await api.until(async () => (await api.store.getPod(victim?.id ?? "")) === undefined, 60_000);
        await waitForVersion("web 2", 3);
        // The load goes on (bounded) until it has sent its share, if the changes were quicker than that.
        await api.until(async () => running.tally.sent >= 1_000, 120_000);
        const tally = await running.stop();
        if (tally.failed > 0) await explain(tally.failedAt);

        // Without the rotation and drain gates (JobContext.routing), about 6% of these requests failed.
        expect(tally.failures).toEqual([]);
        expect(tally.failed).toBe(0);
        expect(tally.sent).toBeGreaterThanOrEqual(1_000);
        expect(tally.byBody.get("web 2")).toBeGreaterThan(0);
        // Endpoint churn went through the runtime API; only new backends or routes reload.
        const after = await publisher.reloadCounter();
        expect(after?.failed).toBe(before?.failed);
      },
      TEST_MS,
    );
  });
});
