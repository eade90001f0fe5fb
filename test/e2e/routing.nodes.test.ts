/**
 * The edge proxy and a node of another machine: an Engine reached over TCP is remote, so its pods'
 * own addresses (on its bridges) are not this machine's to reach; the managed HAProxy serves them
 * at the node's address and the port published for each pod.
 *
 * The "remote" Engine is a `dockerd` of this machine (test/helpers/docker.ts) listening on
 * 127.0.0.1 over TCP, its node address its own bridge's (an address of this machine on a network of
 * ours), so the published ports are reached there, as on a host of its own.
 */
import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, expect, it } from "vitest";
import { systemClock } from "../../src/core/clock.js";
import type { PodRecord } from "../../src/db/types.js";
import { HaproxyPublisher } from "../../src/jobs/haproxy/publisher.js";
import { DockerProvider, LABELS } from "../../src/providers/docker/index.js";
import { buildRouteTable } from "../../src/routing/table.js";
import { createTestApi, type TestApi } from "../helpers/api.js";
import { DockerNode, describeDocker, isDockerReachable, removeOurs } from "../helpers/docker.js";
import { describeHaproxy, freePort, get, isHaproxyAvailable } from "../helpers/haproxy.js";

const HOST = "far.acme.apps.test";
const TEST_MS = 300_000;
const reachable = await isDockerReachable();
const haproxy = await isHaproxyAvailable();
const owner = `e2e-routing-nodes-${randomBytes(4).toString("hex")}`;
/** A node no other test uses, reached over TCP. */
const remote = new DockerNode(13, { tcp: true });

const manifest = `apiVersion: apps/v1
kind: Deployment
metadata: { name: far }
spec:
  replicas: 2
  selector: { matchLabels: { app: far } }
  template:
    metadata: { labels: { app: far } }
    spec:
      terminationGracePeriodSeconds: 1
      containers:
        - name: web
          image: kubernease-test/web:1
          ports: [{ name: http, containerPort: 8080 }]
          resources: { requests: { cpu: 50m, memory: 16Mi } }
          readinessProbe: { httpGet: { path: /_health, port: http }, periodSeconds: 1 }
---
apiVersion: v1
kind: Service
metadata: { name: far }
spec:
  selector: { app: far }
  ports: [{ port: 80, targetPort: http }]
---
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata: { name: far }
spec:
  rules:
    - host: ${HOST}
      http:
        paths: [{ path: /, pathType: Prefix, backend: { service: { name: far, port: { number: 80 } } } }]
`;

describeHaproxy("The edge proxy and a remote node", haproxy, () => {
  describeDocker("pods of an Engine reached over TCP, served at its address and published ports", reachable, () => {
    let api: TestApi<DockerProvider>;
    let publisher: HaproxyPublisher;
    let port: number;
    let dir: string;

    beforeAll(async () => {
      await remote.start();
      dir = mkdtempSync(join(tmpdir(), "kn-routing-nodes-"));
      port = await freePort();
      publisher = await HaproxyPublisher.start(
        { layout: { dir, bind: `127.0.0.1:${port}` }, clock: systemClock },
        buildRouteTable({ ingresses: [], services: [], endpoints: [] }),
      );
      const provider = new DockerProvider({
        clock: systemClock,
        owner,
        hosts: [{ name: remote.name, host: "127.0.0.1", port: remote.tcpPort, address: remote.address }],
      });
      api = await createTestApi({
        provider,
        controlPlane: { routing: { publisher, syncMs: 200 }, probeTickMs: 100, nodeGracePeriodMs: 120_000 },
      });
    }, TEST_MS);

    afterAll(async () => {
      await api?.close();
      await publisher?.stop();
      await removeOurs([remote], owner);
      rmSync(dir ?? "", { recursive: true, force: true });
    }, TEST_MS);

    it(
      "routes the host to each pod through its node's address and published port",
      async () => {
        expect(api.provider.remoteNodes()).toEqual([remote.name]);
        expect((await api.call("POST", "/v1/apply", { body: manifest })).status).toBe(200);
        const pods = await api.until(async () => {
          const live = (await api.store.listPods({ tenantId: api.tenant.id })).filter(
            (p) => p.deletionRequestedAt === null && p.ready,
          );
          return live.length === 2 && live;
        }, 180_000);

        // Each pod's 8080 as its Engine publishes it: on the node's address.
        const published = new Map<string, number>();
        for (const pod of pods as PodRecord[]) {
          const [sandbox] = await remote.client().listContainers({
            filters: JSON.stringify({ label: [`${LABELS.pod}=${pod.id}`, `${LABELS.role}=sandbox`] }),
          });
          const binding = sandbox?.Ports.find((p) => p.PrivatePort === 8080 && p.PublicPort !== undefined);
          expect(binding?.IP).toBe(remote.address);
          published.set(pod.name, binding?.PublicPort as number);
        }
        // The proxy serves them there, as it reads back: every answer comes from one of the two.
        const served = await api.until(async () => {
          const up = (await publisher.readBack()).servers.filter((s) => s.state !== "maint");
          return up.length === 2 && up;
        }, 60_000);
        expect(served.map((s) => `${s.address}:${s.port}`).sort()).toEqual(
          [...published.values()].map((p) => `${remote.address}:${p}`).sort(),
        );
        const names = new Set<string>();
        for (let i = 0; i < 8; i++) {
          const answer = await get(port, HOST, "/cgi-bin/whoami");
          expect(answer.status).toBe(200);
          names.add(answer.body.trim());
        }
        expect([...names].sort()).toEqual([...published.keys()].sort());
      },
      TEST_MS,
    );
  });
});
