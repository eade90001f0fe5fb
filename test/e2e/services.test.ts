/**
 * Service traffic between pods (the ClusterIP role) on real Docker and HAProxy: a pod reaches a
 * Service of its tenant by name (`backend`, `backend.default.svc.cluster.local`) through the
 * tenant's Service proxy, which forwards to the Service's Ready pods only; another tenant's pods
 * neither resolve the name nor reach the proxy; endpoint churn never reloads the proxy.
 */
import { randomBytes } from "node:crypto";
import { existsSync, mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import Docker from "dockerode";
import { afterAll, beforeAll, expect, it } from "vitest";
import { systemClock } from "../../src/core/clock.js";
import type { PodRecord } from "../../src/db/types.js";
import { socketCommand } from "../../src/jobs/haproxy/socket.js";
import { ServiceProxySync } from "../../src/jobs/serviceProxies.js";
import { DockerProvider, LABELS } from "../../src/providers/docker/index.js";
import { demuxAll } from "../../src/providers/docker/logs.js";
import { PROXY_SERVICE_LABEL } from "../../src/providers/docker/serviceProxy.js";
import type { ServiceProxyHost } from "../../src/providers/types.js";
import { parseServersState, parseShowProc } from "../../src/routing/haproxy.js";
import { createTestApi, type TestApi } from "../helpers/api.js";
import { DOCKER_SOCKET, describeDocker, isDockerReachable, removeOwned } from "../helpers/docker.js";
import { describeHaproxy, isHaproxyAvailable } from "../helpers/haproxy.js";

const TEST_MS = 300_000;
const reachable = await isDockerReachable();
const haproxy = await isHaproxyAvailable();
const owner = `e2e-services-${randomBytes(4).toString("hex")}`;
const NODE = "docker-main";
const REDIS_IMAGE = "kubernease-test/redis:1";

function deployment(name: string, replicas: number, image = "kubernease-test/web:1"): string {
  return `apiVersion: apps/v1
kind: Deployment
metadata: { name: ${name} }
spec:
  replicas: ${replicas}
  selector: { matchLabels: { app: ${name} } }
  template:
    metadata: { labels: { app: ${name} } }
    spec:
      terminationGracePeriodSeconds: 5
      containers:
        - name: web
          image: ${image}
          ports: [{ name: http, containerPort: 8080 }]
          resources: { requests: { cpu: 50m, memory: 16Mi }, limits: { cpu: "1", memory: 32Mi } }
          readinessProbe:
            httpGet: { path: /_health, port: http }
            periodSeconds: 1
            failureThreshold: 10
`;
}

function service(name: string, app: string, port = 80): string {
  return `apiVersion: v1
kind: Service
metadata: { name: ${name} }
spec:
  selector: { app: ${app} }
  ports: [{ port: ${port}, targetPort: http }]
`;
}

/** Two redis Deployments behind one Service: `main` becomes Ready, `warming` never does (its readiness probe fails). */
function redis(tier: "main" | "warming"): string {
  const probe = tier === "main" ? "tcpSocket: { port: 6379 }" : 'exec: { command: ["false"] }';
  return `apiVersion: apps/v1
kind: Deployment
metadata: { name: redis-${tier} }
spec:
  replicas: 1
  selector: { matchLabels: { app: redis-master, tier: ${tier} } }
  template:
    metadata: { labels: { app: redis-master, tier: ${tier} } }
    spec:
      containers:
        - name: redis
          image: ${REDIS_IMAGE}
          ports: [{ containerPort: 6379 }]
          resources: { requests: { cpu: 50m, memory: 16Mi }, limits: { cpu: "1", memory: 64Mi } }
          readinessProbe: { ${probe}, periodSeconds: 1 }
`;
}

describeHaproxy("Service traffic between pods", haproxy, () => {
  describeDocker("through the tenant's Service proxies, on Docker", reachable, () => {
    let api: TestApi<DockerProvider>;
    let dir: string;
    const docker = new Docker({ socketPath: DOCKER_SOCKET });

    beforeAll(async () => {
      dir = mkdtempSync(join(tmpdir(), "kn-svc-"));
      const provider = new DockerProvider({
        clock: systemClock,
        owner,
        hosts: [{ name: NODE, socketPath: DOCKER_SOCKET }],
        serviceProxies: { dir },
      });
      api = await createTestApi({
        provider,
        controlPlane: { probeTickMs: 200, nodeGracePeriodMs: 120_000, serviceProxySyncMs: 500 },
      });
    }, TEST_MS);

    afterAll(async () => {
      await api?.close();
      await removeOwned(docker, owner);
      rmSync(dir, { recursive: true, force: true });
    }, TEST_MS);

    const podsOf = async (tenantId: string, app: string) =>
      (await api.store.listPods({ tenantId })).filter((p) => p.labels.app === app && p.deletionRequestedAt === null);
    const readyCount = async (tenantId: string, app: string, n: number) =>
      api.until(async () => {
        const pods = await podsOf(tenantId, app);
        return pods.length === n && pods.every((p) => p.ready);
      }, 180_000);

    /** Runs a shell command in the pod's app container: its exit code and output. (The image's static `wget -T` crashes: `timeout` bounds it.) */
    async function sh(pod: PodRecord, command: string): Promise<{ code: number; out: string }> {
      const filters = JSON.stringify({ label: [`${LABELS.pod}=${pod.id}`, `${LABELS.role}=app`] });
      const [app] = await docker.listContainers({ filters });
      if (!app) throw new Error(`pod ${pod.name} has no running app container`);
      const run = await docker
        .getContainer(app.Id)
        .exec({ Cmd: ["sh", "-c", command], AttachStdout: true, AttachStderr: true });
      const stream = await run.start({ hijack: true, stdin: false });
      const chunks: Buffer[] = [];
      await new Promise((resolve) => {
        stream.on("data", (c: Buffer) => chunks.push(c));
        stream.on("end", resolve);
        stream.on("close", resolve);
      });
      return { code: (await run.inspect()).ExitCode ?? -1, out: demuxAll(Buffer.concat(chunks), false).trim() };
    }

    /** Who answers `url` from inside the pod, over `times` requests. */
    async function answers(pod: PodRecord, url: string, times: number): Promise<Set<string>> {
      const seen = new Set<string>();
      for (let i = 0; i < times; i++) {
        const { code, out } = await sh(pod, `timeout 5 wget -q -O- ${url}`);
        if (code === 0) seen.add(out);
      }
      return seen;
    }

    /** Waits until `names`, and only they, answer `url` in turn (round robin: three rounds of requests). */
    async function answeredByAll(pod: PodRecord, url: string, names: Set<string>): Promise<void> {
      const seen = await api.until(async () => {
        const got = await answers(pod, url, names.size * 3);
        return got.size === names.size && got;
      }, 60_000);
      expect([...seen].sort()).toEqual([...names].sort());
    }

    const proxyDir = (name: string) =>
      api.provider.serviceProxies?.proxyDir(NODE, api.tenant.id, { namespace: "default", name }) as string;
    const proxies = async () =>
      docker.listContainers({
        all: true,
        filters: JSON.stringify({ label: [`${LABELS.owner}=${owner}`, `${LABELS.role}=service-proxy`] }),
      });

    it(
      "answers a Service's name from every Ready pod behind it, and only inside its tenant",
      async () => {
        const body = [
          deployment("backend", 2),
          service("backend", "backend"),
          // Same port as `backend`: each Service has its own address.
          deployment("other", 1, "kubernease-test/web:2"),
          service("other", "other"),
          deployment("client", 1),
        ].join("---\n");
        expect((await api.call("POST", "/v1/apply", { body })).status).toBe(200);
        await readyCount(api.tenant.id, "backend", 2);
        await readyCount(api.tenant.id, "other", 1);
        await readyCount(api.tenant.id, "client", 1);
        const [client] = await podsOf(api.tenant.id, "client");
        const backends = new Set((await podsOf(api.tenant.id, "backend")).map((p) => p.name));

        // Round robin over the two Ready pods, by the short name (DNS search list) and the full one.
        await answeredByAll(client as PodRecord, "http://backend/cgi-bin/whoami", backends);
        const full = await answers(client as PodRecord, "http://backend.default.svc.cluster.local/cgi-bin/whoami", 4);
        expect([...full].every((name) => backends.has(name))).toBe(true);
        expect((await sh(client as PodRecord, "timeout 5 wget -q -O- http://other.default/")).out).toBe("web 2");

        // Another tenant's pod: the name does not resolve there, and the proxy's address is unreachable.
        expect(
          (await api.call("POST", "/v1/apply", { key: api.other.key, body: deployment("intruder", 1) })).status,
        ).toBe(200);
        await readyCount(api.other.id, "intruder", 1);
        const [intruder] = await podsOf(api.other.id, "intruder");
        expect((await sh(intruder as PodRecord, "timeout 3 wget -q -O- http://backend.default/")).code).not.toBe(0);
        const [proxy] = (await proxies()).filter((c) => c.Labels[LABELS.tenant] === api.tenant.id);
        const address = Object.values(proxy?.NetworkSettings.Networks ?? {})[0]?.IPAddress;
        expect(address).toMatch(/^\d+\.\d+\.\d+\.\d+$/);
        expect((await sh(client as PodRecord, `timeout 5 wget -q -O- http://${address}/`)).code).toBe(0);
        expect((await sh(intruder as PodRecord, `timeout 3 wget -q -O- http://${address}/`)).code).not.toBe(0);
      },
      TEST_MS,
    );

    it(
      "takes new and removed endpoints through the runtime API, never a reload; a new port by one reload; a deleted Service's proxy goes",
      async () => {
        const master = join(proxyDir("backend"), "master.sock");
        // The master re-executes on a reload: its socket refuses for that moment, and is asked again.
        const reloads = () =>
          api.until(async () => {
            const text = await socketCommand(master, ["show proc"], systemClock).catch(() => "");
            return parseShowProc(text)?.reloads;
          }, 30_000);
        const before = await reloads();

        const scale = async (replicas: number) =>
          expect(
            (
              await api.call("PUT", "/apis/apps/v1/namespaces/default/deployments/backend/scale", {
                body: { spec: { replicas } },
              })
            ).status,
          ).toBe(200);
        await scale(4);
        await readyCount(api.tenant.id, "backend", 4);
        const [client] = await podsOf(api.tenant.id, "client");
        const four = new Set((await podsOf(api.tenant.id, "backend")).map((p) => p.name));
        await answeredByAll(client as PodRecord, "http://backend/cgi-bin/whoami", four);

        await scale(1);
        await readyCount(api.tenant.id, "backend", 1);
        const [left] = await podsOf(api.tenant.id, "backend");
        const served = async () =>
          parseServersState(
            await socketCommand(join(proxyDir("backend"), "admin.sock"), ["show servers state"], systemClock),
          ).filter((s) => s.state !== "maint");
        // The three pods that went leave the proxy; only the one left is served.
        await api.until(async () => (await served()).length === 1, 60_000);
        expect([...(await answers(client as PodRecord, "http://backend/cgi-bin/whoami", 4))]).toEqual([left?.name]);
        expect(await reloads()).toBe(before);

        // A new Service port is a new listener: one seamless reload, and both ports answer.
        const twoPorts = service("backend", "backend").replace(
          "ports: [{ port: 80, targetPort: http }]",
          "ports: [{ name: web, port: 80, targetPort: http }, { name: alt, port: 8080, targetPort: http }]",
        );
        expect((await api.call("POST", "/v1/apply", { body: twoPorts })).status).toBe(200);
        await api.until(async () => (await reloads()) > before, 60_000);
        expect(await reloads()).toBe(before + 1);
        expect([...(await answers(client as PodRecord, "http://backend:8080/cgi-bin/whoami", 2))]).toEqual([
          left?.name,
        ]);
        expect([...(await answers(client as PodRecord, "http://backend/cgi-bin/whoami", 2))]).toEqual([left?.name]);

        expect((await api.call("DELETE", "/api/v1/namespaces/default/services/other")).status).toBe(200);
        await api.until(
          async () => (await proxies()).filter((c) => c.Labels[PROXY_SERVICE_LABEL] === "other").length === 0,
          60_000,
        );
      },
      TEST_MS,
    );

    it(
      "carries TCP: redis-master:6379 reaches only the Ready redis pod behind the Service",
      async () => {
        const image = await docker
          .getImage(REDIS_IMAGE)
          .inspect()
          .catch(() => undefined);
        if (!image)
          throw new Error(`${REDIS_IMAGE} is missing: scripts/images.sh builds it where redis-server is installed`);
        const body = [redis("main"), redis("warming"), service("redis-master", "redis-master", 6379)]
          .join("---\n")
          .replace("targetPort: http", "targetPort: 6379");
        expect((await api.call("POST", "/v1/apply", { body })).status).toBe(200);
        await api.until(async () => {
          const pods = await podsOf(api.tenant.id, "redis-master");
          const running = pods.filter((p) => p.phase === "Running");
          return running.length === 2 && pods.filter((p) => p.ready).length === 1;
        }, 180_000);
        const [client] = await podsOf(api.tenant.id, "client");
        const ask = (commands: string) =>
          sh(client as PodRecord, `printf '${commands}QUIT\\r\\n' | timeout 5 nc redis-master 6379`);
        const set = await api.until(async () => {
          const { out } = await ask("SET greeting hello\\r\\n");
          return out.includes("+OK") && out;
        }, 60_000);
        expect(set).toContain("+OK");
        // Every connection lands on the one Ready pod: the same server, which holds the key.
        const servers = new Set<string>();
        for (let i = 0; i < 8; i++) {
          const { out } = await ask("GET greeting\\r\\nINFO server\\r\\n");
          expect(out).toContain("hello");
          servers.add(/run_id:(\w+)/.exec(out)?.[1] ?? "none");
        }
        expect(servers.size).toBe(1);
        expect([...servers][0]).not.toBe("none");
      },
      TEST_MS,
    );

    it(
      "survives its proxy's restart and the control plane's (adopted, no reload), and goes with the tenant's last Service",
      async () => {
        const dir = proxyDir("backend");
        const served = async () =>
          parseServersState(
            await socketCommand(join(dir, "admin.sock"), ["show servers state"], systemClock).catch(() => ""),
          )
            .filter((s) => s.state === "ready")
            .map((s) => `${s.backend}:${s.port}`);
        // A runtime change (one more pod on both ports), then the proxy restarts (a crash, the Engine's
        // restart): it reads its file, which every change keeps current.
        const scaled = await api.call("PUT", "/apis/apps/v1/namespaces/default/deployments/backend/scale", {
          body: { spec: { replicas: 2 } },
        });
        expect(scaled.status).toBe(200);
        await readyCount(api.tenant.id, "backend", 2);
        await api.until(async () => (await served()).length === 4, 60_000);
        const [proxy] = (await proxies()).filter((c) => c.Labels[PROXY_SERVICE_LABEL] === "backend");
        await docker.getContainer(proxy?.Id as string).restart({ t: 1 });
        await api.until(async () => (await served()).length === 4, 60_000);
        const [client] = await podsOf(api.tenant.id, "client");
        const two = new Set((await podsOf(api.tenant.id, "backend")).map((p) => p.name));
        const seen = await answers(client as PodRecord, "http://backend:8080/cgi-bin/whoami", 6);
        expect([...seen].sort()).toEqual([...two].sort());

        // A new sync (a restarted control plane, a new leader) finds it serving what it would write: no reload.
        const master = join(dir, "master.sock");
        const reloads = async () =>
          parseShowProc(await socketCommand(master, ["show proc"], systemClock).catch(() => ""))?.reloads;
        const before = await reloads();
        expect(before).toBeTypeOf("number");
        const fresh = new ServiceProxySync(api.store, api.provider.serviceProxies as ServiceProxyHost, systemClock);
        await fresh.syncTenant(api.tenant.id);
        await fresh.stop();
        expect(await reloads()).toBe(before);

        // The tenant's last Services go: so do their proxies and their folders.
        for (const name of ["backend", "redis-master"]) {
          expect((await api.call("DELETE", `/api/v1/namespaces/default/services/${name}`)).status).toBe(200);
        }
        await api.until(
          async () => (await proxies()).filter((c) => c.Labels[LABELS.tenant] === api.tenant.id).length === 0,
          60_000,
        );
        await api.until(async () => !existsSync(dir), 30_000);
        expect(readdirSync(join(dir, "..")).filter((name) => !name.startsWith("."))).toEqual([]);
      },
      TEST_MS,
    );
  });
});
