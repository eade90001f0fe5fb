/**
 * Kubernetes' pod defaults (`SetDefaults_PodSpec`, `SetDefaults_Container`, …),
 * shared by every kind that runs pods. Pure: the input is never mutated.
 */
import type { Container } from "./container.js";
import type { PodSpec, PodTemplateSpec } from "./pod.js";
import type { HTTPGetAction, Lifecycle, Probe } from "./probe.js";
import type { Volume } from "./volume.js";

/** 0644, the file mode Kubernetes gives projected keys. */
const DEFAULT_FILE_MODE = 0o644;

export function defaultTemplate(template: PodTemplateSpec): PodTemplateSpec {
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
