import { createHash } from "node:crypto";
import { cpuMillis, memoryBytes } from "../../core/quantity.js";
import type { Json, PodRuntimeSpec } from "../types.js";

/**
 * Pure translation of a pod into Docker create options: the sandbox (pause) container that holds
 * the pod's network namespace and published ports, and one container per pod container, joined to
 * the sandbox's namespace. Everything the provider owns carries the `kubernease.*` labels, so the
 * Engine itself is the record of what is ours.
 */
export const LABELS = {
  owner: "kubernease.owner",
  pod: "kubernease.pod",
  uid: "kubernease.uid",
  tenant: "kubernease.tenant",
  namespace: "kubernease.namespace",
  name: "kubernease.name",
  container: "kubernease.container",
  role: "kubernease.role",
  run: "kubernease.run",
  /** On the sandbox: the pod's containers, `[{ name, image, ports }]` as JSON, so a restarted provider knows them. */
  containers: "kubernease.containers",
} as const;

export type Role = "sandbox" | "app";

/**
 * Capabilities dropped from Docker's default set: raw sockets (spoofing on the tenant network),
 * device nodes, audit writes, file capabilities and chroot, none of which a web workload needs.
 * Kept: chown, dac_override, fowner, fsetid, kill, setgid, setuid, setpcap, net_bind_service.
 */
export const DROPPED_CAPABILITIES = ["NET_RAW", "MKNOD", "AUDIT_WRITE", "SETFCAP", "SYS_CHROOT"];

export interface PodContainerSpec {
  name: string;
  volumeMounts?: { name: string; mountPath: string; readOnly?: boolean }[];
  image: string;
  command?: string[];
  args?: string[];
  workingDir?: string;
  ports?: { containerPort: number; name?: string; protocol?: string }[];
  resources?: { limits?: Record<string, string | number>; requests?: Record<string, string | number> };
  securityContext?: {
    runAsUser?: number;
    runAsGroup?: number;
    readOnlyRootFilesystem?: boolean;
    capabilities?: { drop?: string[] };
  };
  imagePullPolicy?: string;
  readinessProbe?: Json;
  livenessProbe?: Json;
  startupProbe?: Json;
}

export function containersOf(spec: Json): PodContainerSpec[] {
  return ((spec.containers as PodContainerSpec[] | undefined) ?? []).map((c) => ({ ...c, image: c.image ?? "" }));
}

/** Docker names allow [a-zA-Z0-9][a-zA-Z0-9_.-]; pod ids and container names fit already, this keeps it so. */
/** A pod's DNS search list, as Kubernetes writes it: `redis-master` finds the Service of the pod's namespace. */
export function podDnsSearch(namespace: string): string[] {
  return [`${namespace}.svc.cluster.local`, "svc.cluster.local", "cluster.local"];
}

function safe(part: string): string {
  return part.replace(/[^a-zA-Z0-9_.-]/g, "-");
}

export function sandboxName(podId: string): string {
  return `kn-${safe(podId)}`;
}

export function appName(podId: string, container: string, run: number): string {
  return `kn-${safe(podId)}-${safe(container)}-${run}`;
}

/** The tenant's network on every host. */
export function tenantNetworkName(tenantId: string): string {
  return `kubernease-${safe(tenantId)}`;
}

/**
 * The Linux bridge of a tenant's network on one host: `kn` and 12 hex digits of a hash of host and
 * tenant. Several Engines may share one kernel (the test nodes), so the name includes the host; the
 * `kn` prefix lets an operator match every tenant bridge in one iptables rule.
 */
export function tenantBridgeName(hostName: string, tenantId: string): string {
  return `kn${createHash("sha256").update(`${hostName}/${tenantId}`).digest("hex").slice(0, 12)}`;
}

/** Every TCP port the pod's containers declare, plus numeric probe ports: what the sandbox publishes. */
export function publishedPorts(containers: PodContainerSpec[]): number[] {
  const ports = new Set<number>();
  for (const c of containers) {
    for (const p of c.ports ?? []) if ((p.protocol ?? "TCP").toUpperCase() === "TCP") ports.add(p.containerPort);
    for (const probe of [c.readinessProbe, c.livenessProbe, c.startupProbe]) {
      const port = probePort(probe);
      if (typeof port === "number") ports.add(port);
    }
  }
  return [...ports].sort((a, b) => a - b);
}

function probePort(probe: Json | undefined): unknown {
  const action = (probe?.httpGet ?? probe?.tcpSocket) as Json | undefined;
  return action?.port;
}

/** A probe's port, by number or by the name of one of the container's ports. */
export function resolvePort(container: PodContainerSpec | undefined, port: unknown): number | undefined {
  if (typeof port === "number") return port;
  if (typeof port !== "string") return undefined;
  if (/^\d+$/.test(port)) return Number(port);
  return container?.ports?.find((p) => p.name === port)?.containerPort;
}

export function podLabels(pod: PodRuntimeSpec, owner: string, role: Role): Record<string, string> {
  return {
    [LABELS.owner]: owner,
    [LABELS.pod]: pod.podId,
    [LABELS.uid]: pod.uid,
    [LABELS.tenant]: pod.tenantId,
    [LABELS.namespace]: pod.namespace,
    [LABELS.name]: pod.name,
    [LABELS.role]: role,
  };
}

/** Where the sandbox mounts the pod's file-bearing volumes, so the provider can write their files into them. */
export const SANDBOX_VOLUMES_DIR = "/kn-volumes";

interface PodVolumeSpec {
  name: string;
  configMap?: unknown;
  secret?: unknown;
  emptyDir?: unknown;
  persistentVolumeClaim?: { claimName: string };
}

/** A pod volume as a named Docker volume on the node. */
export interface DockerVolume {
  /** The pod's name for it. */
  name: string;
  /** The Docker volume's name. */
  source: string;
  /** ConfigMap and Secret volumes: files the provider writes, read-only to the containers. */
  files: boolean;
  /** Secret data comes decoded as a binary string: written byte for byte. */
  binary: boolean;
  /** A claim's volume outlives the pod (its data survives restarts and rolling updates); others go with it. */
  claim: boolean;
}

/**
 * The pod's volumes as named Docker volumes: emptyDir, configMap and secret ones per pod
 * (`kn-<pod>-<volume>`, removed with it), a PersistentVolumeClaim's per claim
 * (`kn-pvc-<tenant>.<namespace>.<claim>`, kept until the claim goes), so a pod that replaces another
 * on the same node finds its data. Other kinds (hostPath, …) are not supported: they are named in
 * `unsupported`, and the pod's containers wait with the reason.
 */
export function podVolumes(pod: PodRuntimeSpec): { volumes: DockerVolume[]; unsupported: string[] } {
  const volumes: DockerVolume[] = [];
  const unsupported: string[] = [];
  for (const v of (pod.spec.volumes as PodVolumeSpec[] | undefined) ?? []) {
    const claim = v.persistentVolumeClaim?.claimName;
    if (claim) {
      const source = claimVolumeName({ tenantId: pod.tenantId, namespace: pod.namespace, claimName: claim });
      volumes.push({ name: v.name, source, files: false, binary: false, claim: true });
    } else if (v.configMap || v.secret || v.emptyDir) {
      const files = Boolean(v.configMap || v.secret);
      const source = `kn-${safe(pod.podId)}-${safe(v.name)}`;
      volumes.push({ name: v.name, source, files, binary: Boolean(v.secret), claim: false });
    } else {
      unsupported.push(v.name);
    }
  }
  return { volumes, unsupported };
}

/**
 * The Docker volume of a PersistentVolumeClaim on the node that holds it: one per claim, whatever pod
 * mounts it. Dots separate the parts: tenant ids and namespaces hold none, so no two claims share a
 * volume (with dashes, namespace `a-b` + claim `c` and namespace `a` + claim `b-c` would).
 */
export function claimVolumeName(claim: { tenantId: string; namespace: string; claimName: string }): string {
  return `kn-pvc-${safe(claim.tenantId)}.${safe(claim.namespace)}.${safe(claim.claimName)}`;
}

function volumeLabels(pod: PodRuntimeSpec, owner: string, volume: DockerVolume): Record<string, string> {
  const scope: Record<string, string> = volume.claim ? {} : { [LABELS.pod]: pod.podId };
  return { [LABELS.owner]: owner, [LABELS.tenant]: pod.tenantId, [LABELS.namespace]: pod.namespace, ...scope };
}

function mountsOf(pod: PodRuntimeSpec, container: PodContainerSpec, owner: string): Json[] {
  const { volumes } = podVolumes(pod);
  return (container.volumeMounts ?? []).flatMap((m) => {
    const volume = volumes.find((v) => v.name === m.name);
    if (!volume) return [];
    return [
      {
        Type: "volume",
        Source: volume.source,
        Target: m.mountPath,
        ReadOnly: m.readOnly === true || volume.files,
        VolumeOptions: { Labels: volumeLabels(pod, owner, volume) },
      },
    ];
  });
}

export interface SandboxOptions {
  image: string;
  networkName: string;
  address: string;
  owner: string;
}

export function sandboxCreateOptions(pod: PodRuntimeSpec, options: SandboxOptions): Json {
  const containers = containersOf(pod.spec);
  const ports = publishedPorts(containers);
  return {
    name: sandboxName(pod.podId),
    Image: options.image,
    Cmd: ["/pause"],
    Hostname: safe(pod.name).slice(0, 63),
    Labels: {
      ...podLabels(pod, options.owner, "sandbox"),
      [LABELS.containers]: JSON.stringify(
        containers.map((c) => ({
          name: c.name,
          image: c.image,
          ...(c.ports
            ? { ports: c.ports.map((p) => ({ containerPort: p.containerPort, ...(p.name ? { name: p.name } : {}) })) }
            : {}),
        })),
      ),
    },
    ExposedPorts: Object.fromEntries(ports.map((p) => [`${p}/tcp`, {}])),
    HostConfig: {
      NetworkMode: options.networkName,
      // The pod's containers share this resolver configuration: Service names resolve as in Kubernetes.
      DnsSearch: podDnsSearch(pod.namespace),
      // HostPort "" lets Docker pick a free port on the node's address; it is read back after start.
      PortBindings: Object.fromEntries(ports.map((p) => [`${p}/tcp`, [{ HostIp: options.address, HostPort: "" }]])),
      RestartPolicy: { Name: "no" },
      CapDrop: ["ALL"],
      SecurityOpt: ["no-new-privileges"],
      PidsLimit: 8,
      Memory: 16 * 2 ** 20,
      ReadonlyRootfs: true,
      Mounts: podVolumes(pod)
        .volumes.filter((v) => v.files)
        .map((v) => ({
          Type: "volume",
          Source: v.source,
          Target: `${SANDBOX_VOLUMES_DIR}/${v.name}`,
          VolumeOptions: { Labels: volumeLabels(pod, options.owner, v) },
        })),
    },
  };
}

export interface AppOptions {
  sandboxId: string;
  owner: string;
  run: number;
  pidsLimit: number;
  /** The Engine's CPUs (millis): Docker refuses a cap above them. */
  cpuMillis?: number;
}

export function appCreateOptions(pod: PodRuntimeSpec, container: PodContainerSpec, options: AppOptions): Json {
  const env = pod.env?.[container.name] ?? {};
  const security = container.securityContext ?? {};
  const user =
    security.runAsUser !== undefined
      ? `${security.runAsUser}${security.runAsGroup !== undefined ? `:${security.runAsGroup}` : ""}`
      : undefined;
  const dropped = new Set([
    ...DROPPED_CAPABILITIES,
    ...(security.capabilities?.drop ?? []).map((c) => c.toUpperCase()),
  ]);
  return {
    name: appName(pod.podId, container.name, options.run),
    Image: container.image,
    // Kubernetes' command replaces the image's entrypoint, args its cmd.
    ...(container.command ? { Entrypoint: container.command } : {}),
    ...(container.args ? { Cmd: container.args } : {}),
    ...(container.workingDir ? { WorkingDir: container.workingDir } : {}),
    ...(user ? { User: user } : {}),
    Env: Object.entries(env).map(([k, v]) => `${k}=${v}`),
    Labels: {
      ...podLabels(pod, options.owner, "app"),
      [LABELS.container]: container.name,
      [LABELS.run]: String(options.run),
    },
    HostConfig: {
      NetworkMode: `container:${options.sandboxId}`,
      RestartPolicy: { Name: "no" },
      CapDrop: dropped.has("ALL") ? ["ALL"] : [...dropped].sort(),
      SecurityOpt: ["no-new-privileges"],
      Privileged: false,
      PidsLimit: options.pidsLimit,
      ReadonlyRootfs: security.readOnlyRootFilesystem === true,
      Mounts: mountsOf(pod, container, options.owner),
      ...resourceLimits(container, options.cpuMillis),
    },
  };
}

/** The CPU a container without a limit may use: one CPU (more if it requests more). */
export const DEFAULT_CPU_LIMIT_MILLIS = 1_000;

/**
 * A container's cgroup settings, as the kubelet derives them, with the platform's defaults for
 * what a tenant leaves open. CPU is shared by its request: `CpuShares` weigh containers against
 * each other when the node is busy (1024 per CPU, at least 2). It is capped (`NanoCpus`) at its
 * limit, or without one at `DEFAULT_CPU_LIMIT_MILLIS` (or the request, if more), as a LimitRange
 * default would: capping at the request instead would throttle a pod that asked for 10m to 1% of a
 * CPU on an idle node. Memory cannot be taken back once given, so a container is held to its limit,
 * or to its request when it has none, so that one tenant's leak cannot starve the node; with both,
 * the request is the soft reservation.
 */
export function resourceLimits(
  container: PodContainerSpec,
  engineCpuMillis?: number,
): {
  NanoCpus: number;
  CpuShares: number;
  Memory?: number;
  MemoryReservation?: number;
} {
  const { limits = {}, requests = {} } = container.resources ?? {};
  const out: ReturnType<typeof resourceLimits> = { NanoCpus: 0, CpuShares: 0 };
  const cpuLimit = limits.cpu !== undefined ? cpuMillis(limits.cpu) : 0;
  // As in Kubernetes, a limit without a request is the request too.
  const cpuRequest = requests.cpu !== undefined ? cpuMillis(requests.cpu) : cpuLimit;
  const cap = cpuLimit > 0 ? cpuLimit : Math.max(DEFAULT_CPU_LIMIT_MILLIS, cpuRequest);
  out.NanoCpus = Math.min(cap, engineCpuMillis ?? cap) * 1_000_000;
  // The kubelet's MilliCPUToShares, bounds included.
  out.CpuShares = Math.min(262_144, Math.max(2, Math.floor((cpuRequest * 1024) / 1000)));
  // Docker refuses less than 6 MiB.
  const docker = (bytes: number) => Math.max(6 * 2 ** 20, bytes);
  const memoryLimit = limits.memory !== undefined ? memoryBytes(limits.memory) : 0;
  const memoryRequest = requests.memory !== undefined ? memoryBytes(requests.memory) : 0;
  if (memoryLimit > 0) {
    out.Memory = docker(memoryLimit);
    if (memoryRequest > 0 && memoryRequest < memoryLimit) out.MemoryReservation = docker(memoryRequest);
  } else if (memoryRequest > 0) {
    out.Memory = docker(memoryRequest);
  }
  return out;
}
