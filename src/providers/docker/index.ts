import { rmSync } from "node:fs";
import { join } from "node:path";
import { Readable } from "node:stream";
import Docker from "dockerode";
import type { Clock } from "../../core/clock.js";
import {
  type ClaimVolumeRef,
  type EndpointAddr,
  type Json,
  type LogOptions,
  LogsNotFoundError,
  type NodeProvider,
  type ObservedPod,
  type PodRuntimeSpec,
  type ProbeKind,
  type ProbeResult,
  type ProviderEvent,
  type ProviderNode,
  type ServiceProxyHost,
  type ServiceRef,
  type StopOptions,
  type TenantPlacement,
} from "../types.js";
import { applyHostFirewall } from "./firewall.js";
import { credentialsFor, followProgress, pullImage, pullPolicyOf } from "./images.js";
import { demuxAll, followLog } from "./logs.js";
import {
  groupByPod,
  isRunning,
  observePod,
  type PodContainers,
  podIPOf,
  runOf,
  specContainersOf,
  type Waiting,
} from "./observe.js";
import { PAUSE_IMAGE, pauseImageTar, tarOf } from "./pause.js";
import { execProbe, httpProbe, probeTimeoutMs, tcpProbe, within } from "./probe.js";
import {
  buildProxyImage,
  ensureDir,
  PROXY_ROLE,
  PROXY_RUN_DIR,
  type ProxyImage,
  proxyContainerName,
  proxyCreateOptions,
  proxyDirName,
  serviceKey,
} from "./serviceProxy.js";
import {
  appCreateOptions,
  appName,
  claimVolumeName,
  containersOf,
  LABELS,
  type PodContainerSpec,
  podVolumes,
  resolvePort,
  SANDBOX_VOLUMES_DIR,
  sandboxCreateOptions,
  tenantBridgeName,
  tenantNetworkName,
} from "./spec.js";

export { PAUSE_IMAGE } from "./pause.js";
export { LABELS, tenantNetworkName } from "./spec.js";

/** One Docker Engine: a node. */
export interface DockerHostConfig {
  name: string;
  /** A unix socket (`/var/run/docker.sock`)… */
  socketPath?: string;
  /** …or a TCP endpoint, with TLS when `protocol` is https (PEM contents, not paths). */
  host?: string;
  port?: number;
  protocol?: "http" | "https";
  ca?: string;
  cert?: string;
  key?: string;
  /** Where the node's published ports are reached; 127.0.0.1 when absent. */
  address?: string;
  labels?: Record<string, string>;
  /** Capacity; from `docker info` when absent. */
  cpuMillis?: number;
  memoryBytes?: number;
  maxPods?: number;
}

export interface DockerProviderOptions {
  clock: Clock;
  hosts: DockerHostConfig[];
  /**
   * The value of the `kubernease.owner` label on everything this provider creates, and the only
   * containers it lists, adopts or removes: two platforms (or two test runs) can share an Engine.
   */
  owner?: string;
  /** How long a node's Engine has to answer `/_ping` before the node is not ready (1 s). */
  pingTimeoutMs?: number;
  /** How long an image pull may take before the container waits with ErrImagePull (120 s). */
  pullTimeoutMs?: number;
  /** The pids limit of each container (1024). */
  pidsLimit?: number;
  /**
   * Whether the provider applies the host firewall (firewall.ts) before the first pod on an Engine
   * reached by unix socket, whose containers share this machine's kernel (true). Needs root; a pod
   * does not start while it cannot be applied. Remote Engines' hosts run `kubernease node firewall`.
   */
  hostFirewall?: boolean;
  log?: (message: string, fields?: Record<string, unknown>) => void;
  /**
   * Tenants' Service proxies (the ClusterIP role, `ServiceProxyHost`): each proxy's folder goes under
   * `dir` on this machine, so only Engines of this machine (unix sockets) run them. `haproxy` is the
   * binary the proxy image is built from (`/usr/sbin/haproxy`, Debian's). Absent: no Service proxies.
   */
  serviceProxies?: { dir: string; haproxy?: string };
}

const KILL_WAIT_MS = 10_000;
/** How often every pod of a connected host is reported again (`resume`), as the kubelet relists. */
const REPORT_EVERY_MS = 30_000;
/** A preStop httpGet gets this long at most (the grace period bounds it too). */
const PRE_STOP_HTTP_TIMEOUT_MS = 30_000;

interface Host {
  config: DockerHostConfig;
  docker: Docker;
  /** The same Engine with a socket timeout, for pings: a hung Engine never piles up requests. */
  quick: Docker;
  address: string;
  ready: boolean | undefined;
  capacity?: { cpuMillis: number; memoryBytes: number };
  events?: NodeJS.ReadableStream & { destroy?: () => void };
  /** Cancels the events stream being opened or followed (`unwatch`). */
  eventsAbort?: AbortController;
  watching?: Promise<void>;
  networks: Map<string, Promise<string>>;
  pauseImage?: Promise<void>;
  proxyImage?: Promise<string>;
  /** Pods whose stop found the Engine unreachable: removed when it answers again. */
  pendingStops: Set<string>;
  /** When every pod of the host was last reported (`resume`). */
  reportedAtMs: number;
  /**
   * Images pulled here with a pod's registry credentials, and the tenants whose credentials pulled
   * them: another tenant's pod must pull it with its own before it may run it, as with Kubernetes'
   * AlwaysPullImages, whatever its pull policy. Kept in memory: after a restart, until pulled again.
   */
  privateImages: Map<string, Set<string>>;
}

/**
 * Pods as containers on one or many Docker Engines (dockerode), one Engine per node.
 *
 * A pod is a sandbox — a tiny pause container that holds the pod's network namespace on its
 * tenant's network (`kubernease-<tenantId>`, one per tenant per host, created on demand) and
 * publishes the pod's ports on the node's address with ports Docker picks — plus one container
 * per pod container, in the sandbox's namespace (`NetworkMode: container:<sandbox>`).
 *
 * Runs: every run of a container is a Docker container of its own (`kn-<pod>-<container>-<run>`,
 * label `kubernease.run`), as in Kubernetes, so `containerID` is simply `docker://<id>` and a
 * restart (`restartContainer`) creates run n+1, keeps run n (its logs are `previous`) and removes the
 * runs before it. Restarting never touches the sandbox, so the pod keeps its address and published ports.
 *
 * Facts only: restart policy "no" on everything, so a run that ends stays ended until the control
 * plane restarts it. Everything created carries `kubernease.*` labels; the Engine is the record,
 * so a restarted provider lists (and reports) what runs, and the control plane's observer removes
 * the pods it does not know. Observations come from each Engine's events stream (filtered by
 * label); when a stream (re)connects every pod on that host is reported again.
 */
export class DockerProvider implements NodeProvider {
  readonly name = "docker";
  private readonly hosts = new Map<string, Host>();
  private readonly listeners = new Set<(event: ProviderEvent) => void>();
  /** Per pod, the chain of operations on it: one at a time, in order. */
  private readonly podOps = new Map<string, Promise<unknown>>();
  private readonly refreshes = new Map<string, { again: boolean }>();
  private readonly waiting = new Map<string, Map<string, Waiting>>();
  /** Pods being removed: their containers' own events are not reported, the end (podGone) is. */
  private readonly stopping = new Set<string>();
  /**
   * The latest look at each pod, kept fresh by its events: probes read it rather than asking the
   * Engine three questions per probe. A stale entry is harmless: the probe itself dials the run.
   */
  private readonly latest = new Map<string, PodContainers>();
  /**
   * Per `latest` key, the look that last wrote it (gone pods too, until a later listing covers them),
   * numbered as looks begin: a look begun earlier never overwrites what a later one found. A host's
   * listing takes a while, and a pod started meanwhile must keep what its own look saw.
   */
  private readonly latestLook = new Map<string, number>();
  private looks = 0;
  private readonly owner: string;
  private closed = false;
  /** The host firewall, applied once per provider (one kernel) before the first local pod. */
  private firewall: Promise<void> | undefined;
  /**
   * Per host and tenant, the chain of network operations: a tenant network is removed (its last pod
   * stopped) and used (a sandbox created on it) one at a time, so a removal never pulls it from under a new pod.
   */
  private readonly networkOps = new Map<string, Promise<unknown>>();
  readonly serviceProxies?: ServiceProxyHost;
  private readonly tenantNodeListeners = new Set<(tenantId: string) => void>();
  private proxyImage: Promise<ProxyImage> | undefined;

  constructor(private readonly options: DockerProviderOptions) {
    this.owner = options.owner ?? "kubernease";
    if (options.serviceProxies) this.serviceProxies = this.proxyHost(options.serviceProxies.dir);
    for (const config of options.hosts) {
      if (!this.addHost(config)) throw new Error(`docker host ${config.name} is listed twice`);
    }
  }

  /**
   * Adds an Engine as a node (one registered at run time, `POST /v1/admin/nodes`): it is listed, so
   * heartbeated, from the next `listNodes`. Idempotent: a name already known changes nothing and
   * answers false (remove it first to change its endpoint).
   */
  addHost(config: DockerHostConfig): boolean {
    if (this.hosts.has(config.name)) return false;
    this.hosts.set(config.name, {
      config,
      docker: clientOf(config),
      quick: clientOf(config, this.options.pingTimeoutMs ?? 1_000),
      address: config.address ?? "127.0.0.1",
      ready: undefined,
      networks: new Map(),
      pendingStops: new Set(),
      reportedAtMs: 0,
      privateImages: new Map(),
    });
    return true;
  }

  /**
   * Forgets an Engine: its events are no longer followed and it is no longer listed, so the control
   * plane treats it as a removed node. What runs there is left alone. Answers whether it was known.
   */
  removeHost(name: string): boolean {
    const host = this.hosts.get(name);
    if (!host) return false;
    this.hosts.delete(name);
    unwatch(host);
    for (const key of this.latest.keys()) if (key.startsWith(`${name}/`)) this.latest.delete(key);
    for (const key of this.latestLook.keys()) if (key.startsWith(`${name}/`)) this.latestLook.delete(key);
    return true;
  }

  hasHost(name: string): boolean {
    return this.hosts.has(name);
  }

  hostNames(): string[] {
    return [...this.hosts.keys()];
  }

  /** Engines reached over TCP are other machines: their pods' addresses are on bridges of theirs. */
  remoteNodes(): string[] {
    return [...this.hosts.values()].filter((h) => h.config.socketPath === undefined).map((h) => h.config.name);
  }

  edgeEndpoint(pod: { podId: string; nodeName: string }, port: number): EndpointAddr | undefined {
    const host = this.hosts.get(pod.nodeName);
    const found = this.latest.get(`${pod.nodeName}/${pod.podId}`);
    const published = found ? publishedPort(found, port) : undefined;
    return host && published !== undefined ? { address: host.address, port: published } : undefined;
  }

  async listNodes(): Promise<ProviderNode[]> {
    return Promise.all([...this.hosts.values()].map((host) => this.heartbeat(host)));
  }

  async startPod(pod: PodRuntimeSpec): Promise<void> {
    // A job still running when the control plane stopped must not leave a container behind.
    if (this.closed) throw new Error("the docker provider is closed");
    const host = this.hostOf(pod.nodeName);
    await this.serially(pod.podId, () => this.start(host, pod));
  }

  async stopPod(nodeName: string, podId: string, options?: StopOptions): Promise<void> {
    const host = this.hosts.get(nodeName);
    if (!host) return;
    await this.serially(podId, () => this.stop(host, podId, options));
  }

  async listPods(nodeName?: string): Promise<ObservedPod[]> {
    const hosts = [...this.hosts.values()].filter((h) => nodeName === undefined || h.config.name === nodeName);
    const lists = await Promise.all(
      hosts.map(async (host) => {
        try {
          return [...(await this.podsOn(host)).all.values()].map((found) => this.observe(host, found));
        } catch (error) {
          this.log("listing pods failed", host, error);
          return [];
        }
      }),
    );
    return lists.flat().sort((a, b) => (a.podId < b.podId ? -1 : a.podId > b.podId ? 1 : 0));
  }

  async probe(
    nodeName: string,
    podId: string,
    containerName: string,
    _kind: ProbeKind,
    probe: Json,
  ): Promise<ProbeResult> {
    const host = this.hostOf(nodeName);
    const found = this.latest.get(`${nodeName}/${podId}`) ?? (await this.find(host, podId));
    const run = found.apps.get(containerName);
    if (!run || !isRunning(run)) return { ok: false, message: `container ${containerName} is not running` };
    const timeoutMs = probeTimeoutMs(probe);
    const timedOut = (): ProbeResult => ({ ok: false, message: `probe timed out after ${timeoutMs} ms` });
    if (probe.exec) {
      const command = ((probe.exec as Json).command as string[] | undefined) ?? [];
      return within(this.options.clock, timeoutMs, execProbe(host.docker.getContainer(run.Id), command), timedOut);
    }
    const action = (probe.httpGet ?? probe.tcpSocket) as Json | undefined;
    if (!action) return { ok: false, message: "the docker provider runs httpGet, tcpSocket and exec probes only" };
    const spec = specContainersOf(found.sandbox).find((c) => c.name === containerName);
    const containerPort = resolvePort(spec, action.port);
    const hostPort = publishedPort(found, containerPort);
    if (hostPort === undefined) return { ok: false, message: `port ${String(action.port)} is not published` };
    // Messages reach tenants: they name the pod's address and port, never the node's.
    const podIP = podIPOf(found.sandbox, found.sandbox?.HostConfig.NetworkMode) ?? "0.0.0.0";
    const shown = { host: podIP, port: containerPort as number };
    return probe.httpGet
      ? httpProbe(host.address, hostPort, action, timeoutMs, shown)
      : tcpProbe(host.address, hostPort, timeoutMs, shown);
  }

  async killContainer(nodeName: string, podId: string, containerName: string, containerID?: string): Promise<void> {
    const host = this.hostOf(nodeName);
    await this.serially(podId, async () => {
      const run = (await this.find(host, podId)).apps.get(containerName);
      if (!run || !isRunning(run) || (containerID !== undefined && `docker://${run.Id}` !== containerID)) return;
      const container = host.docker.getContainer(run.Id);
      await container.kill({ signal: "SIGKILL" }).catch(ignoreGone);
      await within(this.options.clock, KILL_WAIT_MS, container.wait({ condition: "not-running" }), () => undefined);
      await this.refresh(host, podId);
    });
  }

  async restartContainer(nodeName: string, podId: string, containerName: string, containerID?: string): Promise<void> {
    const host = this.hostOf(nodeName);
    await this.serially(podId, async () => {
      const found = await this.find(host, podId);
      const run = found.apps.get(containerName);
      if (!run || !found.sandbox || !isRunning(found.sandbox)) return;
      if (run.State.Status !== "exited" && run.State.Status !== "dead") return;
      if (containerID !== undefined && `docker://${run.Id}` !== containerID) return;
      await this.cloneRun(host, run, runOf(run) + 1);
      // The ended run stays as the previous one (its logs answer `previous`, as the kubelet keeps the last
      // dead container); runs before it go once its successor exists, so a crash in between loses nothing.
      for (const older of await this.runsOf(host, podId, containerName)) {
        if (runOf(older) >= runOf(run)) continue;
        await host.docker.getContainer(older.Id).remove({ force: true }).catch(ignoreGone);
      }
      await this.refresh(host, podId);
    });
  }

  /** The current run's output (or the previous run's), demultiplexed; a followed log ends with the run. */
  async logs(
    nodeName: string,
    podId: string,
    containerName: string,
    options: LogOptions = {},
  ): Promise<AsyncIterable<string>> {
    const host = this.hostOf(nodeName);
    const runs = await this.runsOf(host, podId, containerName);
    const current = runs.at(-1);
    if (!current) throw new LogsNotFoundError(`container "${containerName}" has not started`);
    const target = options.previous ? runs.at(-2) : current;
    if (!target) throw new LogsNotFoundError(`previous terminated container "${containerName}" not found`);
    const container = host.docker.getContainer(target.Id);
    const tail = options.tailLines !== undefined ? { tail: options.tailLines } : {};
    const tty = target.Config.Tty === true;
    if (options.follow && !options.previous) {
      const stream = await container.logs({ stdout: true, stderr: true, follow: true, ...tail, timestamps: false });
      return followLog(stream, tty, options.signal);
    }
    const buffer = await container.logs({ stdout: true, stderr: true, follow: false, ...tail, timestamps: false });
    const text = demuxAll(buffer, tty);
    return (async function* () {
      if (text !== "") yield text;
    })();
  }

  /** Every run of one of a pod's containers, oldest first, inspected. */
  private async runsOf(host: Host, podId: string, containerName: string): Promise<Docker.ContainerInspectInfo[]> {
    const filters = JSON.stringify({
      label: [`${LABELS.owner}=${this.owner}`, `${LABELS.pod}=${podId}`, `${LABELS.container}=${containerName}`],
    });
    const runs = await inspectAll(host.docker, await host.docker.listContainers({ all: true, filters }));
    return runs.filter((run) => run.Config.Labels?.[LABELS.role] !== "sandbox").sort((a, b) => runOf(a) - runOf(b));
  }

  subscribe(listener: (event: ProviderEvent) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  async close(): Promise<void> {
    this.closed = true;
    for (const host of this.hosts.values()) unwatch(host);
    await Promise.allSettled([...this.podOps.values()]);
    this.listeners.clear();
  }

  // --- nodes ------------------------------------------------------------------------------

  private async heartbeat(host: Host): Promise<ProviderNode> {
    const pingMs = this.options.pingTimeoutMs ?? 1_000;
    const ready = await within(
      this.options.clock,
      pingMs,
      host.quick.ping().then(
        () => true,
        () => false,
      ),
      () => false,
    );
    if (ready && !host.capacity) {
      const info = await within(this.options.clock, pingMs, host.quick.info().catch(noInfo), noInfo);
      if (info) host.capacity = { cpuMillis: Number(info.NCPU) * 1000, memoryBytes: Number(info.MemTotal) };
    }
    const changed = host.ready !== undefined && host.ready !== ready;
    host.ready = ready;
    // An Engine that does not answer may still seem to hold its events stream open (a host gone without
    // closing its connections, over TCP): it is dropped, with a watch still opening it or reporting the
    // pods, so that the Engine's return opens it anew and reports every pod at once, rather than leaving
    // this provider deaf to its events. A ping lost on a busy Engine costs one listing of its pods.
    if (!ready) unwatch(host);
    const node = this.nodeOf(host);
    if (changed) this.emit({ type: "node", node, atMs: this.options.clock.now() });
    if (ready && !host.events && !this.closed) void this.watch(host);
    else if (ready && !host.watching && this.options.clock.now() - host.reportedAtMs >= REPORT_EVERY_MS) {
      void this.resume(host).catch((error) => this.log("reporting the host's pods failed", host, error));
    }
    return node;
  }

  private nodeOf(host: Host): ProviderNode {
    const { config } = host;
    return {
      name: config.name,
      address: host.address,
      labels: { "kubernetes.io/hostname": config.name, ...config.labels },
      cpuMillis: config.cpuMillis ?? host.capacity?.cpuMillis ?? 0,
      memoryBytes: config.memoryBytes ?? host.capacity?.memoryBytes ?? 0,
      maxPods: config.maxPods ?? 110,
      ready: host.ready === true,
    };
  }

  /**
   * Follows the Engine's events for our containers; on (re)connection reports every pod on the
   * host again and finishes the stops that found the Engine down. When the stream ends the Engine
   * is pinged at once, so a dead Engine shows as a not-ready node without waiting for a heartbeat.
   */
  private watch(host: Host): Promise<void> {
    if (host.watching) return host.watching;
    const watching: Promise<void> = (async () => {
      const filters = {
        type: ["container"],
        label: [`${LABELS.owner}=${this.owner}`],
        event: ["start", "die", "oom", "destroy"],
      };
      const abort = new AbortController();
      host.eventsAbort = abort;
      const stream = (await host.docker.getEvents({
        filters: JSON.stringify(filters),
        abortSignal: abort.signal,
      })) as Host["events"] & {};
      // Removed (removeHost), or found not answering (unwatch), while the stream was being opened: not followed.
      if (this.hosts.get(host.config.name) !== host || abort.signal.aborted) return stream.destroy?.();
      host.events = stream;
      let buffered = "";
      stream.on("data", (chunk: Buffer) => {
        buffered += chunk.toString("utf8");
        const lines = buffered.split("\n");
        buffered = lines.pop() ?? "";
        for (const line of lines) this.onEngineEvent(host, line);
      });
      const ended = () => {
        if (host.events !== stream) return;
        host.events = undefined;
        if (!this.closed) void this.heartbeat(host);
      };
      stream.on("end", ended);
      stream.on("error", ended);
      stream.on("close", ended);
      await this.resume(host);
    })()
      .catch((error) => {
        // Dropped on purpose (unwatch) while being opened: nothing failed.
        if ((error as Error | undefined)?.name !== "AbortError") this.log("watching the engine failed", host, error);
      })
      .finally(() => {
        // Only its own: one dropped (unwatch) may end after the next has begun, or never (an Engine call
        // to a host that went silent has no timeout).
        if (host.watching === watching) host.watching = undefined;
      });
    host.watching = watching;
    return watching;
  }

  private onEngineEvent(host: Host, line: string): void {
    if (line.trim() === "") return;
    try {
      const event = JSON.parse(line) as { Actor?: { Attributes?: Record<string, string> } };
      const podId = event.Actor?.Attributes?.[LABELS.pod];
      if (podId) void this.refresh(host, podId);
    } catch {
      // A malformed line is skipped: the next event of that pod reports it anyway.
    }
  }

  /**
   * After a (re)connection, and every `REPORT_EVERY_MS` while connected: finishes pending stops, then
   * reports every pod the host runs. So a pod no one knows (an orphan: another process started it
   * while this one stopped it) reaches the observer, which removes it, even if it never changes again.
   * The stops are not awaited: a start of that very pod, queued behind them on the pod's chain, may
   * be what (re)connected the stream.
   */
  private async resume(host: Host): Promise<void> {
    host.reportedAtMs = this.options.clock.now();
    for (const podId of [...host.pendingStops]) {
      void this.serially(podId, () => this.stop(host, podId)).catch((error) =>
        this.log("a deferred stop failed; it is tried again at the next report", host, error, { podId }),
      );
    }
    // Only what no later look has reported: the listing began before those.
    const { all, fresh } = await this.podsOn(host);
    for (const found of fresh) this.emit({ type: "pod", pod: this.observe(host, found) });
    await this.releaseUnusedNetworks(host, all);
  }

  /**
   * Tenant networks of ours on the host that no pod of the tenant is on: left by a stop that found no
   * containers (another process removed them first, or this one died between the two). Each is
   * released as a last pod's stop releases it, which looks again under the tenant's network lock.
   */
  private async releaseUnusedNetworks(host: Host, pods: ReadonlyMap<string, PodContainers>): Promise<void> {
    const withPods = new Set<string>();
    for (const found of pods.values()) {
      const tenantId = found.sandbox?.Config.Labels?.[LABELS.tenant];
      if (tenantId) withPods.add(tenantId);
    }
    const networks = await host.docker.listNetworks({
      filters: JSON.stringify({ label: [`${LABELS.owner}=${this.owner}`, LABELS.tenant] }),
    });
    for (const network of networks) {
      const tenantId = network.Labels?.[LABELS.tenant];
      if (tenantId && !withPods.has(tenantId)) await this.releaseNetwork(host, tenantId);
    }
  }

  // --- pods -------------------------------------------------------------------------------

  /**
   * Starts the pod; once more at once when its tenant's network went meanwhile (another process
   * removed it with the tenant's last pod on this host): that attempt's containers are gone then,
   * and the network is made anew.
   */
  private async start(host: Host, pod: PodRuntimeSpec): Promise<void> {
    try {
      await this.startOnce(host, pod);
    } catch (error) {
      if (!(error instanceof NetworkGoneError)) throw error;
      this.log("the tenant network went while a pod started; starting it again", host, error.cause, {
        podId: pod.podId,
      });
      await this.startOnce(host, pod);
    }
  }

  private async startOnce(host: Host, pod: PodRuntimeSpec): Promise<void> {
    if (!host.events) await this.watch(host);
    let found = await this.find(host, pod.podId);
    const specs = containersOf(pod.spec);
    // A crash between creating a container and starting it leaves it created and never run: it is
    // started now, not taken for a pod that runs.
    const unstarted = (c: Docker.ContainerInspectInfo | undefined) => c?.State.Status === "created";
    const complete =
      found.sandbox &&
      !unstarted(found.sandbox) &&
      specs.every((c) => found.apps.has(c.name) && !unstarted(found.apps.get(c.name)));
    if (complete) {
      // Level-triggered: asked again, it reports what runs and changes nothing.
      this.emit({ type: "pod", pod: this.observe(host, found) });
      return;
    }
    if (!found.sandbox) {
      this.emit({ type: "pod", pod: pendingPod(pod) });
      await this.ensurePauseImage(host);
      await this.ensureFirewall(host);
      // Created under the tenant's network lock: once the sandbox exists, the network is not removed.
      let newHere = false;
      await this.withNetwork(host, pod.tenantId, async () => {
        newHere = !host.networks.has(pod.tenantId);
        const network = await this.ensureNetwork(host, pod.tenantId);
        const options = sandboxCreateOptions(pod, {
          image: PAUSE_IMAGE,
          networkName: network,
          address: host.address,
          owner: this.owner,
        });
        await createOrGet(host.docker, options).catch((error) => {
          throw networkGone(error) ? this.networkWent(host, pod.tenantId, error) : error;
        });
      });
      // The tenant's Service proxies follow it to this node, when it is new here (this process had not
      // used its network on this host). Not at every pod: each call is a pass of the proxy sync, which
      // lists every host's containers, and a burst's passes were most of the Engine's listings.
      if (newHere) for (const listener of this.tenantNodeListeners) listener(pod.tenantId);
      found = await this.find(host, pod.podId);
    }
    const sandbox = found.sandbox as Docker.ContainerInspectInfo;
    // Before its first start, so that a crash after the sandbox's creation never leaves a volume without its files.
    if (unstarted(sandbox)) await this.writeFiles(host.docker.getContainer(sandbox.Id), pod);
    // The sandbox's start (its network) is the slow part: the containers are created meanwhile. Its
    // failure is held until then (a rejection nobody awaits yet would take the process down). A
    // failed start (a published port another Engine of this machine holds) is tried again by the
    // job's retry: the Engine allocates the port anew.
    const sandboxUp =
      sandbox.State.Status === "created"
        ? host.docker
            .getContainer(sandbox.Id)
            .start()
            .then(
              () => undefined,
              (error: unknown) => (statusOf(error) === 304 ? undefined : { error }),
            )
        : undefined;
    const created: Docker.Container[] = [];
    const { unsupported } = podVolumes(pod);
    try {
      for (const spec of specs) {
        if (unsupported.length > 0) {
          const message = `volumes ${unsupported.join(", ")}: only emptyDir, configMap, secret and persistentVolumeClaim volumes are supported on Docker`;
          this.setWaiting(pod.podId, spec.name, { reason: "CreateContainerConfigError", message });
          continue;
        }
        const existing = found.apps.get(spec.name);
        if (existing && existing.HostConfig.NetworkMode !== `container:${sandbox.Id}`) {
          // Made for a sandbox that is gone (removed by a stop that raced this start): it can never
          // run in this one, whose namespace it does not join. Made again.
          await host.docker.getContainer(existing.Id).remove({ force: true }).catch(ignoreGone);
        } else if (existing) {
          if (unstarted(existing)) created.push(host.docker.getContainer(existing.Id));
          continue;
        }
        if (!(await this.ensureImage(host, pod, spec))) continue;
        const pidsLimit = this.options.pidsLimit ?? 1024;
        const options = appCreateOptions(pod, spec, {
          sandboxId: sandbox.Id,
          owner: this.owner,
          run: 1,
          pidsLimit,
          ...(host.capacity ? { cpuMillis: host.capacity.cpuMillis } : {}),
        });
        created.push(await createOrGet(host.docker, options));
      }
    } finally {
      // Settled either way before anything else happens to the pod.
      await sandboxUp;
    }
    const failed = await sandboxUp;
    if (failed && networkGone(failed.error)) {
      // Its network was removed after the sandbox was made: it can never start. It goes, with the
      // containers made for it, and the pod starts afresh.
      await this.removeAll(host, pod.podId, await this.find(host, pod.podId));
      throw this.networkWent(host, pod.tenantId, failed.error);
    }
    if (failed) throw failed.error;
    for (const container of created) await container.start().catch(ignoreStarted);
    await this.refresh(host, pod.podId);
  }

  /**
   * A new run of a container: a copy of the ended run's configuration (image, command, environment,
   * limits, security options, the sandbox's namespace) under the next run number.
   */
  private async cloneRun(host: Host, ended: Docker.ContainerInspectInfo, run: number): Promise<void> {
    // Hostname and exposed ports belong to the sandbox, whose network namespace the run joins.
    const { Hostname: _hostname, Domainname: _domain, ExposedPorts: _ports, ...config } = ended.Config;
    const name = ended.Config.Labels?.[LABELS.container] ?? "";
    const options = {
      ...config,
      name: appName(ended.Config.Labels?.[LABELS.pod] ?? "", name, run),
      Labels: { ...ended.Config.Labels, [LABELS.run]: String(run) },
      HostConfig: ended.HostConfig,
    };
    const container = await createOrGet(host.docker, options as unknown as Json);
    await container.start().catch(ignoreStarted);
  }

  /** ConfigMap and Secret volumes' files, written into their volumes through the (not yet started) sandbox. */
  private async writeFiles(sandbox: Docker.Container, pod: PodRuntimeSpec): Promise<void> {
    for (const volume of podVolumes(pod).volumes) {
      const files = pod.files?.[volume.name];
      if (!volume.files || !files || Object.keys(files).length === 0) continue;
      const entries = Object.entries(files).map(([path, content]) => ({
        path,
        content: Buffer.from(content, volume.binary ? "latin1" : "utf8"),
      }));
      await sandbox.putArchive(tarOf(entries), { path: `${SANDBOX_VOLUMES_DIR}/${volume.name}` });
    }
  }

  private async stop(host: Host, podId: string, options?: StopOptions): Promise<void> {
    this.waiting.delete(podId);
    let found: PodContainers;
    try {
      found = await this.find(host, podId);
    } catch (error) {
      // The Engine is down: the pod goes when it answers again (its containers are ours, by label).
      host.pendingStops.add(podId);
      this.log("stopping a pod on an unreachable engine: deferred", host, error);
      return;
    }
    host.pendingStops.delete(podId);
    this.stopping.add(podId);
    try {
      if (options) await this.stopGracefully(host, found, options);
      await this.removeAll(host, podId, found);
    } finally {
      this.stopping.delete(podId);
      this.remember(`${host.config.name}/${podId}`, ++this.looks, undefined);
    }
    this.emit({ type: "podGone", podId, nodeName: host.config.name });
    const tenantId = [found.sandbox, ...found.apps.values()].find((c) => c)?.Config.Labels?.[LABELS.tenant];
    if (tenantId) await this.releaseNetwork(host, tenantId);
  }

  /**
   * The tenant's network goes from a host once no pod of the tenant is left there (no sandbox of
   * ours, in any state). Best effort: a network something else still uses stays, and is looked at
   * again when the tenant's next pod there stops.
   */
  private async releaseNetwork(host: Host, tenantId: string): Promise<void> {
    await this.withNetwork(host, tenantId, async () => {
      const filters = JSON.stringify({
        label: [`${LABELS.owner}=${this.owner}`, `${LABELS.tenant}=${tenantId}`, `${LABELS.role}=sandbox`],
      });
      if ((await host.docker.listContainers({ all: true, filters })).length > 0) return;
      host.networks.delete(tenantId);
      // The tenant's Service proxies go with its last pod: they hold the network.
      await this.removeProxies(host, tenantId, new Set());
      const name = tenantNetworkName(tenantId);
      const [network] = (await host.docker.listNetworks({ filters: JSON.stringify({ name: [name] }) })).filter(
        (n) => n.Name === name && n.Labels?.[LABELS.owner] === this.owner,
      );
      if (!network) return;
      await host.docker
        .getNetwork(network.Id)
        .remove()
        .catch((error) => {
          if (statusOf(error) !== 404) this.log("removing a tenant network failed", host, error, { tenantId });
        });
    }).catch((error) => this.log("releasing a tenant network failed", host, error, { tenantId }));
  }

  /** Forgets the tenant's network on this host (the next pod makes it anew): the error to throw. */
  private networkWent(host: Host, tenantId: string, cause: unknown): NetworkGoneError {
    host.networks.delete(tenantId);
    return new NetworkGoneError(cause);
  }

  /** One operation at a time on a tenant's network on one host (see `networkOps`). */
  private withNetwork<T>(host: Host, tenantId: string, task: () => Promise<T>): Promise<T> {
    return chained(this.networkOps, `${host.config.name}/${tenantId}`, task);
  }

  /**
   * The host firewall (firewall.ts), for an Engine on this machine (reached by unix socket on Linux):
   * applied once, before the first pod; retried at the next pod when it failed.
   */
  private async ensureFirewall(host: Host): Promise<void> {
    if (this.options.hostFirewall === false || !host.config.socketPath || process.platform !== "linux") return;
    this.firewall ??= applyHostFirewall()
      .then(() => undefined)
      .catch((error) => {
        this.firewall = undefined;
        throw new Error(
          `the host firewall that keeps pods away from this host's ports could not be applied (it needs root; or set hostFirewall: false and run \`kubernease node firewall\` as root): ${error instanceof Error ? error.message : String(error)}`,
        );
      });
    await this.firewall;
  }

  /**
   * Removes a deleted claim's Docker volume from its node: only a volume of ours (by owner label),
   * never forced, so while a container still mounts it the answer is false and the caller retries.
   */
  async removeVolume(nodeName: string, claim: ClaimVolumeRef): Promise<boolean> {
    const host = this.hosts.get(nodeName);
    // A node no longer configured: there is nothing this provider can remove there.
    if (!host) return true;
    const volume = host.docker.getVolume(claimVolumeName(claim));
    const info = await volume.inspect().catch(ignoreGone);
    if (!info || info.Labels?.[LABELS.owner] !== this.owner) return true;
    try {
      await volume.remove();
      return true;
    } catch (error) {
      if (statusOf(error) === 404) return true;
      if (statusOf(error) === 409) return false;
      throw error;
    }
  }

  /**
   * The kubelet's way out, for every running container at once: its preStop hook, then SIGTERM, and
   * SIGKILL for what still runs when the grace period (from now) is over. A failing hook is logged
   * and the stop goes on, as the kubelet does.
   */
  private async stopGracefully(host: Host, found: PodContainers, options: StopOptions): Promise<void> {
    const { clock } = this.options;
    const deadline = clock.now() + Math.max(0, options.gracePeriodSeconds) * 1000;
    const running = [...found.apps].filter(([, run]) => isRunning(run));
    await Promise.all(
      running.map(async ([name, run]) => {
        const hook = options.preStop?.[name];
        if (hook) {
          const hookRun = this.preStop(host, found, name, run, hook).catch((error) => {
            this.log("a preStop hook failed", host, error);
          });
          await within(clock, Math.max(0, deadline - clock.now()), hookRun, () => undefined);
        }
        // Docker sends the image's stop signal (SIGTERM unless the image says otherwise), then SIGKILL after t s.
        const t = Math.max(0, Math.ceil((deadline - clock.now()) / 1000));
        await host.docker
          .getContainer(run.Id)
          .stop({ t })
          .catch((error) => {
            // 304: stopped already; 404: gone.
            if (statusOf(error) !== 304) ignoreGone(error);
          });
      }),
    );
  }

  /** Runs one preStop handler: `exec` in the container, `httpGet` to its published port, or `sleep`. */
  private async preStop(
    host: Host,
    found: PodContainers,
    name: string,
    run: Docker.ContainerInspectInfo,
    hook: Json,
  ): Promise<void> {
    if (hook.exec) {
      const command = ((hook.exec as Json).command as string[] | undefined) ?? [];
      const result = await execProbe(host.docker.getContainer(run.Id), command);
      if (!result.ok) throw new Error(`exec preStop hook of ${name}: ${result.message ?? "failed"}`);
      return;
    }
    if (hook.httpGet) {
      const action = hook.httpGet as Json;
      const spec = specContainersOf(found.sandbox).find((c) => c.name === name);
      const hostPort = publishedPort(found, resolvePort(spec, action.port));
      if (hostPort === undefined)
        throw new Error(`httpGet preStop hook of ${name}: port ${String(action.port)} is not published`);
      const result = await httpProbe(host.address, hostPort, action, PRE_STOP_HTTP_TIMEOUT_MS);
      if (!result.ok) throw new Error(`httpGet preStop hook of ${name}: ${result.message ?? "failed"}`);
      return;
    }
    const seconds = Number((hook.sleep as Json | undefined)?.seconds ?? 0);
    if (seconds > 0) await new Promise<void>((resolve) => this.options.clock.setTimer(seconds * 1000, resolve));
  }

  private async removeAll(host: Host, podId: string, found: PodContainers): Promise<void> {
    const ids = [...found.apps.values()].map((c) => c.Id);
    // Every run, not only the latest: a restart interrupted between create and remove leaves two.
    const all = await host.docker.listContainers({ all: true, filters: this.podFilter(podId) });
    for (const c of all) if (!ids.includes(c.Id) && c.Id !== found.sandbox?.Id) ids.push(c.Id);
    if (found.sandbox) ids.push(found.sandbox.Id);
    for (const id of ids) {
      await host.docker.getContainer(id).remove({ force: true }).catch(ignoreGone);
    }
    // The pod's own volumes (emptyDir, configMap, secret) go with it; claims' volumes stay.
    const volumes = await host.docker.listVolumes({ filters: this.podFilter(podId) });
    for (const volume of volumes.Volumes ?? []) {
      await host.docker.getVolume(volume.Name).remove().catch(ignoreGone);
    }
  }

  /** Re-reads one pod and reports it (or that it is gone); concurrent asks for one pod coalesce. */
  private async refresh(host: Host, podId: string): Promise<void> {
    const key = `${host.config.name}/${podId}`;
    const pending = this.refreshes.get(key);
    if (pending) {
      pending.again = true;
      return;
    }
    const state = { again: true };
    this.refreshes.set(key, state);
    try {
      for (let i = 0; i < 10 && state.again && !this.closed && !this.stopping.has(podId); i++) {
        state.again = false;
        const found = await this.find(host, podId);
        if (!found.sandbox && found.apps.size === 0) {
          this.emit({ type: "podGone", podId, nodeName: host.config.name });
        } else {
          this.emit({ type: "pod", pod: this.observe(host, found) });
        }
      }
    } catch (error) {
      this.log("observing a pod failed", host, error, { podId });
    } finally {
      this.refreshes.delete(key);
    }
  }

  private observe(host: Host, found: PodContainers): ObservedPod {
    return observePod(host.config.name, found, this.waiting.get(found.podId));
  }

  private podFilter(podId: string): string {
    return JSON.stringify({ label: [`${LABELS.owner}=${this.owner}`, `${LABELS.pod}=${podId}`] });
  }

  /** The pod's sandbox and the latest run of each of its containers, inspected. */
  private async find(host: Host, podId: string): Promise<PodContainers> {
    const begun = ++this.looks;
    const list = await host.docker.listContainers({ all: true, filters: this.podFilter(podId) });
    const infos = await inspectAll(host.docker, list);
    const found: PodContainers = groupByPod(infos).get(podId) ?? { podId, apps: new Map() };
    const gone = this.stopping.has(podId) || (!found.sandbox && found.apps.size === 0);
    this.remember(`${host.config.name}/${podId}`, begun, gone ? undefined : found);
    return found;
  }

  /**
   * Every pod of ours on the host (`all`), and those of them no look begun after this listing has
   * reported (`fresh`), which `latest` now holds; pods it did not list leave `latest`, unless a later
   * look found them.
   */
  private async podsOn(host: Host): Promise<{ all: Map<string, PodContainers>; fresh: PodContainers[] }> {
    const begun = ++this.looks;
    const filters = JSON.stringify({ label: [`${LABELS.owner}=${this.owner}`, LABELS.pod] });
    const list = await host.docker.listContainers({ all: true, filters });
    const all = groupByPod(await inspectAll(host.docker, list));
    const prefix = `${host.config.name}/`;
    const fresh: PodContainers[] = [];
    for (const [podId, found] of all) if (this.remember(`${prefix}${podId}`, begun, found)) fresh.push(found);
    for (const key of [...this.latestLook.keys()]) {
      if (!key.startsWith(prefix) || all.has(key.slice(prefix.length))) continue;
      this.remember(key, begun, undefined);
      // A gone pod's mark is of no more use once a listing began after it.
      if ((this.latestLook.get(key) ?? 0) <= begun && !this.latest.has(key)) this.latestLook.delete(key);
    }
    return { all, fresh };
  }

  /** Keeps what a look begun at `begun` found of a pod (undefined: gone), unless a look begun later wrote first. */
  private remember(key: string, begun: number, found: PodContainers | undefined): boolean {
    if ((this.latestLook.get(key) ?? 0) > begun) return false;
    this.latestLook.set(key, begun);
    if (found) this.latest.set(key, found);
    else this.latest.delete(key);
    return true;
  }

  // --- images and networks -----------------------------------------------------------------

  /**
   * The image is there, or pulled now (images.ts) with the pod's registry credentials; meanwhile the
   * container waits in ContainerCreating with the pull's progress as its message. When the image
   * cannot be had the container waits with the reason (ErrImageNeverPull, ErrImagePull and the
   * registry's message); trying again is the control plane's call (src/controllers/imagePull.ts).
   */
  private async ensureImage(host: Host, pod: PodRuntimeSpec, spec: PodContainerSpec): Promise<boolean> {
    const { podId, tenantId, registryAuth: auth } = pod;
    const present = await host.docker
      .getImage(spec.image)
      .inspect()
      .then(
        () => true,
        () => false,
      );
    const pulledBy = host.privateImages.get(spec.image);
    const mustProve = pulledBy !== undefined && !pulledBy.has(tenantId);
    const policy = mustProve ? "Always" : pullPolicyOf(spec.image, spec.imagePullPolicy);
    if (present && policy !== "Always") return this.clearWaiting(podId, spec.name);
    if (!present && policy === "Never") {
      const message = `Container image "${spec.image}" is not present with pull policy of Never`;
      return this.setWaiting(podId, spec.name, { reason: "ErrImageNeverPull", message });
    }
    const failure = await pullImage(host.docker, spec.image, {
      clock: this.options.clock,
      timeoutMs: this.options.pullTimeoutMs ?? 120_000,
      auth,
      onProgress: (message) => this.reportPulling(host, podId, spec.name, message),
    });
    if (failure === undefined) {
      if (pulledBy !== undefined || credentialsFor(spec.image, auth).length > 0) {
        host.privateImages.set(spec.image, new Set([...(pulledBy ?? []), tenantId]));
      }
      return this.clearWaiting(podId, spec.name);
    }
    const message = `Failed to pull image "${spec.image}": ${failure}`;
    return this.setWaiting(podId, spec.name, { reason: "ErrImagePull", message });
  }

  /** A pull's progress, as the waiting container's message, reported with the pod's latest look. */
  private reportPulling(host: Host, podId: string, container: string, message: string): void {
    this.setWaiting(podId, container, { reason: "ContainerCreating", message });
    const found = this.latest.get(`${host.config.name}/${podId}`);
    if (found && !this.closed && !this.stopping.has(podId)) this.emit({ type: "pod", pod: this.observe(host, found) });
  }

  private setWaiting(podId: string, container: string, why: Waiting): false {
    const map = this.waiting.get(podId) ?? new Map<string, Waiting>();
    map.set(container, why);
    this.waiting.set(podId, map);
    return false;
  }

  private clearWaiting(podId: string, container: string): true {
    this.waiting.get(podId)?.delete(container);
    return true;
  }

  private ensurePauseImage(host: Host): Promise<void> {
    host.pauseImage ??= (async () => {
      const present = await host.docker
        .getImage(PAUSE_IMAGE)
        .inspect()
        .then(
          () => true,
          () => false,
        );
      if (present) return;
      const [repo, tag] = PAUSE_IMAGE.split(":") as [string, string];
      const progress = await host.docker.importImage(
        Readable.from(pauseImageTar()) as unknown as NodeJS.ReadableStream,
        {
          repo,
          tag,
        },
      );
      await followProgress(host.docker, progress);
    })().catch((error) => {
      host.pauseImage = undefined;
      throw error;
    });
    return host.pauseImage;
  }

  /** The tenant's own network on this host: pods of other tenants are on other bridges, unreachable. */
  private ensureNetwork(host: Host, tenantId: string): Promise<string> {
    const name = tenantNetworkName(tenantId);
    let made = host.networks.get(tenantId);
    if (!made) {
      made = (async () => {
        const exists = async () => {
          const list = await host.docker.listNetworks({ filters: JSON.stringify({ name: [name] }) });
          return list.some((n) => n.Name === name);
        };
        if (await exists()) return name;
        try {
          await host.docker.createNetwork({
            Name: name,
            Driver: "bridge",
            CheckDuplicate: true,
            Labels: { [LABELS.owner]: this.owner, [LABELS.tenant]: tenantId },
            Options: { "com.docker.network.bridge.name": tenantBridgeName(host.config.name, tenantId) },
          });
        } catch (error) {
          if (!(await exists())) throw error;
        }
        return name;
      })().catch((error) => {
        host.networks.delete(tenantId);
        throw error;
      });
      host.networks.set(tenantId, made);
    }
    return made;
  }

  // --- Service proxies (ServiceProxyHost) ---------------------------------------------------

  private proxyHost(base: string): ServiceProxyHost {
    const haproxy = this.options.serviceProxies?.haproxy ?? "/usr/sbin/haproxy";
    return {
      haproxy,
      proxyRunDir: PROXY_RUN_DIR,
      // Never mounted into a proxy: what the platform writes and checks before it hands a file over.
      stagingDir: ensureDir(join(base, ".staging")),
      placement: () => this.placement(),
      proxyDir: (nodeName, tenantId, service) => this.proxyDir(base, nodeName, tenantId, service),
      endpointFrom: (fromNode, pod, port) => {
        if (pod.nodeName === fromNode) return { address: pod.ip, port };
        const host = this.hosts.get(pod.nodeName);
        // A loopback address is the proxy's own inside its container: the pod is not reachable there.
        if (!host || /^127\.|^localhost$|^::1$/.test(host.address)) return undefined;
        return this.edgeEndpoint(pod, port);
      },
      ensureProxies: (nodeName, tenantId, services) =>
        this.ensureProxies(this.hostOf(nodeName), tenantId, services, base),
      onTenantNode: (listener) => {
        this.tenantNodeListeners.add(listener);
        return () => this.tenantNodeListeners.delete(listener);
      },
    };
  }

  /**
   * The hosts that can run Service proxies (Engines of this machine: a proxy mounts a folder of it),
   * and on each the tenants with pods and with proxies, as the Engine lists them: another process
   * may have started or stopped pods there. Two listings per host.
   */
  private async placement(): Promise<Map<string, TenantPlacement>> {
    const out = new Map<string, TenantPlacement>();
    const entry = (tenantId: string) => {
      const found = out.get(tenantId) ?? { withPods: [], withProxies: [] };
      out.set(tenantId, found);
      return found;
    };
    for (const host of this.proxyHosts()) {
      for (const role of ["sandbox", PROXY_ROLE] as const) {
        const filters = JSON.stringify({ label: [`${LABELS.owner}=${this.owner}`, `${LABELS.role}=${role}`] });
        const listed = await host.docker.listContainers({ all: true, filters });
        const tenants = new Set(listed.map((c) => c.Labels[LABELS.tenant]).filter((t): t is string => !!t));
        for (const tenantId of tenants) {
          (role === "sandbox" ? entry(tenantId).withPods : entry(tenantId).withProxies).push(host.config.name);
        }
      }
    }
    return out;
  }

  private proxyHosts(): Host[] {
    return [...this.hosts.values()].filter((h) => h.config.socketPath !== undefined && h.ready !== false);
  }

  /**
   * See `ServiceProxyHost.ensureProxies`. Under the tenant's network lock, so the network stays while
   * they start; only where the tenant has pods (its network). A proxy whose container is not what
   * would be created now (another image, another folder: a new HAProxy, another leader's data
   * folder) is replaced.
   */
  private ensureProxies(host: Host, tenantId: string, services: ServiceRef[], base: string): Promise<string[]> {
    return this.withNetwork(host, tenantId, async () => {
      const filters = JSON.stringify({
        label: [`${LABELS.owner}=${this.owner}`, `${LABELS.tenant}=${tenantId}`, `${LABELS.role}=sandbox`],
      });
      const hasPods = (await host.docker.listContainers({ all: true, filters })).length > 0;
      const wanted = new Map(
        (hasPods ? services : []).map((s) => [proxyContainerName(this.owner, tenantId, s), s] as const),
      );
      const existing = await this.removeProxies(host, tenantId, new Set(wanted.keys()));
      if (wanted.size === 0) return [];
      const network = await this.ensureNetwork(host, tenantId);
      const image = await this.ensureProxyImage(host);
      const started: string[] = [];
      for (const [name, service] of wanted) {
        const options = proxyCreateOptions({
          image,
          binary: this.options.serviceProxies?.haproxy ?? "/usr/sbin/haproxy",
          owner: this.owner,
          tenantId,
          service,
          dir: this.proxyDir(base, host.config.name, tenantId, service),
          network,
        });
        let have = existing.get(name);
        const dir = (options.HostConfig as { Binds: string[] }).Binds[0];
        if (have && (have.Image !== image || !have.Mounts.some((m) => `${m.Source}:${m.Destination}` === dir))) {
          await host.docker.getContainer(have.Id).remove({ force: true }).catch(ignoreGone);
          have = undefined;
        }
        if (have?.State === "running") continue;
        const container = have
          ? host.docker.getContainer(have.Id)
          : await createOrGet(host.docker, options).catch((error) => {
              // Removed by another process since this one made it: made again on the next pass.
              if (statusOf(error) === 404) host.networks.delete(tenantId);
              throw error;
            });
        await container.start().catch(ignoreStarted);
        started.push(serviceKey(service));
      }
      return started;
    });
  }

  /** A proxy's folder on this machine (made when missing): what the proxy mounts at PROXY_RUN_DIR. */
  private proxyDir(base: string, nodeName: string, tenantId: string, service: ServiceRef): string {
    return ensureDir(join(base, proxyDirName(this.owner, nodeName, tenantId, service)));
  }

  /**
   * Removes the tenant's proxies on the host but those named in `keep`, and their folders; answers
   * those kept, by name.
   */
  private async removeProxies(
    host: Host,
    tenantId: string,
    keep: ReadonlySet<string>,
  ): Promise<Map<string, Docker.ContainerInfo>> {
    const filters = JSON.stringify({
      label: [`${LABELS.owner}=${this.owner}`, `${LABELS.tenant}=${tenantId}`, `${LABELS.role}=${PROXY_ROLE}`],
    });
    const kept = new Map<string, Docker.ContainerInfo>();
    const gone: Promise<unknown>[] = [];
    for (const info of await host.docker.listContainers({ all: true, filters })) {
      const name = (info.Names[0] ?? "").replace(/^\//, "");
      if (keep.has(name)) {
        kept.set(name, info);
        continue;
      }
      const folder = info.Mounts.find((m) => m.Destination === PROXY_RUN_DIR)?.Source;
      gone.push(
        host.docker
          .getContainer(info.Id)
          .remove({ force: true })
          .catch(ignoreGone)
          .then(() => {
            const base = this.options.serviceProxies?.dir;
            // Only a folder of ours: the mount says where, the base folder says it may go.
            if (folder && base && folder.startsWith(`${join(base)}/`)) rmSync(folder, { recursive: true, force: true });
          }),
      );
    }
    await Promise.all(gone);
    return kept;
  }

  private ensureProxyImage(host: Host): Promise<string> {
    host.proxyImage ??= (async () => {
      this.proxyImage ??= buildProxyImage(this.options.serviceProxies?.haproxy ?? "/usr/sbin/haproxy").catch(
        (error) => {
          this.proxyImage = undefined;
          throw error;
        },
      );
      const image = await this.proxyImage;
      const present = await host.docker
        .getImage(image.name)
        .inspect()
        .then(
          () => true,
          () => false,
        );
      if (!present) {
        const [repo, tag] = image.name.split(":") as [string, string];
        const stream = Readable.from(image.tar) as unknown as NodeJS.ReadableStream;
        await followProgress(host.docker, await host.docker.importImage(stream, { repo, tag }));
      }
      return image.name;
    })().catch((error) => {
      host.proxyImage = undefined;
      throw error;
    });
    return host.proxyImage;
  }

  // --- helpers ----------------------------------------------------------------------------

  private hostOf(nodeName: string): Host {
    const host = this.hosts.get(nodeName);
    if (!host) throw new Error(`docker node ${nodeName} is not configured`);
    return host;
  }

  private serially<T>(podId: string, task: () => Promise<T>): Promise<T> {
    return chained(this.podOps, podId, task);
  }

  private emit(event: ProviderEvent): void {
    for (const listener of this.listeners) listener(event);
  }

  private log(message: string, host: Host, error: unknown, fields: Record<string, unknown> = {}): void {
    this.options.log?.(message, { node: host.config.name, error: String(error), ...fields });
  }
}

/** Stops following the host's events: the stream open, or being opened, is dropped, and so is the watch. */
function unwatch(host: Host): void {
  host.eventsAbort?.abort();
  host.eventsAbort = undefined;
  host.watching = undefined;
  const stream = host.events;
  host.events = undefined;
  stream?.destroy?.();
}

/**
 * Runs `task` once the previous task chained under `key` has settled (whatever its outcome): one at
 * a time per key, in order. A key is forgotten once its chain is idle.
 */
function chained<T>(chains: Map<string, Promise<unknown>>, key: string, task: () => Promise<T>): Promise<T> {
  const before = chains.get(key) ?? Promise.resolve();
  const next = before.then(task, task);
  const settled = next.catch(() => {});
  chains.set(key, settled);
  void settled.then(() => {
    if (chains.get(key) === settled) chains.delete(key);
  });
  return next;
}

/** The host port Docker published for a container port, read from the sandbox. */
function publishedPort(found: PodContainers, containerPort: number | undefined): number | undefined {
  if (containerPort === undefined) return undefined;
  const bindings = found.sandbox?.NetworkSettings.Ports?.[`${containerPort}/tcp`];
  const port = Number(bindings?.[0]?.HostPort);
  return Number.isInteger(port) && port > 0 ? port : undefined;
}

/** Pod phase before anything exists on the Engine. */
function pendingPod(pod: PodRuntimeSpec): ObservedPod {
  return {
    podId: pod.podId,
    nodeName: pod.nodeName,
    phase: "Pending",
    containers: containersOf(pod.spec).map((c) => ({
      name: c.name,
      image: c.image,
      state: { waiting: { reason: "ContainerCreating" } },
    })),
  };
}

export function clientOf(config: DockerHostConfig, timeoutMs?: number): Docker {
  const timeout = timeoutMs ? { timeout: timeoutMs } : {};
  if (config.socketPath) return new Docker({ socketPath: config.socketPath, ...timeout });
  if (!config.host) throw new Error(`docker host ${config.name}: give socketPath, or host and port`);
  return new Docker({
    host: config.host,
    port: config.port ?? (config.protocol === "https" ? 2376 : 2375),
    protocol: config.protocol ?? "http",
    ...(config.ca ? { ca: config.ca } : {}),
    ...(config.cert ? { cert: config.cert } : {}),
    ...(config.key ? { key: config.key } : {}),
    ...timeout,
  });
}

async function inspectAll(docker: Docker, list: Docker.ContainerInfo[]): Promise<Docker.ContainerInspectInfo[]> {
  const infos = await Promise.all(list.map((c) => docker.getContainer(c.Id).inspect().catch(ignoreGone)));
  return infos.filter((i): i is Docker.ContainerInspectInfo => i !== undefined);
}

/** Creates the container, or returns the one of that name that exists (an earlier, interrupted attempt). */
async function createOrGet(docker: Docker, options: Json): Promise<Docker.Container> {
  try {
    return await docker.createContainer(options as Docker.ContainerCreateOptions);
  } catch (error) {
    if (statusOf(error) !== 409) throw error;
    return docker.getContainer(String(options.name));
  }
}

function statusOf(error: unknown): number | undefined {
  return (error as { statusCode?: number } | undefined)?.statusCode;
}

/** A container removed meanwhile is what we wanted anyway. */
function ignoreGone(error: unknown): undefined {
  if (statusOf(error) === 404) return undefined;
  throw error;
}

/** The Engine's answer to a create or start whose network is not there: 404, "network … not found". */
function networkGone(error: unknown): boolean {
  const message = error instanceof Error ? error.message : String(error);
  return statusOf(error) === 404 && /network\b.*not found/i.test(message);
}

/** A start that found its tenant's network gone (another process removed it); it is made again. */
class NetworkGoneError extends Error {
  constructor(override readonly cause: unknown) {
    super(`the tenant network went: ${cause instanceof Error ? cause.message : String(cause)}`);
    this.name = "NetworkGoneError";
  }
}

/** 304: started already. */
function ignoreStarted(error: unknown): void {
  if (statusOf(error) !== 304) throw error;
}

function noInfo(): undefined {
  return undefined;
}
