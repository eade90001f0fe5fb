/**
 * The seam between the control plane and whatever runs containers. Small on
 * purpose, so that another runtime is one file: list nodes, start, stop and
 * observe pods, probe and restart containers, and report what changes. Every
 * call is idempotent: starting a pod that runs, or stopping one that is gone,
 * does nothing.
 *
 * A provider reports runtime facts only — which run of a container is current
 * and whether it is waiting, running or terminated. Readiness, restart counts,
 * back-off and the restart policy are the control plane's (src/controllers/
 * podLifecycle.ts, probes.ts): a provider never restarts a container on its own.
 */
export type Json = Record<string, unknown>;

export interface ProviderNode {
  name: string;
  address: string;
  labels: Record<string, string>;
  cpuMillis: number;
  memoryBytes: number;
  maxPods: number;
  ready: boolean;
}

/** What a provider needs to run a pod. */
export interface PodRuntimeSpec {
  podId: string;
  uid: string;
  tenantId: string;
  namespace: string;
  name: string;
  nodeName: string;
  /** The Kubernetes pod spec. */
  spec: Json;
  /** Environment per container, with ConfigMap and Secret references resolved. */
  env?: Record<string, Record<string, string>>;
  /** Files per volume (ConfigMap and Secret volumes), by path inside the volume. */
  files?: Record<string, Record<string, string>>;
  /**
   * Credentials from the pod's `imagePullSecrets`, in their order, per registry as image names spell
   * it (`127.0.0.1:5001`, `docker.io`). A pull uses the ones for its image's registry, else none.
   */
  registryAuth?: { registry: string; username: string; password: string }[];
}

/** Why a run ended: `Completed` (exit 0), `Error`, or `OOMKilled`. */
export type TerminationReason = "Completed" | "Error" | "OOMKilled";

/** The state of a container's current run, in Kubernetes' shape (times are RFC 3339 with milliseconds). */
export type ContainerRuntimeState =
  | { waiting: { reason: string; message?: string } }
  | { running: { startedAt: string } }
  | {
      terminated: {
        exitCode: number;
        reason: TerminationReason | string;
        message?: string;
        startedAt?: string;
        finishedAt: string;
      };
    };

/** How a pod is stopped gracefully (see `NodeProvider.stopPod`). */
export interface StopOptions {
  gracePeriodSeconds: number;
  /** Container name → its `lifecycle.preStop` handler as written: `exec`, `httpGet` or `sleep`. */
  preStop?: Record<string, Json>;
}

export interface ObservedContainer {
  name: string;
  image: string;
  /** One id per run: a restarted container has a new one. Absent before the first run. */
  containerID?: string;
  state: ContainerRuntimeState;
}

/** What a provider sees of one pod it runs. */
export interface ObservedPod {
  podId: string;
  nodeName: string;
  /** Pending until the pod's sandbox is up, then Running; Failed when the pod as a whole failed. */
  phase: "Pending" | "Running" | "Succeeded" | "Failed" | "Unknown";
  podIP?: string;
  startedAt?: number;
  reason?: string;
  message?: string;
  containers: ObservedContainer[];
}

export type ProviderEvent =
  | { type: "pod"; pod: ObservedPod }
  | { type: "podGone"; podId: string; nodeName: string }
  | { type: "node"; node: ProviderNode; atMs: number }
  | { type: "nodeGone"; nodeName: string; atMs: number };

export type ProbeKind = "readiness" | "liveness" | "startup";

export interface ProbeResult {
  ok: boolean;
  /** Why it failed, as Kubernetes words it ("HTTP probe failed with statuscode: 500"). */
  message?: string;
}

/** What `NodeProvider.logs` reads. */
export interface LogOptions {
  /** Only the last this many lines (then, with `follow`, what comes after). */
  tailLines?: number;
  /** Keep streaming what the run writes until it ends or `signal` aborts. */
  follow?: boolean;
  /** The run before the current one (why a container crashed), not the current run. */
  previous?: boolean;
  /** Ends a followed stream (the client went away, or the caller's bound ran out). */
  signal?: AbortSignal;
}

/**
 * The container or the run asked for has no logs: it never started, or there is no run before the
 * current one. A tenant's mistake, not a runtime failure.
 */
export class LogsNotFoundError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "LogsNotFoundError";
  }
}

/** The run's output cannot be read now (its node is out of reach); asking again later may succeed. */
export class LogsUnavailableError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "LogsUnavailableError";
  }
}

/** Which claim's volume: the provider names its volumes by tenant, namespace and claim name. */
export interface ClaimVolumeRef {
  tenantId: string;
  namespace: string;
  claimName: string;
}

/** The label every node of a pool carries, with the pool's name: how a node is known to belong to its pool. */
export const POOL_LABEL = "kubernease.dev/pool";

/** What a node added to a pool now would be like, and how many nodes the pool may have. */
export interface NodePoolShape {
  name: string;
  cpuMillis: number;
  memoryBytes: number;
  maxPods: number;
  /**
   * The labels the next node added to the pool will carry (its zone, `POOL_LABEL`), without its
   * hostname: what node selectors, affinity and spread constraints would see of it.
   */
  labels: Record<string, string>;
  min: number;
  max: number;
}

/** A provider that can add and remove nodes (autoscaling), pool by pool. */
export interface NodeScaling {
  /** The pools that scale, with the shape of their next node. */
  pools(): NodePoolShape[];
  /**
   * Adds one node to the pool and resolves once `listNodes` lists it (a `node` event announces it);
   * rejects when the pool is at its max.
   */
  addNode(pool: string): Promise<ProviderNode>;
  /** Removes a node of a scaling pool with whatever still runs on it (a `nodeGone` event follows); absent: nothing. */
  removeNode(name: string): Promise<void>;
}

/** A Service a tenant's pods reach by name: `name`, `name.namespace`, `name.namespace.svc[.cluster.local]`. */
export interface ServiceRef {
  namespace: string;
  name: string;
}

/**
 * The Kubernetes ClusterIP role, on a provider whose pods sit on their tenant's own network per node:
 * one proxy (HAProxy) per Service on each node where the tenant has pods, answering to the Service's
 * DNS names there. The provider runs the proxies; src/jobs/serviceProxies.ts writes their configuration
 * into `proxyDir` and drives them through the sockets HAProxy makes there.
 */
export interface ServiceProxyHost {
  /** The HAProxy the proxies run (their image is built from it): the one to check their configs with. */
  readonly haproxy: string;
  /** The path `proxyDir` has inside the proxy (where its config names the sockets). */
  readonly proxyRunDir: string;
  /** A folder of this machine on the proxies' file system that no proxy mounts: write and check files there, then rename. */
  readonly stagingDir: string;
  /**
   * Per tenant, the nodes (that can run proxies) where it has pods now, and those where it has
   * proxies (one whose last Service went keeps them until a sync): asked of the nodes, since other
   * processes start and stop pods too.
   */
  placement(): Promise<Map<string, TenantPlacement>>;
  /** The folder on this machine that is the proxy's `/run/kubernease`: `haproxy.cfg`, `admin.sock`, `master.sock`. */
  proxyDir(nodeName: string, tenantId: string, service: ServiceRef): string;
  /**
   * How a container on `fromNode` reaches a pod's `port`: at the pod's own address on the pod's node,
   * at that node's address and the port published for it elsewhere; undefined when it cannot.
   */
  endpointFrom(
    fromNode: string,
    pod: { podId: string; nodeName: string; ip: string },
    port: number,
  ): EndpointAddr | undefined;
  /**
   * Makes the tenant's proxies on the node exactly `services` (none where the tenant has no pod):
   * creates and starts those missing (their folder holds their config by then), removes the others
   * with their folders. Resolves with the keys (`namespace/name`) of those it started.
   */
  ensureProxies(nodeName: string, tenantId: string, services: ServiceRef[]): Promise<string[]>;
  /** Told the tenant's id when one of its pods gets a sandbox (it may be the first on that node); returns the unsubscribe. */
  onTenantNode(listener: (tenantId: string) => void): () => void;
}

export interface TenantPlacement {
  withPods: string[];
  withProxies: string[];
}

export interface EndpointAddr {
  address: string;
  port: number;
}

export interface NodeProvider {
  readonly name: string;
  /** Present when the provider can add and remove nodes. */
  readonly scaling?: NodeScaling;
  listNodes(): Promise<ProviderNode[]>;
  /** Starts a pod; for a pod it runs already, reports its current state (an observation) and changes nothing. */
  startPod(pod: PodRuntimeSpec): Promise<void>;
  /**
   * How many starts are worth asking for at once, where a burst of them is asked for together (the
   * pods a schedule job bound): many where starts go together in one call, or cost nothing to ask
   * for. Absent: a few, as for Engines, which create containers one by one.
   */
  readonly concurrentStarts?: number;
  /**
   * Stops a pod and removes it. With `options`, gracefully, as the kubelet does: each running
   * container's `preStop` hook runs, then the container is sent SIGTERM (its image's stop signal),
   * and what still runs when `gracePeriodSeconds` (counted from the start of the stop) are over is
   * killed. Without: at once (a pod declared lost, a stray one).
   */
  stopPod(nodeName: string, podId: string, options?: StopOptions): Promise<void>;
  listPods(nodeName?: string): Promise<ObservedPod[]>;
  /**
   * Runs one probe (the container's `livenessProbe`, `readinessProbe` or
   * `startupProbe` as written: httpGet, tcpSocket, exec or grpc) against the
   * container's current run. A failed probe is `{ ok: false }`; a probe that
   * could not be run at all (the runtime is unreachable) rejects, and the
   * control plane counts it as neither success nor failure.
   */
  probe(nodeName: string, podId: string, containerName: string, kind: ProbeKind, probe: Json): Promise<ProbeResult>;
  /**
   * Kills a container's current run (a failed liveness or startup probe): it turns
   * terminated (exit 137) and an observation follows. With `containerID`, only that
   * run is killed, so a retried kill never hits the run after it.
   */
  killContainer(nodeName: string, podId: string, containerName: string, containerID?: string): Promise<void>;
  /**
   * Starts a terminated container again, as a new run with a new `containerID`.
   * Does nothing while it runs or starts, or when `containerID` is given and the
   * current run is another one, so a retried restart never skips a back-off.
   */
  restartContainer(nodeName: string, podId: string, containerName: string, containerID?: string): Promise<void>;
  /**
   * The output (stdout and stderr together) of a container's current run, or of the run before it
   * with `previous`, as text chunks that end at line ends. Rejects with `LogsNotFoundError` when there
   * is no such run. With `follow`, the iterable ends when the run ends or `signal` aborts.
   */
  logs(nodeName: string, podId: string, containerName: string, options?: LogOptions): Promise<AsyncIterable<string>>;
  /**
   * Removes a PersistentVolumeClaim's volume (its data) from the node that holds it, once the claim
   * is deleted. Idempotent: resolves true when the volume is gone (or never was), false while a pod
   * still uses it (the caller tries again later; a volume in use is never forced). Absent: the
   * provider keeps no claim data of its own.
   */
  removeVolume?(nodeName: string, claim: ClaimVolumeRef): Promise<boolean>;
  /** Present when the provider runs tenants' Service proxies (see `ServiceProxyHost`). */
  readonly serviceProxies?: ServiceProxyHost;
  /**
   * The nodes on other machines, whose pods the platform's edge proxy (on this machine) cannot
   * reach at their own addresses. Absent: every pod address is reachable from here.
   */
  remoteNodes?(): string[];
  /** How the edge proxy reaches a pod's port on one of `remoteNodes`: the node's address and the port published for it; undefined when not known (yet). */
  edgeEndpoint?(pod: { podId: string; nodeName: string }, port: number): EndpointAddr | undefined;
  /** Observations as they happen; returns the unsubscribe function. */
  subscribe(listener: (event: ProviderEvent) => void): () => void;
  close(): Promise<void>;
}
