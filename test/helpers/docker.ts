import { type ChildProcess, execFile, spawn } from "node:child_process";
import { existsSync, mkdirSync, openSync, readFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import { promisify } from "node:util";
import Docker from "dockerode";
import { describe, expect, it } from "vitest";
import { LABELS } from "../../src/providers/docker/spec.js";

const run = promisify(execFile);

/** The first Engine, which the tests' images are built into (scripts/images.sh). */
export const DOCKER_SOCKET = (process.env.DOCKER_HOST || "unix:///var/run/docker.sock").replace(/^unix:\/\//, "");

export const TEST_IMAGES = ["kubernease-test/web:1", "kubernease-test/web:2", "kubernease-test/web:bad"];

/** Whether the first Engine answers a ping within 2 s and holds the test images. */
export async function isDockerReachable(socketPath = DOCKER_SOCKET): Promise<boolean> {
  const docker = new Docker({ socketPath, timeout: 2_000 });
  try {
    await docker.ping();
    for (const image of TEST_IMAGES) await docker.getImage(image).inspect();
    return true;
  } catch {
    return false;
  }
}

/**
 * Registers a Docker suite when the Engine answered. Otherwise a stand-in: failing under
 * `CI=true` (a missing service is never a skip), skipped elsewhere with the reason in its name.
 */
export function describeDocker(title: string, reachable: boolean, suite: () => void): void {
  const why = `Docker does not answer on ${DOCKER_SOCKET} or lacks the test images (scripts/services.sh ensure_docker)`;
  if (reachable) {
    describe(title, suite);
  } else if (process.env.CI === "true") {
    describe(title, () => {
      it("reaches Docker (required when CI=true)", () => {
        expect.fail(`${why}; with CI=true this fails rather than skips`);
      });
    });
  } else {
    describe.skip(`${title} — skipped, ${why}`, () => {
      it("needs Docker", () => {});
    });
  }
}

/** Polls `check` every 100 ms until it holds or `timeoutMs` has passed. */
export async function waitFor(check: () => Promise<boolean>, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  for (let i = 0; i < 10_000; i++) {
    if (await check().catch(() => false)) return true;
    if (Date.now() > deadline) return false;
    await new Promise((r) => setTimeout(r, 100));
  }
  return false;
}

/**
 * An extra Docker Engine on this machine that stands in for a node. Its options, chosen for this
 * kind of machine (a container-like sandbox, cgroup v1, one kernel shared by every engine):
 * - own `--host`, `--data-root`, `--exec-root`, `--pidfile`; dockerd starts its own containerd
 *   under the exec root, so killing the node kills its containerd too;
 * - its own default bridge `kn-nodeN`, created here, because a bridge of another name must exist
 *   beforehand. Never `--bridge=none`: dockerd then deletes the link called docker0 — the first
 *   engine's bridge;
 * - `--iptables=false --ip-masq=false`: each dockerd that manages iptables flushes and rewrites
 *   the shared DOCKER* chains when it starts, which would wipe the first engine's rules. Published
 *   ports still work through docker-proxy (the userland proxy). Traffic between two bridges is
 *   routed through FORWARD, whose policy the first engine set to DROP, so tenants' networks stay
 *   apart; traffic within one bridge crosses FORWARD too (br_netfilter is loaded here), so one
 *   rule, `DOCKER-USER -i kn+ -m physdev --physdev-is-bridged -j ACCEPT`, lets the pods of one
 *   network (bridges named kn…, see src/providers/docker) reach each other;
 * - `--default-address-pool 10.(230+N).0.0/17`: networks that overlap nobody else's. A dockerd with
 *   address pools that starts again on its data (it finds its default network of the last start)
 *   deletes the link called docker0, to make it anew on the pools — the first engine's bridge, not its
 *   own (moby's initNetworkController). So `start` puts that bridge back as the first engine made it
 *   (its name and address, asked of that engine): the engine finds its bridge by name, and containers
 *   it starts later attach to it. Containers already running on it when it went stay cut off (the
 *   tests run none there);
 * - cgroupfs and overlay2, which this kernel supports (vfs would copy every layer).
 */
export class DockerNode {
  readonly name: string;
  readonly socketPath: string;
  readonly dir: string;
  readonly bridge: string;
  private process: ChildProcess | undefined;

  /**
   * With `tcp`, the engine also listens on 127.0.0.1:`tcpPort`, without TLS (loopback only), as an
   * Engine of another machine is reached; the provider then counts it as remote.
   */
  constructor(
    readonly index: number,
    private readonly options: { tcp?: boolean } = {},
  ) {
    if (!Number.isInteger(index) || index < 1 || index > 25) throw new Error("node index must be 1..25");
    this.name = `docker-node-${index}`;
    this.socketPath = `/run/kn-node-${index}.sock`;
    this.dir = `/tmp/kn-node-${index}`;
    this.bridge = `kn-node${index}`;
  }

  /** Where a `tcp` engine listens on 127.0.0.1. */
  get tcpPort(): number {
    return 23_700 + this.index;
  }

  /** This machine's address on the node's own bridge. */
  get address(): string {
    return `10.${230 + this.index}.255.1`;
  }

  client(timeoutMs?: number): Docker {
    return new Docker({ socketPath: this.socketPath, ...(timeoutMs ? { timeout: timeoutMs } : {}) });
  }

  async ping(): Promise<boolean> {
    try {
      await this.client(1_000).ping();
      return true;
    } catch {
      return false;
    }
  }

  /** Starts the engine (a stale one of an earlier run is stopped first) and loads the test images into it. */
  async start(): Promise<void> {
    await this.stopStale();
    mkdirSync(this.dir, { recursive: true });
    await ensureBridge(this.bridge, `${this.address}/24`);
    await allowIntraBridgeTraffic();
    const log = openSync(join(this.dir, "dockerd.log"), "a");
    this.process = spawn(
      "dockerd",
      [
        `--host=unix://${this.socketPath}`,
        ...(this.options.tcp ? [`--host=tcp://127.0.0.1:${this.tcpPort}`, "--tls=false"] : []),
        `--data-root=${join(this.dir, "data")}`,
        `--exec-root=${join(this.dir, "exec")}`,
        `--pidfile=${join(this.dir, "dockerd.pid")}`,
        `--bridge=${this.bridge}`,
        "--iptables=false",
        "--ip-masq=false",
        `--default-address-pool=base=10.${230 + this.index}.0.0/17,size=24`,
        "--exec-opt=native.cgroupdriver=cgroupfs",
        "--storage-driver=overlay2",
      ],
      { detached: true, stdio: ["ignore", log, log] },
    );
    this.process.unref();
    if (!(await waitFor(() => this.ping(), 30_000))) {
      throw new Error(`dockerd ${this.name} did not answer within 30 s; see ${this.dir}/dockerd.log`);
    }
    // Every start, whatever the kernel held before it: another node's start may delete the bridge meanwhile.
    const firstBridge = await firstEngineBridge();
    if (firstBridge) await ensureBridgeBack(firstBridge);
    await this.loadImages();
  }

  /** Stops the engine gracefully (SIGTERM: it stops its containers first) and waits until it has exited. */
  async stop(): Promise<void> {
    await this.signal("SIGTERM", 30_000);
  }

  /** Kills the engine outright (SIGKILL), as a crashed host; its containerd is stopped too. */
  async kill(): Promise<void> {
    await this.signal("SIGKILL", 10_000);
  }

  /** Removes the node's engine, data and bridge. */
  async destroy(): Promise<void> {
    await this.stop().catch(() => this.kill());
    await run("ip", ["link", "del", this.bridge]).catch(() => {});
  }

  private pid(): number | undefined {
    const file = join(this.dir, "dockerd.pid");
    if (!existsSync(file)) return undefined;
    const pid = Number(readFileSync(file, "utf8").trim());
    return Number.isInteger(pid) && pid > 0 && isAlive(pid) ? pid : undefined;
  }

  private async signal(signal: NodeJS.Signals, timeoutMs: number): Promise<void> {
    const pid = this.process?.pid ?? this.pid();
    if (pid === undefined || !isAlive(pid)) return;
    const containerd = signal === "SIGKILL" ? this.containerdPid() : undefined;
    process.kill(pid, signal);
    if (containerd !== undefined) process.kill(containerd, "SIGKILL");
    if (!(await waitFor(async () => !isAlive(pid), timeoutMs))) throw new Error(`dockerd ${this.name} did not exit`);
    this.process = undefined;
    rmSync(join(this.dir, "dockerd.pid"), { force: true });
  }

  private containerdPid(): number | undefined {
    const file = join(this.dir, "exec", "containerd", "containerd.pid");
    if (!existsSync(file)) return undefined;
    const pid = Number(readFileSync(file, "utf8").trim());
    return Number.isInteger(pid) && pid > 0 && isAlive(pid) ? pid : undefined;
  }

  /** An engine of an earlier run, recorded in this node's own pid file: ours, so it is stopped. */
  private async stopStale(): Promise<void> {
    const pid = this.pid();
    if (pid === undefined) return;
    process.kill(pid, "SIGTERM");
    await waitFor(async () => !isAlive(pid), 30_000);
  }

  /**
   * The test images it lacks or holds in an older build than the main Engine's, pulled from the local
   * registry (scripts/services.sh ensure_registry) as a node pulls; where no registry answers,
   * `docker save | docker load` from the main Engine instead.
   */
  private async loadImages(): Promise<void> {
    const node = this.client();
    const main = new Docker({ socketPath: DOCKER_SOCKET });
    const missing: string[] = [];
    for (const image of TEST_IMAGES) {
      const [have, want] = await Promise.all([
        node
          .getImage(image)
          .inspect()
          .then((i) => i.Id)
          .catch(() => undefined),
        main
          .getImage(image)
          .inspect()
          .then((i) => i.Id)
          .catch(() => undefined),
      ]);
      if (have === undefined || have !== want) missing.push(image);
    }
    if (missing.length === 0) return;
    try {
      for (const image of missing) {
        const stream = await node.pull(`${REGISTRY}/${image}`);
        await new Promise((resolve, reject) =>
          node.modem.followProgress(stream, (error: Error | null) => (error ? reject(error) : resolve(undefined))),
        );
        const [repo, tag] = image.split(":") as [string, string];
        await node.getImage(`${REGISTRY}/${image}`).tag({ repo, tag });
      }
      return;
    } catch {
      // No registry here: copy them over instead.
    }
    await run("bash", [
      "-o",
      "pipefail",
      "-c",
      'docker -H "unix://$1" save "$3" "$4" "$5" | docker -H "unix://$2" load -q',
      "_",
      DOCKER_SOCKET,
      this.socketPath,
      ...TEST_IMAGES,
    ]);
  }
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

async function ensureBridge(name: string, cidr: string): Promise<void> {
  const exists = await run("ip", ["link", "show", name]).then(
    () => true,
    () => false,
  );
  if (!exists) await run("ip", ["link", "add", name, "type", "bridge"]);
  await run("ip", ["addr", "replace", cidr, "dev", name]);
  await run("ip", ["link", "set", name, "up"]);
}

/** A bridge link and the address (CIDR) its engine gave it. */
export interface BridgeLink {
  name: string;
  cidr: string;
}

let firstBridge: Promise<BridgeLink | undefined> | undefined;

/**
 * The first engine's default bridge, as that engine made it (its `bridge` network); asked until it
 * answers. An engine that was not told the gateway names none: it is the subnet's first address,
 * where dockerd puts it.
 */
export function firstEngineBridge(): Promise<BridgeLink | undefined> {
  firstBridge ??= (async () => {
    const network = await new Docker({ socketPath: DOCKER_SOCKET, timeout: 10_000 })
      .getNetwork("bridge")
      .inspect()
      .catch(() => undefined);
    const config = network?.IPAM?.Config?.[0];
    const prefix = config?.Subnet?.split("/")[1];
    if (!config?.Subnet || !prefix) return undefined;
    const name = network?.Options?.["com.docker.network.bridge.name"] ?? "docker0";
    const gateway = config.Gateway ?? firstAddress(config.Subnet);
    return gateway ? { name, cidr: `${gateway}/${prefix}` } : undefined;
  })().then((bridge) => {
    if (!bridge) firstBridge = undefined;
    return bridge;
  });
  return firstBridge;
}

/** The first host address of an IPv4 subnet: `172.17.0.0/16` → `172.17.0.1`. */
function firstAddress(subnet: string): string | undefined {
  const octets = (subnet.split("/")[0] ?? "").split(".").map(Number);
  if (octets.length !== 4 || octets.some((o) => !Number.isInteger(o) || o < 0 || o > 255)) return undefined;
  const next = (octets.reduce((n, o) => n * 256 + o, 0) + 1) % 2 ** 32;
  return [24, 16, 8, 0].map((shift) => Math.floor(next / 2 ** shift) % 256).join(".");
}

/** The IPv4 addresses (CIDR) of a link; undefined when there is no such link. */
export async function linkAddresses(name: string): Promise<string[] | undefined> {
  const shown = await run("ip", ["-o", "-4", "addr", "show", "dev", name]).catch(() => undefined);
  return shown && [...shown.stdout.matchAll(/\binet (\S+)/g)].map((match) => match[1] as string);
}

/**
 * Makes the bridge again, with its address, if it is gone. Another node's dockerd may delete it again
 * meanwhile (while it starts; that node puts it back once it answers), so each step may fail and the
 * whole is tried again, a bounded number of times; it never fails the start.
 */
async function ensureBridgeBack(bridge: BridgeLink): Promise<void> {
  for (let attempt = 0; attempt < 20; attempt++) {
    if ((await linkAddresses(bridge.name))?.includes(bridge.cidr)) return;
    if (attempt > 0) await new Promise((resolve) => setTimeout(resolve, 100));
    await ensureBridge(bridge.name, bridge.cidr).catch(() => {});
  }
}

async function allowIntraBridgeTraffic(): Promise<void> {
  const chain = await run("iptables", ["-S", "DOCKER-USER"]).then(
    () => "DOCKER-USER",
    () => "FORWARD",
  );
  const rule = ["-i", "kn+", "-m", "physdev", "--physdev-is-bridged", "-j", "ACCEPT"];
  const present = await run("iptables", ["-C", chain, ...rule]).then(
    () => true,
    () => false,
  );
  if (!present) await run("iptables", ["-I", chain, ...rule]);
}

/** Starts `count` node engines, numbered from `first`, in parallel. */
export async function startDockerNodes(first: number, count: number): Promise<DockerNode[]> {
  const nodes = Array.from({ length: count }, (_, i) => new DockerNode(first + i));
  await Promise.all(nodes.map((n) => n.start()));
  return nodes;
}

/**
 * The local registries of scripts/services.sh (ensure_registry), named as image names spell them:
 * an open one, and one with htpasswd auth for this fixed test user (not a secret).
 */
export const REGISTRY = process.env.REGISTRY_URL || "127.0.0.1:5000";
export const REGISTRY_AUTH = process.env.REGISTRY_AUTH_URL || "127.0.0.1:5001";
export const REGISTRY_AUTH_USER = process.env.REGISTRY_AUTH_USER || "kubernease";
export const REGISTRY_AUTH_PASSWORD = process.env.REGISTRY_AUTH_PASSWORD || "kubernease-registry-test";

/** Whether the open registry answers /v2/ with 200 and the one with auth with 401 (each within 2 s). */
export async function isRegistryReachable(): Promise<boolean> {
  const status = (registry: string) =>
    fetch(`http://${registry}/v2/`, { signal: AbortSignal.timeout(2_000) }).then(
      (r) => r.status,
      () => 0,
    );
  return (await status(REGISTRY)) === 200 && (await status(REGISTRY_AUTH)) === 401;
}

/** Like describeDocker, for suites that need the Engine and both local registries. */
export function describeRegistry(title: string, reachable: boolean, suite: () => void): void {
  const why = `Docker or the local registries (${REGISTRY}, ${REGISTRY_AUTH}) do not answer (scripts/services.sh ensure_docker, ensure_registry)`;
  if (reachable) {
    describe(title, suite);
  } else if (process.env.CI === "true") {
    describe(title, () => {
      it("reaches Docker and the registries (required when CI=true)", () => {
        expect.fail(`${why}; with CI=true this fails rather than skips`);
      });
    });
  } else {
    describe.skip(`${title} — skipped, ${why}`, () => {
      it("needs Docker and the registries", () => {});
    });
  }
}

/** A `.dockerconfigjson` (plain JSON) with one registry's credentials, as `kubectl create secret docker-registry` writes it. */
export function dockerConfigJson(registry: string, username: string, password: string): string {
  const auth = Buffer.from(`${username}:${password}`).toString("base64");
  return JSON.stringify({ auths: { [registry]: { username, password, auth } } });
}

/**
 * Builds an image of its own (`kubernease-test/web:1` plus a layer of random bytes, so a pull of it
 * downloads something), pushes it as `<registry>/<repository>:<tag>` and removes the local copy, so
 * the next pull of it on this Engine is a real one. Bounded by `timeoutMs`.
 */
export async function pushUniqueImage(
  docker: Docker,
  registry: string,
  repository: string,
  auth?: { username: string; password: string },
  timeoutMs = 60_000,
): Promise<string> {
  const name = `${registry}/${repository}`;
  const tag = `${name}:1`;
  const context = await run("bash", [
    "-c",
    'dir="$(mktemp -d)" && head -c 2000000 /dev/urandom >"$dir/random" && printf "FROM kubernease-test/web:1\\nCOPY random /www/random\\n" >"$dir/Dockerfile" && echo "$dir"',
  ]);
  const dir = context.stdout.trim();
  const socket = (docker.modem as unknown as { socketPath?: string }).socketPath ?? DOCKER_SOCKET;
  const env = { ...process.env, DOCKER_BUILDKIT: "0", DOCKER_CONFIG: join(dir, ".docker") };
  try {
    await run("docker", ["-H", `unix://${socket}`, "build", "-q", "-t", tag, dir], { env, timeout: timeoutMs });
    if (auth) {
      await run(
        "bash",
        [
          "-c",
          'printf "%s" "$3" | docker -H "$1" login -u "$2" --password-stdin "$4"',
          "_",
          `unix://${socket}`,
          auth.username,
          auth.password,
          registry,
        ],
        { env, timeout: timeoutMs },
      );
    }
    await run("docker", ["-H", `unix://${socket}`, "push", "-q", tag], { env, timeout: timeoutMs });
    await run("docker", ["-H", `unix://${socket}`, "rmi", tag], { env, timeout: timeoutMs });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  return tag;
}

/** Removes from these nodes every container, network and volume labelled with this owner (a test's own). */
export async function removeOurs(nodes: DockerNode[], owner: string): Promise<void> {
  for (const node of nodes) if (await node.ping()) await removeOwned(node.client(), owner);
}

/** Removes from one Engine every container, network and volume labelled with this owner. */
export async function removeOwned(docker: Docker, owner: string): Promise<void> {
  const filters = JSON.stringify({ label: [`${LABELS.owner}=${owner}`] });
  const containers = await docker.listContainers({ all: true, filters });
  await Promise.all(
    containers.map((c) =>
      docker
        .getContainer(c.Id)
        .remove({ force: true })
        .catch(() => {}),
    ),
  );
  const networks = await docker.listNetworks({ filters });
  await Promise.all(
    networks.map((n) =>
      docker
        .getNetwork(n.Id)
        .remove()
        .catch(() => {}),
    ),
  );
  const volumes = (await docker.listVolumes({ filters })).Volumes ?? [];
  await Promise.all(
    volumes.map((v) =>
      docker
        .getVolume(v.Name)
        .remove()
        .catch(() => {}),
    ),
  );
}
