import { randomBytes } from "node:crypto";
import { createConnection, createServer, type Socket } from "node:net";
import Docker from "dockerode";
import { afterAll, beforeAll, expect, it } from "vitest";
import { DOCKER_SOCKET, describeDocker, isDockerReachable, waitFor } from "../../../test/helpers/docker.js";
import { ManualClock, systemClock } from "../../core/clock.js";
import type { Json, ObservedPod, PodRuntimeSpec, ProviderEvent } from "../types.js";
import { DockerProvider, LABELS, tenantNetworkName } from "./index.js";
import { pauseBinary, tarOf } from "./pause.js";

const NODE = "docker-main";
const WEB = "kubernease-test/web:1";
const run = randomBytes(4).toString("hex");
const owner = `test-${run}`;
const tenantA = `ta${run}`;
const tenantB = `tb${run}`;
const reachable = await isDockerReachable();

const health = { httpGet: { path: "/_health", port: "http" }, timeoutSeconds: 2 };

function podSpec(id: string, options: { image?: string; tenant?: string; container?: Json } = {}): PodRuntimeSpec {
  return {
    podId: `${id}-${run}`,
    uid: `uid-${id}`,
    tenantId: options.tenant ?? tenantA,
    namespace: "default",
    name: id,
    nodeName: NODE,
    spec: {
      containers: [
        {
          name: "web",
          image: options.image ?? WEB,
          ports: [{ containerPort: 8080, name: "http" }],
          resources: { limits: { cpu: "250m", memory: "64Mi" } },
          readinessProbe: health,
          ...options.container,
        },
      ],
    },
    env: { web: { GREETING: "hello" } },
  };
}

/**
 * A TCP way to the first Engine that can go silent and come back, as a host that vanished without
 * closing its connections and was started again. Silent, the connections open then carry nothing
 * more and new ones are held unanswered. Back, new connections work; old ones are reset, as the
 * host answers the next thing sent on them, but a stream (the events), on which the client sends
 * nothing more, stays open and silent for good.
 */
async function silenceableEngine(): Promise<{ port: number; silence(): void; back(): void; close(): Promise<void> }> {
  const sockets = new Set<Socket>();
  const open: { client: Socket; upstream: Socket; stream: boolean }[] = [];
  const silenced: typeof open = [];
  const held: Socket[] = [];
  let silent = false;
  const forward = (client: Socket) => {
    const upstream = createConnection(DOCKER_SOCKET);
    upstream.on("error", () => client.destroy());
    sockets.add(upstream);
    const pair = { client, upstream, stream: false };
    client.once("data", (chunk: Buffer) => {
      pair.stream = /^GET \S*\/events/.test(chunk.toString("latin1"));
    });
    client.pipe(upstream).pipe(client);
    open.push(pair);
  };
  const server = createServer((client) => {
    client.on("error", () => {});
    sockets.add(client);
    if (silent) held.push(client);
    else forward(client);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return {
    port: (server.address() as { port: number }).port,
    silence() {
      silent = true;
      for (const pair of open.splice(0)) {
        pair.client.unpipe(pair.upstream);
        pair.upstream.unpipe(pair.client);
        pair.upstream.pause();
        silenced.push(pair);
      }
    },
    back() {
      silent = false;
      for (const pair of silenced.splice(0)) {
        if (pair.stream) continue;
        pair.client.destroy();
        pair.upstream.destroy();
      }
      for (const client of held.splice(0)) client.destroy();
    },
    async close() {
      for (const socket of sockets) socket.destroy();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}

describeDocker("DockerProvider on a real engine", reachable, () => {
  const docker = new Docker({ socketPath: DOCKER_SOCKET });
  let provider: DockerProvider;
  const events: ProviderEvent[] = [];

  const newProvider = () =>
    new DockerProvider({ clock: systemClock, owner, hosts: [{ name: NODE, socketPath: DOCKER_SOCKET }] });

  /** The latest observation of a pod that satisfies `check`, waiting for it (bounded). */
  async function observed(podId: string, check: (pod: ObservedPod) => boolean, timeoutMs = 10_000) {
    let found: ObservedPod | undefined;
    const ok = await waitFor(async () => {
      const latest = events.filter((e) => e.type === "pod" && e.pod.podId === podId).at(-1);
      found = latest?.type === "pod" && check(latest.pod) ? latest.pod : undefined;
      return found !== undefined;
    }, timeoutMs);
    if (!ok) throw new Error(`no matching observation of ${podId}; last: ${JSON.stringify(events.at(-1))}`);
    return found as ObservedPod;
  }

  const running = (pod: ObservedPod) => pod.phase === "Running" && pod.containers.every((c) => "running" in c.state);

  async function publishedPort(podId: string): Promise<number> {
    const [sandbox] = await docker.listContainers({
      filters: JSON.stringify({ label: [`${LABELS.pod}=${podId}`, `${LABELS.role}=sandbox`] }),
    });
    const port = sandbox?.Ports.find((p) => p.PrivatePort === 8080)?.PublicPort;
    if (!port) throw new Error(`no published port for ${podId}`);
    return port;
  }

  async function execIn(podId: string, command: string[]): Promise<number> {
    const [app] = await docker.listContainers({
      filters: JSON.stringify({ label: [`${LABELS.pod}=${podId}`, `${LABELS.role}=app`] }),
    });
    const exec = await docker.getContainer(app?.Id ?? "none").exec({ Cmd: command, AttachStdout: true });
    const stream = await exec.start({ hijack: true, stdin: false });
    await new Promise((resolve) => {
      stream.on("end", resolve);
      stream.on("close", resolve);
      stream.resume();
    });
    return (await exec.inspect()).ExitCode ?? -1;
  }

  beforeAll(() => {
    provider = newProvider();
    provider.subscribe((e) => events.push(e));
  });

  afterAll(async () => {
    await provider?.close();
    const ours = await docker.listContainers({
      all: true,
      filters: JSON.stringify({ label: [`${LABELS.owner}=${owner}`] }),
    });
    await Promise.all(ours.map((c) => docker.getContainer(c.Id).remove({ force: true })));
    const volumes = await docker.listVolumes({ filters: JSON.stringify({ label: [`${LABELS.owner}=${owner}`] }) });
    await Promise.all((volumes.Volumes ?? []).map((v) => docker.getVolume(v.Name).remove()));
    for (const tenant of [tenantA, tenantB]) {
      await docker
        .getNetwork(tenantNetworkName(tenant))
        .remove()
        .catch(() => {});
    }
  });

  it("lists the engine as a ready node with its capacity from docker info", async () => {
    const [node] = await provider.listNodes();
    expect(node).toMatchObject({ name: NODE, address: "127.0.0.1", ready: true, maxPods: 110 });
    expect(node?.cpuMillis).toBeGreaterThanOrEqual(1000);
    expect(node?.memoryBytes).toBeGreaterThan(2 ** 28);
    const dead = new DockerProvider({
      clock: systemClock,
      owner,
      hosts: [{ name: "gone", socketPath: "/run/kn-no-such-engine.sock", cpuMillis: 2000 }],
    });
    expect(await dead.listNodes()).toEqual([expect.objectContaining({ name: "gone", ready: false, cpuMillis: 2000 })]);
    await dead.close();
  });

  it("runs a pod: Running with a containerID, its port published on 127.0.0.1, env and limits applied", async () => {
    const spec = podSpec("web");
    await provider.startPod(spec);
    const pod = await observed(spec.podId, running);
    expect(pod.containers[0]?.containerID).toMatch(/^docker:\/\/[0-9a-f]{64}$/);
    expect(pod.podIP).toMatch(/^\d+\.\d+\.\d+\.\d+$/);
    const port = await publishedPort(spec.podId);
    const response = await fetch(`http://127.0.0.1:${port}/index.html`);
    expect((await response.text()).trim()).toBe("web 1");
    expect((await fetch(`http://127.0.0.1:${port}/_health`)).status).toBe(200);

    const [app] = await docker.listContainers({
      filters: JSON.stringify({ label: [`${LABELS.pod}=${spec.podId}`, `${LABELS.role}=app`] }),
    });
    const info = await docker.getContainer(app?.Id ?? "").inspect();
    expect(info.Config.Env).toContain("GREETING=hello");
    expect(info.HostConfig).toMatchObject({
      NanoCpus: 250_000_000,
      Memory: 64 * 2 ** 20,
      RestartPolicy: { Name: "no" },
      SecurityOpt: ["no-new-privileges"],
      PidsLimit: 1024,
      Privileged: false,
    });
    expect(info.HostConfig.CapDrop).toContain("NET_RAW");
    expect(info.Config.Labels).toMatchObject({
      [LABELS.tenant]: tenantA,
      [LABELS.name]: "web",
      [LABELS.container]: "web",
    });

    // Started again: reported, not doubled.
    const before = events.length;
    await provider.startPod(spec);
    expect(events.length).toBeGreaterThan(before);
    const all = await docker.listContainers({
      all: true,
      filters: JSON.stringify({ label: [`${LABELS.pod}=${spec.podId}`] }),
    });
    expect(all).toHaveLength(2);
  });

  it("fails a start whose sandbox does not start, with no unhandled rejection, and runs the pod at the next", async () => {
    // The Engine cannot be made to refuse a start on cue; dockerode's start is, once: the sandbox's,
    // which goes first while the pod's containers are created.
    const failing = new Error("driver failed programming external connectivity: port is already allocated");
    const containers = Object.getPrototypeOf(docker.getContainer("any")) as { start: (...a: unknown[]) => unknown };
    const start = containers.start;
    let refusals = 0;
    containers.start = function (this: Docker.Container, ...args: unknown[]) {
      if (refusals === 0) {
        refusals++;
        return Promise.reject(failing);
      }
      return start.apply(this, args);
    };
    const unhandled: unknown[] = [];
    const onUnhandled = (reason: unknown) => unhandled.push(reason);
    process.on("unhandledRejection", onUnhandled);
    const spec = podSpec("sandbox-retry");
    try {
      await expect(provider.startPod(spec)).rejects.toBe(failing);
    } finally {
      containers.start = start;
    }
    expect(refusals).toBe(1);
    // The job's retry: the sandbox is started again, then the containers created meanwhile.
    await provider.startPod(spec);
    await observed(spec.podId, running);
    await new Promise((resolve) => setTimeout(resolve, 50));
    process.off("unhandledRejection", onUnhandled);
    expect(unhandled).toEqual([]);
  });

  it("probes for real: httpGet by port name, tcpSocket and exec, passing and failing", async () => {
    const spec = podSpec("web");
    const probe = (p: Json) => provider.probe(NODE, spec.podId, "web", "readiness", p);
    expect(await probe(health)).toEqual({ ok: true });
    expect(await probe({ httpGet: { path: "/missing", port: 8080 } })).toEqual({
      ok: false,
      message: "HTTP probe failed with statuscode: 404",
    });
    expect(await probe({ tcpSocket: { port: "http" } })).toEqual({ ok: true });
    expect(await probe({ tcpSocket: { port: 9999 } })).toMatchObject({
      ok: false,
      message: "port 9999 is not published",
    });
    expect(await probe({ exec: { command: ["sh", "-c", "test -f /www/_health"] } })).toEqual({ ok: true });
    const failed = await probe({ exec: { command: ["sh", "-c", "echo nope; exit 3"] } });
    expect(failed).toMatchObject({ ok: false });
    expect(failed.message).toMatch(/exited with 3: nope/);

    const bad = podSpec("bad", { image: "kubernease-test/web:bad" });
    await provider.startPod(bad);
    await observed(bad.podId, running);
    expect(await provider.probe(NODE, bad.podId, "web", "readiness", health)).toEqual({
      ok: false,
      message: "HTTP probe failed with statuscode: 404",
    });
  });

  it("kills a run (exit 137) and restarts it as a new run, only when asked with the current run's id", async () => {
    const spec = podSpec("web");
    const first = (await observed(spec.podId, running)).containers[0]?.containerID as string;
    await provider.killContainer(NODE, spec.podId, "web", "docker://another-run");
    expect((await provider.probe(NODE, spec.podId, "web", "readiness", health)).ok).toBe(true);
    await provider.killContainer(NODE, spec.podId, "web", first);
    const killed = await observed(spec.podId, (p) => "terminated" in (p.containers[0]?.state ?? {}));
    expect(killed.containers[0]).toMatchObject({
      containerID: first,
      state: { terminated: { exitCode: 137, reason: "Error" } },
    });
    expect(await provider.probe(NODE, spec.podId, "web", "readiness", health)).toEqual({
      ok: false,
      message: "container web is not running",
    });
    await provider.restartContainer(NODE, spec.podId, "web", "docker://another-run");
    expect(killed.containers[0]?.state).toHaveProperty("terminated");
    await provider.restartContainer(NODE, spec.podId, "web", first);
    const second = await observed(spec.podId, (p) => running(p) && p.containers[0]?.containerID !== first);
    expect(second.containers[0]?.containerID).toMatch(/^docker:\/\//);
    // The pod kept its sandbox: same address, same published port, answering again.
    expect(second.podIP).toBe(killed.podIP);
    const port = await publishedPort(spec.podId);
    expect(await waitFor(async () => (await fetch(`http://127.0.0.1:${port}/_health`)).ok, 5_000)).toBe(true);
    // The new run copies the old one's configuration.
    const [app] = await docker.listContainers({
      filters: JSON.stringify({ label: [`${LABELS.pod}=${spec.podId}`, `${LABELS.role}=app`] }),
    });
    expect(app?.Labels[LABELS.run]).toBe("2");
    expect((await docker.getContainer(app?.Id ?? "").inspect()).Config.Env).toContain("GREETING=hello");
    // Restarting a running container does nothing.
    await provider.restartContainer(NODE, spec.podId, "web");
    expect((await observed(spec.podId, running)).containers[0]?.containerID).toBe(second.containers[0]?.containerID);
  });

  it("reports exit codes and reasons: Completed and Error", async () => {
    const done = podSpec("job", { container: { command: ["sh", "-c", "exit 0"], readinessProbe: undefined } });
    const crash = podSpec("crash", { container: { command: ["sh", "-c", "exit 3"], readinessProbe: undefined } });
    await provider.startPod(done);
    await provider.startPod(crash);
    const terminated = (p: ObservedPod) => "terminated" in (p.containers[0]?.state ?? {});
    expect((await observed(done.podId, terminated)).containers[0]?.state).toMatchObject({
      terminated: { exitCode: 0, reason: "Completed" },
    });
    expect((await observed(crash.podId, terminated)).containers[0]?.state).toMatchObject({
      terminated: { exitCode: 3, reason: "Error" },
    });
  });

  it("waits with ErrImageNeverPull / ErrImagePull when an image is missing, not a crash", async () => {
    const never = podSpec("never", { image: "kubernease-test/absent:1", container: { imagePullPolicy: "Never" } });
    await provider.startPod(never);
    const waiting = await observed(
      never.podId,
      (p) => "waiting" in (p.containers[0]?.state ?? {}) && p.phase === "Running",
    );
    expect(waiting.containers[0]?.state).toMatchObject({ waiting: { reason: "ErrImageNeverPull" } });
    const pull = podSpec("pull", { image: "127.0.0.1:1/absent:1" });
    await provider.startPod(pull);
    const failed = await observed(pull.podId, (p) => JSON.stringify(p).includes("ErrImagePull"));
    expect(failed.containers[0]?.state).toMatchObject({ waiting: { reason: "ErrImagePull" } });
  });

  it("mounts configMap and secret files, emptyDir, and a claim's volume that outlives the pod", async () => {
    const volumes = (id: string): PodRuntimeSpec => {
      const base = podSpec(id, {
        container: {
          readinessProbe: undefined,
          volumeMounts: [
            { name: "config", mountPath: "/etc/app" },
            { name: "creds", mountPath: "/etc/creds" },
            { name: "scratch", mountPath: "/scratch" },
            { name: "data", mountPath: "/data" },
          ],
        },
      });
      base.spec.volumes = [
        { name: "config", configMap: { name: "app" } },
        { name: "creds", secret: { secretName: "creds" } },
        { name: "scratch", emptyDir: {} },
        { name: "data", persistentVolumeClaim: { claimName: `data-${run}` } },
      ];
      base.files = { config: { "app.conf": "mode=fast\n", "sub/x.txt": "x" }, creds: { token: "s3cr\u00e9t" } };
      return base;
    };
    const first = volumes("vol1");
    await provider.startPod(first);
    await observed(first.podId, running);
    const sh = (podId: string, script: string) => execIn(podId, ["sh", "-c", script]);
    expect(await sh(first.podId, "grep -qx mode=fast /etc/app/app.conf && test -f /etc/app/sub/x.txt")).toBe(0);
    expect(await sh(first.podId, 'test "$(cat /etc/creds/token | wc -c)" = 6')).toBe(0);
    expect(await sh(first.podId, "touch /etc/app/new")).not.toBe(0);
    expect(await sh(first.podId, "echo kept > /data/file && touch /scratch/tmp")).toBe(0);
    await provider.stopPod(NODE, first.podId);
    const podVolumes = await docker.listVolumes({
      filters: JSON.stringify({ label: [`${LABELS.pod}=${first.podId}`] }),
    });
    expect(podVolumes.Volumes ?? []).toEqual([]);

    const second = volumes("vol2");
    await provider.startPod(second);
    await observed(second.podId, running);
    expect(await sh(second.podId, "grep -qx kept /data/file && ! test -f /scratch/tmp")).toBe(0);
    await provider.stopPod(NODE, second.podId);
    await docker.getVolume(`kn-pvc-${tenantA}.default.data-${run}`).remove();
  });

  it("isolates tenants: a pod cannot reach another tenant's pod, but reaches its own tenant's", async () => {
    const mine = podSpec("web");
    const sibling = podSpec("sibling");
    const other = podSpec("other", { tenant: tenantB });
    await provider.startPod(sibling);
    await provider.startPod(other);
    const siblingIP = (await observed(sibling.podId, running)).podIP as string;
    const otherIP = (await observed(other.podId, running)).podIP as string;
    const get = (ip: string) => [
      "sh",
      "-c",
      `printf 'GET /_health HTTP/1.0\\r\\n\\r\\n' | nc -w 2 ${ip} 8080 | grep -q 200`,
    ];
    expect(await execIn(mine.podId, get(siblingIP))).toBe(0);
    expect(await execIn(mine.podId, get(otherIP))).not.toBe(0);
  });

  it("reads a run's output (stdout and stderr as written), its last lines, the previous run, and follows it", async () => {
    const text = async (chunks: AsyncIterable<string>) => {
      let out = "";
      for await (const chunk of chunks) out += chunk;
      return out;
    };
    // A pause between the streams: Docker keeps stdout and stderr apart, so lines written at once may swap.
    const script = "echo hello; sleep 1; echo oops >&2; sleep 1; echo bye";
    const talk = podSpec("talk", { container: { command: ["sh", "-c", script], readinessProbe: undefined } });
    await provider.startPod(talk);
    await observed(talk.podId, (p) => p.containers[0]?.containerID !== undefined);
    expect(await text(await provider.logs(NODE, talk.podId, "web", { follow: true }))).toBe("hello\noops\nbye\n");
    expect(await text(await provider.logs(NODE, talk.podId, "web"))).toBe("hello\noops\nbye\n");
    expect(await text(await provider.logs(NODE, talk.podId, "web", { tailLines: 1 }))).toBe("bye\n");
    await expect(provider.logs(NODE, talk.podId, "web", { previous: true })).rejects.toThrow(
      'previous terminated container "web" not found',
    );
    // The web pod was killed and restarted above: its ended run is kept for `previous`.
    await expect(provider.logs(NODE, podSpec("web").podId, "web", { previous: true })).resolves.toBeDefined();

    const long = podSpec("long", {
      container: { command: ["sh", "-c", "echo start; sleep 60"], readinessProbe: undefined },
    });
    await provider.startPod(long);
    await observed(long.podId, running);
    const abort = new AbortController();
    const chunks: string[] = [];
    for await (const chunk of await provider.logs(NODE, long.podId, "web", { follow: true, signal: abort.signal })) {
      chunks.push(chunk);
      abort.abort();
    }
    expect(chunks).toEqual(["start\n"]);
  });

  it("tells the Service proxy sync of a tenant new to a node once, not at each of its pods", async () => {
    const tenant = `tc${run}`;
    const withProxies = new DockerProvider({
      clock: systemClock,
      owner,
      hosts: [{ name: NODE, socketPath: DOCKER_SOCKET }],
      serviceProxies: { dir: `/tmp/kn-proxies-${run}` },
    });
    const told: string[] = [];
    withProxies.serviceProxies?.onTenantNode((tenantId) => told.push(tenantId));
    const specs = ["p1", "p2", "p3"].map((id) => podSpec(`${id}-new-here`, { tenant }));
    try {
      for (const spec of specs) await withProxies.startPod(spec);
      expect(told).toEqual([tenant]);
    } finally {
      for (const spec of specs) await withProxies.stopPod(NODE, spec.podId);
      await withProxies.close();
      await docker
        .getNetwork(tenantNetworkName(tenant))
        .remove()
        .catch(() => {});
    }
  });

  it("starts a pod whose tenant network another process removed since it last used it", async () => {
    const tenant = `td${run}`;
    const [first, second] = [newProvider(), newProvider()];
    const [p1, p2] = ["net-1", "net-2"].map((id) => podSpec(id, { tenant })) as [PodRuntimeSpec, PodRuntimeSpec];
    try {
      await first.startPod(p1);
      // The other process stops the tenant's last pod here, and its network with it.
      await second.stopPod(NODE, p1.podId);
      expect(await docker.listNetworks({ filters: JSON.stringify({ name: [tenantNetworkName(tenant)] }) })).toEqual([]);
      await first.startPod(p2);
      const listed = await first.listPods(NODE);
      expect(listed.find((p) => p.podId === p2.podId)).toMatchObject({ phase: "Running" });
    } finally {
      await first.stopPod(NODE, p2.podId);
      await Promise.all([first.close(), second.close()]);
      await docker
        .getNetwork(tenantNetworkName(tenant))
        .remove()
        .catch(() => {});
    }
  });

  it("makes a pod's app container again when the sandbox it joined is gone", async () => {
    const spec = podSpec("rejoin");
    await provider.startPod(spec);
    const [sandbox] = await docker.listContainers({
      filters: JSON.stringify({ label: [`${LABELS.pod}=${spec.podId}`, `${LABELS.role}=sandbox`] }),
    });
    await docker.getContainer(sandbox?.Id ?? "none").remove({ force: true });
    await provider.startPod(spec);
    const listed = await docker.listContainers({ filters: JSON.stringify({ label: [`${LABELS.pod}=${spec.podId}`] }) });
    const now = listed.find((c) => c.Labels[LABELS.role] === "sandbox");
    const app = listed.find((c) => c.Labels[LABELS.role] === "app");
    expect(now && now.Id !== sandbox?.Id).toBe(true);
    expect((await docker.getContainer(app?.Id ?? "none").inspect()).HostConfig.NetworkMode).toBe(
      `container:${now?.Id}`,
    );
    await provider.stopPod(NODE, spec.podId);
  });

  it("reports every pod of a host again every 30 s, changed or not, and removes tenant networks no pod is on", async () => {
    const clock = new ManualClock(Date.now());
    const reporting = new DockerProvider({ clock, owner, hosts: [{ name: NODE, socketPath: DOCKER_SOCKET }] });
    const spec = podSpec("relist");
    const seen: ProviderEvent[] = [];
    reporting.subscribe((e) => seen.push(e));
    try {
      await reporting.startPod(spec);
      await reporting.listNodes();
      const reports = () => seen.filter((e) => e.type === "pod" && e.pod.podId === spec.podId).length;
      await waitFor(async () => false, 300);
      const before = reports();
      // A tenant network left behind: a stop that found no containers never released it.
      const leftover = tenantNetworkName(`tl${run}`);
      await docker.createNetwork({ Name: leftover, Labels: { [LABELS.owner]: owner, [LABELS.tenant]: `tl${run}` } });
      const exists = async () =>
        (await docker.listNetworks({ filters: JSON.stringify({ name: [leftover] }) })).some((n) => n.Name === leftover);
      clock.advance(29_000);
      await reporting.listNodes();
      await waitFor(async () => false, 300);
      expect(reports()).toBe(before);
      clock.advance(1_000);
      await reporting.listNodes();
      expect(await waitFor(async () => reports() > before, 5_000)).toBe(true);
      expect(await waitFor(async () => !(await exists()), 5_000)).toBe(true);
      // The tenant with a pod keeps its network.
      expect(
        await docker.listNetworks({ filters: JSON.stringify({ name: [tenantNetworkName(tenantA)] }) }),
      ).toHaveLength(1);
    } finally {
      await reporting.stopPod(NODE, spec.podId);
      await reporting.close();
    }
  });

  it("follows again the events of an Engine that went silent and came back, and reports what changed meanwhile", async () => {
    // The clock stands still: no relist every 30 s, only the events stream tells what happens.
    const clock = new ManualClock(Date.now());
    const engine = await silenceableEngine();
    const silent = new DockerProvider({
      clock,
      owner,
      pingTimeoutMs: 500,
      hosts: [{ name: "silent", host: "127.0.0.1", port: engine.port }],
    });
    const seen: ProviderEvent[] = [];
    silent.subscribe((e) => seen.push(e));
    const spec = { ...podSpec("silent"), nodeName: "silent" };
    const app = async () => {
      const [found] = await docker.listContainers({
        filters: JSON.stringify({ label: [`${LABELS.pod}=${spec.podId}`, `${LABELS.role}=app`] }),
      });
      return docker.getContainer(found?.Id ?? "none");
    };
    const reported = (state: "running" | "terminated") => {
      const last = seen.filter((e) => e.type === "pod" && e.pod.podId === spec.podId).at(-1);
      return last?.type === "pod" && last.pod.containers.every((c) => state in c.state);
    };
    try {
      await silent.startPod(spec);
      expect(await waitFor(async () => reported("running"), 10_000)).toBe(true);
      engine.silence();
      expect((await silent.listNodes())[0]?.ready).toBe(false);
      // While it is silent, the pod's container ends.
      await (await app()).kill({ signal: "SIGKILL" });
      engine.back();
      expect(await waitFor(async () => (await silent.listNodes())[0]?.ready === true, 10_000)).toBe(true);
      expect(await waitFor(async () => reported("terminated"), 10_000)).toBe(true);
      // And what happens afterwards comes by the events stream again: a new run, then its end.
      await silent.restartContainer("silent", spec.podId, "web");
      expect(await waitFor(async () => reported("running"), 10_000)).toBe(true);
      await (await app()).kill({ signal: "SIGKILL" });
      expect(await waitFor(async () => reported("terminated"), 10_000)).toBe(true);
    } finally {
      await silent.stopPod("silent", spec.podId);
      await silent.close();
      await engine.close();
    }
  });

  it("keeps what a pod's own look found when a listing of the host begun before it ends after it", async () => {
    const listing = newProvider();
    const docker = (listing as unknown as { hosts: Map<string, { docker: Docker }> }).hosts.get(NODE)?.docker as Docker;
    const original = docker.listContainers.bind(docker);
    let release = () => {};
    const gate = new Promise<void>((resolve) => {
      release = resolve;
    });
    // The next listing of the host is taken at once and answered late, as on a busy Engine.
    let armed = false;
    docker.listContainers = (async (options?: { filters?: string }) => {
      const late = armed && !options?.filters?.includes(`${LABELS.pod}=`);
      if (late) armed = false;
      const listed = await original(options);
      if (late) await gate;
      return listed;
    }) as typeof docker.listContainers;
    const spec = podSpec("late-listing");
    try {
      armed = true;
      const listed = listing.listPods(NODE);
      await new Promise((resolve) => setTimeout(resolve, 200));
      await listing.startPod(spec);
      const endpoint = () => listing.edgeEndpoint({ podId: spec.podId, nodeName: NODE }, 8080);
      expect(await waitFor(async () => endpoint() !== undefined, 5_000)).toBe(true);
      release();
      expect((await listed).some((p) => p.podId === spec.podId)).toBe(false);
      // The listing did not see it, but began before the start's own look: that look stands.
      expect(endpoint()).toBeDefined();
    } finally {
      release();
      await listing.stopPod(NODE, spec.podId);
      await listing.close();
    }
  });

  it("is adopted by a restarted provider, which reports what runs; stopPod removes every container", async () => {
    const spec = podSpec("web");
    const again = newProvider();
    const seen: ProviderEvent[] = [];
    again.subscribe((e) => seen.push(e));
    const listed = await again.listPods(NODE);
    const pod = listed.find((p) => p.podId === spec.podId);
    expect(pod).toMatchObject({ phase: "Running", containers: [{ name: "web", state: { running: {} } }] });
    // Its first heartbeat connects to the events stream and reports every pod, for the observer to adopt or remove.
    await again.listNodes();
    expect(await waitFor(async () => seen.some((e) => e.type === "pod" && e.pod.podId === spec.podId), 5_000)).toBe(
      true,
    );

    await again.stopPod(NODE, spec.podId);
    expect(seen).toContainEqual({ type: "podGone", podId: spec.podId, nodeName: NODE });
    const left = await docker.listContainers({
      all: true,
      filters: JSON.stringify({ label: [`${LABELS.pod}=${spec.podId}`] }),
    });
    expect(left).toEqual([]);
    expect((await again.listPods(NODE)).some((p) => p.podId === spec.podId)).toBe(false);
    await again.stopPod(NODE, spec.podId);
    await again.close();
  });
});

it("builds a 129-byte static pause binary and valid tar headers", () => {
  const elf = pauseBinary();
  expect(elf.length).toBe(129);
  expect(elf.subarray(0, 4).toString("latin1")).toBe("\x7fELF");
  const tar = tarOf([{ path: "/a/b", content: "hi" }]);
  expect(tar.length).toBe(512 * 2 + 1024);
  expect(tar.subarray(0, 3).toString()).toBe("a/b");
  expect(tar.subarray(257, 262).toString()).toBe("ustar");
});
