/**
 * A Service whose pods run on another host: the tenant's Service proxy on this host forwards to them
 * through the other host's address and the ports it publishes them on.
 *
 * Both Engines run on this machine. The main one is `docker-main` on 127.0.0.1, where the client
 * pod (and so the tenant's proxy) runs; a second `dockerd` (test/helpers/docker.ts) is a node whose
 * address is its own bridge's (10.240.255.1, an address of this machine on a network of ours), so
 * that its published ports are not loopback-only, as on a host of its own. On one machine a
 * container's connection to that address lands in the host's INPUT chain, where the host firewall
 * refuses it (src/providers/docker/firewall.ts) — as it must — so this test reads what the proxy
 * serves and reaches the published port from the host; between two machines the same connection
 * is forwarded, not delivered to the host.
 */
import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { get } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import Docker from "dockerode";
import { afterAll, beforeAll, expect, it } from "vitest";
import { systemClock } from "../../src/core/clock.js";
import type { PodRecord } from "../../src/db/types.js";
import { socketCommand } from "../../src/jobs/haproxy/socket.js";
import { DockerProvider, LABELS } from "../../src/providers/docker/index.js";
import { parseServersState } from "../../src/routing/haproxy.js";
import { createTestApi, type TestApi } from "../helpers/api.js";
import {
  DOCKER_SOCKET,
  DockerNode,
  describeDocker,
  isDockerReachable,
  removeOurs,
  removeOwned,
} from "../helpers/docker.js";
import { describeHaproxy, isHaproxyAvailable } from "../helpers/haproxy.js";

const TEST_MS = 300_000;
const reachable = await isDockerReachable();
const haproxy = await isHaproxyAvailable();
const owner = `e2e-svc-nodes-${randomBytes(4).toString("hex")}`;
const MAIN = "docker-main";
/** A node no other test uses. */
const remote = new DockerNode(10);

/** The label the operator gives each host here, so that a tenant's pod can ask for one (not by node name: refused). */
const HOST_LABEL = "e2e.kubernease.dev/host";

function deployment(name: string, node: string): string {
  return `apiVersion: apps/v1
kind: Deployment
metadata: { name: ${name} }
spec:
  replicas: 1
  selector: { matchLabels: { app: ${name} } }
  template:
    metadata: { labels: { app: ${name} } }
    spec:
      nodeSelector: { ${HOST_LABEL}: ${node} }
      terminationGracePeriodSeconds: 1
      containers:
        - name: web
          image: kubernease-test/web:1
          ports: [{ name: http, containerPort: 8080 }]
          resources: { requests: { cpu: 50m, memory: 16Mi }, limits: { cpu: "1", memory: 32Mi } }
          readinessProbe: { httpGet: { path: /_health, port: http }, periodSeconds: 1 }
`;
}

/** `/cgi-bin/whoami` of the test image at address:port (its CGI ends header lines with a bare LF, which only the lenient parser takes). */
function whoami(address: string, port: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const req = get(
      { host: address, port, path: "/cgi-bin/whoami", insecureHTTPParser: true, timeout: 5_000 },
      (res) => {
        let body = "";
        res.on("data", (chunk: Buffer) => {
          body += chunk.toString("utf8");
        });
        res.on("end", () => resolve(body.trim()));
      },
    );
    req.on("timeout", () => req.destroy(new Error(`GET ${address}:${port}: timed out`)));
    req.on("error", reject);
  });
}

describeHaproxy("Service traffic to another host", haproxy, () => {
  describeDocker("a Service proxy's servers on a remote Docker host", reachable, () => {
    let api: TestApi<DockerProvider>;
    let dir: string;

    beforeAll(async () => {
      await remote.start();
      dir = mkdtempSync(join(tmpdir(), "kn-svc-nodes-"));
      const provider = new DockerProvider({
        clock: systemClock,
        owner,
        hosts: [
          { name: MAIN, socketPath: DOCKER_SOCKET, labels: { [HOST_LABEL]: MAIN } },
          {
            name: remote.name,
            socketPath: remote.socketPath,
            address: remote.address,
            labels: { [HOST_LABEL]: remote.name },
          },
        ],
        serviceProxies: { dir },
      });
      api = await createTestApi({
        provider,
        controlPlane: { probeTickMs: 200, nodeGracePeriodMs: 120_000, serviceProxySyncMs: 500 },
      });
    }, TEST_MS);

    afterAll(async () => {
      await api?.close();
      await removeOwned(new Docker({ socketPath: DOCKER_SOCKET }), owner);
      await removeOurs([remote], owner);
      rmSync(dir ?? "", { recursive: true, force: true });
    }, TEST_MS);

    const podOf = async (app: string) =>
      api.until(async () => {
        const pods = (await api.store.listPods({ tenantId: api.tenant.id })).filter(
          (p) => p.labels.app === app && p.deletionRequestedAt === null && p.ready,
        );
        return pods.length === 1 && (pods[0] as PodRecord);
      }, 180_000);

    it(
      "serves the remote pod at its host's address and published port, and the local one at its pod address",
      async () => {
        const body = [
          deployment("remote", remote.name),
          deployment("local", MAIN),
          // One Service over both pods, and the client (the `local` pod) on the main host.
          `apiVersion: v1
kind: Service
metadata: { name: backend }
spec:
  selector: { tier: web }
  ports: [{ port: 80, targetPort: http }]
`,
        ]
          .join("---\n")
          .replaceAll("labels: { app: remote }", "labels: { app: remote, tier: web }")
          .replaceAll("labels: { app: local }", "labels: { app: local, tier: web }");
        expect((await api.call("POST", "/v1/apply", { body })).status).toBe(200);
        const [far, near] = [await podOf("remote"), await podOf("local")];
        expect(far.nodeName).toBe(remote.name);
        expect(near.nodeName).toBe(MAIN);

        // The remote pod's 8080, as its Engine publishes it: on the node's address, not loopback.
        const [sandbox] = await remote.client().listContainers({
          filters: JSON.stringify({ label: [`${LABELS.pod}=${far.id}`, `${LABELS.role}=sandbox`] }),
        });
        const binding = sandbox?.Ports.find((p) => p.PrivatePort === 8080 && p.PublicPort !== undefined);
        expect(binding?.IP).toBe(remote.address);
        const published = binding?.PublicPort as number;
        // It is that pod: from the host (which the firewall allows), its whoami names it.
        expect(await whoami(remote.address, published)).toBe(far.name);

        // The main host's proxy for `backend` serves both: the remote pod through its host, the local one directly.
        const proxyDir = api.provider.serviceProxies?.proxyDir(MAIN, api.tenant.id, {
          namespace: "default",
          name: "backend",
        }) as string;
        const served = await api.until(async () => {
          const text = await socketCommand(join(proxyDir, "admin.sock"), ["show servers state"], systemClock).catch(
            () => "",
          );
          const up = parseServersState(text).filter((s) => s.state !== "maint");
          return up.length === 2 && up;
        }, 120_000);
        expect(served.map((s) => `${s.address}:${s.port}`).sort()).toEqual(
          [`${remote.address}:${published}`, `${(near.status as { podIP?: string }).podIP}:8080`].sort(),
        );
      },
      TEST_MS,
    );
  });
});
