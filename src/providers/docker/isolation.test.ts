import { execFile } from "node:child_process";
import { randomBytes } from "node:crypto";
import { existsSync } from "node:fs";
import { createServer, type Server, type Socket } from "node:net";
import { networkInterfaces } from "node:os";
import { promisify } from "node:util";
import Docker from "dockerode";
import { afterAll, beforeAll, expect, it } from "vitest";
import { DOCKER_SOCKET, describeDocker, isDockerReachable, waitFor } from "../../../test/helpers/docker.js";
import { systemClock } from "../../core/clock.js";
import type { ObservedPod, PodRuntimeSpec, ProviderEvent } from "../types.js";
import { FIREWALL_CHAIN, firewallRules } from "./firewall.js";
import { DockerProvider, LABELS, tenantNetworkName } from "./index.js";

/**
 * Host isolation on a real Engine: a pod on its tenant's network reaches no port of the host it runs
 * on (the provider applies the host firewall before its first pod), while a container on a plain
 * network of the test's own still does — the control that shows the server is reachable at all —
 * and what pods need keeps working: published ports from the host, pods of one tenant talking to
 * each other (by address and by name, through Docker's embedded DNS).
 */
const exec = promisify(execFile);
const NODE = "docker-main";
const WEB = "kubernease-test/web:1";
const run = randomBytes(4).toString("hex");
const owner = `iso-${run}`;
const tenant = `ti${run}`;
const controlNetwork = `kn-test-control-${run}`;
const reachable = await isDockerReachable();

function podSpec(id: string): PodRuntimeSpec {
  return {
    podId: `${id}-${run}`,
    uid: `uid-${id}`,
    tenantId: tenant,
    namespace: "default",
    name: id,
    nodeName: NODE,
    spec: {
      containers: [
        {
          name: "web",
          image: WEB,
          ports: [{ containerPort: 8080, name: "http" }],
          resources: { limits: { cpu: "250m", memory: "64Mi" } },
        },
      ],
    },
  };
}

/** `sh -c` that exits 0 only when `host:port` answers with the `expect` text within 2 s. */
const dial = (host: string, port: number, expect: string) => [
  "sh",
  "-c",
  `printf 'GET /_health HTTP/1.0\\r\\n\\r\\n' | nc -w 2 ${host} ${port} | grep -q '${expect}'`,
];

describeDocker("host isolation on a real engine", reachable, () => {
  const docker = new Docker({ socketPath: DOCKER_SOCKET });
  const events: ProviderEvent[] = [];
  let provider: DockerProvider;
  let server: Server;
  let port = 0;
  let control: Docker.Container | undefined;
  const sockets = new Set<Socket>();

  async function execIn(containerId: string, command: string[]): Promise<number> {
    const started = await docker.getContainer(containerId).exec({ Cmd: command, AttachStdout: true });
    const stream = await started.start({ hijack: true, stdin: false });
    await new Promise((resolve) => {
      stream.on("end", resolve);
      stream.on("close", resolve);
      stream.resume();
    });
    return (await started.inspect()).ExitCode ?? -1;
  }

  async function appOf(podId: string): Promise<string> {
    const [app] = await docker.listContainers({
      filters: JSON.stringify({ label: [`${LABELS.pod}=${podId}`, `${LABELS.role}=app`] }),
    });
    if (!app) throw new Error(`no app container for ${podId}`);
    return app.Id;
  }

  async function sandboxOf(podId: string): Promise<Docker.ContainerInspectInfo> {
    const [sandbox] = await docker.listContainers({
      filters: JSON.stringify({ label: [`${LABELS.pod}=${podId}`, `${LABELS.role}=sandbox`] }),
    });
    return docker.getContainer(sandbox?.Id ?? "none").inspect();
  }

  async function running(podId: string): Promise<ObservedPod> {
    let found: ObservedPod | undefined;
    const ok = await waitFor(async () => {
      const latest = events.filter((e) => e.type === "pod" && e.pod.podId === podId).at(-1);
      found =
        latest?.type === "pod" &&
        latest.pod.phase === "Running" &&
        latest.pod.containers.every((c) => "running" in c.state)
          ? latest.pod
          : undefined;
      return found !== undefined;
    }, 20_000);
    if (!ok) throw new Error(`pod ${podId} did not run`);
    return found as ObservedPod;
  }

  beforeAll(async () => {
    server = createServer((socket) => {
      sockets.add(socket);
      socket.on("close", () => sockets.delete(socket));
      socket.on("error", () => {});
      socket.end("HTTP/1.0 200 OK\r\n\r\nhost-secret\n");
    });
    await new Promise<void>((resolve) => server.listen(0, "0.0.0.0", resolve));
    port = (server.address() as { port: number }).port;
    provider = new DockerProvider({ clock: systemClock, owner, hosts: [{ name: NODE, socketPath: DOCKER_SOCKET }] });
    provider.subscribe((e) => events.push(e));
    await docker.createNetwork({ Name: controlNetwork, Driver: "bridge", Labels: { [LABELS.owner]: owner } });
    control = await docker.createContainer({
      name: `kn-test-control-${run}`,
      Image: WEB,
      Labels: { [LABELS.owner]: owner },
      HostConfig: { NetworkMode: controlNetwork },
    });
    await control.start();
  }, 120_000);

  afterAll(async () => {
    await provider?.close();
    for (const socket of sockets) socket.destroy();
    await new Promise((resolve) => server?.close(resolve));
    const ours = await docker.listContainers({
      all: true,
      filters: JSON.stringify({ label: [`${LABELS.owner}=${owner}`] }),
    });
    await Promise.all(ours.map((c) => docker.getContainer(c.Id).remove({ force: true })));
    for (const name of [controlNetwork, tenantNetworkName(tenant)]) {
      await docker
        .getNetwork(name)
        .remove()
        .catch(() => {});
    }
  }, 120_000);

  it("refuses a pod every host port (gateway and other host addresses), while a plain container reaches it", async () => {
    const [one, two] = [podSpec("one"), podSpec("two")];
    await provider.startPod(one);
    await provider.startPod(two);
    await running(one.podId);
    await running(two.podId);

    const controlInfo = await (control as Docker.Container).inspect();
    const controlGateway = controlInfo.NetworkSettings.Networks[controlNetwork]?.Gateway as string;
    const podGateway = (await sandboxOf(one.podId)).NetworkSettings.Networks[tenantNetworkName(tenant)]
      ?.Gateway as string;
    expect(controlGateway).toMatch(/^\d+\.\d+\.\d+\.\d+$/);
    expect(podGateway).toMatch(/^\d+\.\d+\.\d+\.\d+$/);
    // The control: the host's server answers a container that is not on a tenant network.
    expect(await execIn(controlInfo.Id, dial(controlGateway, port, "host-secret"))).toBe(0);

    // Every IPv4 address of the host, the pod's own gateway first.
    const hostAddresses = [
      podGateway,
      controlGateway,
      ...Object.values(networkInterfaces())
        .flat()
        .filter((a) => a !== undefined && a.family === "IPv4" && !a.internal)
        .map((a) => a?.address as string),
    ];
    const app = await appOf(one.podId);
    for (const address of new Set(hostAddresses)) {
      expect({ address, exit: await execIn(app, dial(address, port, "host-secret")) }).not.toMatchObject({
        exit: 0,
      });
    }
  }, 180_000);

  it("keeps what pods need: published ports from the host, and pods of one tenant by address and by name", async () => {
    const [one, two] = [podSpec("one"), podSpec("two")];
    const sandbox = await sandboxOf(one.podId);
    const published = Number(sandbox.NetworkSettings.Ports["8080/tcp"]?.[0]?.HostPort);
    const response = await fetch(`http://127.0.0.1:${published}/_health`);
    expect(response.status).toBe(200);

    const twoIP = (await running(two.podId)).podIP as string;
    const app = await appOf(one.podId);
    expect(await execIn(app, dial(twoIP, 8080, "200 OK"))).toBe(0);
    // The sandbox's name resolves through Docker's embedded DNS on the tenant network.
    expect(await execIn(app, dial(`kn-${two.podId}`, 8080, "200 OK"))).toBe(0);
  }, 180_000);

  it("leaves the firewall as firewallRules says: the chain's rules, one jump, first in INPUT", async () => {
    const chain = await exec("iptables", ["-w", "5", "-S", FIREWALL_CHAIN]);
    expect(chain.stdout.split("\n").filter((l) => l.startsWith("-A "))).toEqual(firewallRules("ipv4"));
    const input = (await exec("iptables", ["-w", "5", "-S", "INPUT"])).stdout.split("\n");
    expect(input.filter((l) => l === `-A INPUT -j ${FIREWALL_CHAIN}`)).toHaveLength(1);
    expect(input.find((l) => l.startsWith("-A "))).toBe(`-A INPUT -j ${FIREWALL_CHAIN}`);
    // IPv6 too, where the kernel has it.
    if (!existsSync("/proc/net/if_inet6")) return;
    const chain6 = await exec("ip6tables", ["-w", "5", "-S", FIREWALL_CHAIN]);
    expect(chain6.stdout.split("\n").filter((l) => l.startsWith("-A "))).toEqual(firewallRules("ipv6"));
  }, 180_000);
});
