/**
 * Kubernetes' defaults (the `SetDefaults_*` functions of k8s.io/api), applied
 * after validation so that stored desired state is explicit and controllers
 * never guess. Pure and idempotent: defaulting a defaulted manifest changes
 * nothing, and the input is never mutated.
 */
import type { Container } from "./container.js";
import {
  DEFAULT_MAX_SURGE,
  DEFAULT_MAX_UNAVAILABLE,
  DEFAULT_PROGRESS_DEADLINE_SECONDS,
  type DeploymentManifest,
  type DeploymentSpec,
} from "./deployment.js";
import type { Manifest } from "./kinds.js";
import type { PodSpec, PodTemplateSpec } from "./pod.js";
import type { HTTPGetAction, Lifecycle, Probe } from "./probe.js";
import { DEFAULT_CLIENT_IP_TIMEOUT_SECONDS, type ServiceManifest, type ServiceSpec } from "./service.js";
import type { Volume } from "./volume.js";

/** 0644, the file mode Kubernetes gives projected keys. */
const DEFAULT_FILE_MODE = 0o644;

export function applyDefaults(manifest: Manifest): Manifest {
  return manifest.kind === "Deployment" ? defaultDeployment(manifest) : defaultService(manifest);
}

function defaultDeployment(deployment: DeploymentManifest): DeploymentManifest {
  const spec = deployment.spec;
  return {
    ...deployment,
    spec: {
      ...spec,
      replicas: spec.replicas ?? 1,
      strategy: defaultStrategy(spec.strategy),
      revisionHistoryLimit: spec.revisionHistoryLimit ?? 10,
      progressDeadlineSeconds: spec.progressDeadlineSeconds ?? DEFAULT_PROGRESS_DEADLINE_SECONDS,
      template: defaultTemplate(spec.template),
    },
  };
}

type Strategy = NonNullable<DeploymentSpec["strategy"]>;

function defaultStrategy(strategy: Strategy | undefined): Strategy {
  const type = strategy?.type ?? "RollingUpdate";
  if (type === "Recreate") return { ...strategy, type };
  const rollingUpdate = strategy?.rollingUpdate;
  return {
    ...strategy,
    type,
    rollingUpdate: {
      ...rollingUpdate,
      maxSurge: rollingUpdate?.maxSurge ?? DEFAULT_MAX_SURGE,
      maxUnavailable: rollingUpdate?.maxUnavailable ?? DEFAULT_MAX_UNAVAILABLE,
    },
  };
}

function defaultTemplate(template: PodTemplateSpec): PodTemplateSpec {
  return { ...template, spec: defaultPodSpec(template.spec) };
}

export function defaultPodSpec(pod: PodSpec): PodSpec {
  return {
    ...pod,
    restartPolicy: pod.restartPolicy ?? "Always",
    terminationGracePeriodSeconds: pod.terminationGracePeriodSeconds ?? 30,
    dnsPolicy: pod.dnsPolicy ?? "ClusterFirst",
    schedulerName: pod.schedulerName ?? "default-scheduler",
    securityContext: pod.securityContext ?? {},
    containers: pod.containers.map(defaultContainer),
    ...(pod.initContainers && { initContainers: pod.initContainers.map(defaultContainer) }),
    ...(pod.volumes && { volumes: pod.volumes.map(defaultVolume) }),
  };
}

/**
 * Kubernetes pulls `latest` (explicit, or implied by a reference with neither
 * tag nor digest) on every start, and anything pinned only when absent.
 */
export function defaultPullPolicy(image: string): "Always" | "IfNotPresent" {
  const at = image.indexOf("@");
  const hasDigest = at !== -1;
  const name = hasDigest ? image.slice(0, at) : image;
  const lastSegment = name.slice(name.lastIndexOf("/") + 1);
  const colon = lastSegment.lastIndexOf(":");
  const tag = colon === -1 ? undefined : lastSegment.slice(colon + 1);
  if (tag === "latest" || (tag === undefined && !hasDigest)) return "Always";
  return "IfNotPresent";
}

function defaultContainer(container: Container): Container {
  return {
    ...container,
    imagePullPolicy: container.imagePullPolicy ?? defaultPullPolicy(container.image),
    terminationMessagePath: container.terminationMessagePath ?? "/dev/termination-log",
    terminationMessagePolicy: container.terminationMessagePolicy ?? "File",
    ...(container.ports && { ports: container.ports.map((port) => ({ ...port, protocol: port.protocol ?? "TCP" })) }),
    ...(container.env && { env: container.env.map(defaultEnvVar) }),
    ...(container.livenessProbe && { livenessProbe: defaultProbe(container.livenessProbe) }),
    ...(container.readinessProbe && { readinessProbe: defaultProbe(container.readinessProbe) }),
    ...(container.startupProbe && { startupProbe: defaultProbe(container.startupProbe) }),
    ...(container.lifecycle && { lifecycle: defaultLifecycle(container.lifecycle) }),
  };
}

type EnvVar = NonNullable<Container["env"]>[number];

function defaultEnvVar(env: EnvVar): EnvVar {
  const fieldRef = env.valueFrom?.fieldRef;
  if (!fieldRef) return env;
  return {
    ...env,
    valueFrom: { ...env.valueFrom, fieldRef: { ...fieldRef, apiVersion: fieldRef.apiVersion ?? "v1" } },
  };
}

function defaultHttpGet(action: HTTPGetAction): HTTPGetAction {
  return { ...action, path: action.path || "/", scheme: action.scheme ?? "HTTP" };
}

function defaultProbe(probe: Probe): Probe {
  return {
    ...probe,
    ...(probe.httpGet && { httpGet: defaultHttpGet(probe.httpGet) }),
    timeoutSeconds: probe.timeoutSeconds ?? 1,
    periodSeconds: probe.periodSeconds ?? 10,
    successThreshold: probe.successThreshold ?? 1,
    failureThreshold: probe.failureThreshold ?? 3,
  };
}

function defaultLifecycle(lifecycle: Lifecycle): Lifecycle {
  const withHttp = <H extends { httpGet?: HTTPGetAction }>(handler: H): H =>
    handler.httpGet ? { ...handler, httpGet: defaultHttpGet(handler.httpGet) } : handler;
  return {
    ...lifecycle,
    ...(lifecycle.postStart && { postStart: withHttp(lifecycle.postStart) }),
    ...(lifecycle.preStop && { preStop: withHttp(lifecycle.preStop) }),
  };
}

function defaultVolume(volume: Volume): Volume {
  const withMode = <S extends { defaultMode?: number }>(source: S): S => ({
    ...source,
    defaultMode: source.defaultMode ?? DEFAULT_FILE_MODE,
  });
  return {
    ...volume,
    ...(volume.configMap && { configMap: withMode(volume.configMap) }),
    ...(volume.secret && { secret: withMode(volume.secret) }),
    ...(volume.downwardAPI && { downwardAPI: withMode(volume.downwardAPI) }),
    ...(volume.hostPath && { hostPath: { ...volume.hostPath, type: volume.hostPath.type ?? "" } }),
  };
}

function defaultService(service: ServiceManifest): ServiceManifest {
  return { ...service, spec: defaultServiceSpec(service.spec) };
}

function defaultServiceSpec(spec: ServiceSpec): ServiceSpec {
  const type = spec.type ?? "ClusterIP";
  const external = type === "NodePort" || type === "LoadBalancer";
  const sessionAffinity = spec.sessionAffinity ?? "None";
  return {
    ...spec,
    type,
    sessionAffinity,
    ...(sessionAffinity === "ClientIP" && { sessionAffinityConfig: defaultClientIPConfig(spec) }),
    ...(spec.ports && {
      ports: spec.ports.map((port) => ({
        ...port,
        protocol: port.protocol ?? "TCP",
        targetPort: port.targetPort ?? port.port,
      })),
    }),
    ...(external && { externalTrafficPolicy: spec.externalTrafficPolicy ?? "Cluster" }),
    ...(type === "LoadBalancer" && { allocateLoadBalancerNodePorts: spec.allocateLoadBalancerNodePorts ?? true }),
    // Kubernetes leaves ExternalName services without a traffic policy: no proxying happens for them.
    ...(type !== "ExternalName" && { internalTrafficPolicy: spec.internalTrafficPolicy ?? "Cluster" }),
  };
}

function defaultClientIPConfig(spec: ServiceSpec): NonNullable<ServiceSpec["sessionAffinityConfig"]> {
  const clientIP = spec.sessionAffinityConfig?.clientIP;
  return {
    ...spec.sessionAffinityConfig,
    clientIP: { ...clientIP, timeoutSeconds: clientIP?.timeoutSeconds ?? DEFAULT_CLIENT_IP_TIMEOUT_SECONDS },
  };
}
