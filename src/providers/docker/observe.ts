import type Docker from "dockerode";
import type { ContainerRuntimeState, ObservedContainer, ObservedPod } from "../types.js";
import { LABELS, type PodContainerSpec } from "./spec.js";

/** What the provider knows of one pod on one host: its sandbox and the latest run of each container. */
export interface PodContainers {
  podId: string;
  sandbox?: Docker.ContainerInspectInfo;
  /** By container name, the run with the highest `kubernease.run`. */
  apps: Map<string, Docker.ContainerInspectInfo>;
}

/** A container that has not run yet, and why (an image pull that failed, say). */
export interface Waiting {
  reason: string;
  message?: string;
}

const ZERO_TIME = "0001-01-01T00:00:00Z";

/** Docker's nanosecond RFC 3339 as Kubernetes' millisecond form. */
function isoMs(time: string | undefined): string | undefined {
  if (!time || time === ZERO_TIME) return undefined;
  const ms = Date.parse(time);
  return Number.isNaN(ms) ? undefined : new Date(ms).toISOString();
}

export function containerID(info: Docker.ContainerInspectInfo): string {
  return `docker://${info.Id}`;
}

export function isRunning(info: Docker.ContainerInspectInfo | undefined): boolean {
  return info?.State.Running === true;
}

/** A run's state in Kubernetes' shape: running, terminated (with why), or waiting to start. */
export function runtimeState(info: Docker.ContainerInspectInfo): ContainerRuntimeState {
  const state = info.State;
  const startedAt = isoMs(state.StartedAt);
  if (state.Running && startedAt) return { running: { startedAt } };
  if (state.Status === "exited" || state.Status === "dead") {
    const exitCode = state.ExitCode;
    const reason = state.OOMKilled ? "OOMKilled" : exitCode === 0 ? "Completed" : "Error";
    const finishedAt = isoMs(state.FinishedAt) ?? startedAt ?? new Date(0).toISOString();
    return {
      terminated: {
        exitCode,
        reason,
        ...(state.Error ? { message: state.Error } : {}),
        ...(startedAt ? { startedAt } : {}),
        finishedAt,
      },
    };
  }
  return { waiting: { reason: "ContainerCreating" } };
}

/** The pod's containers as the sandbox's label records them: names, images and named ports. */
export function specContainersOf(sandbox: Docker.ContainerInspectInfo | undefined): PodContainerSpec[] {
  const raw = sandbox?.Config.Labels?.[LABELS.containers];
  if (!raw) return [];
  try {
    return JSON.parse(raw) as PodContainerSpec[];
  } catch {
    return [];
  }
}

export function podIPOf(sandbox: Docker.ContainerInspectInfo | undefined, networkName?: string): string | undefined {
  const networks = sandbox?.NetworkSettings.Networks ?? {};
  const network = networkName ? networks[networkName] : Object.values(networks)[0];
  return network?.IPAddress || undefined;
}

/**
 * The pod as the control plane sees it: Pending until the sandbox runs, then Running; Failed
 * when the sandbox itself ended (the pod lost its network, and its owner replaces it).
 */
export function observePod(
  nodeName: string,
  found: PodContainers,
  waiting: Map<string, Waiting> | undefined,
): ObservedPod {
  const { sandbox } = found;
  const expected = specContainersOf(sandbox);
  const names = expected.length > 0 ? expected : [...found.apps.values()].map(nameAndImage);
  const containers: ObservedContainer[] = names.map(({ name, image }) => {
    const run = found.apps.get(name);
    if (!run) {
      const why = waiting?.get(name) ?? { reason: "ContainerCreating" };
      return { name, image, state: { waiting: { ...why } } };
    }
    return { name, image, containerID: containerID(run), state: runtimeState(run) };
  });
  const sandboxUp = isRunning(sandbox);
  const sandboxEnded = sandbox !== undefined && !sandboxUp && sandbox.State.Status === "exited";
  const phase = sandboxEnded ? "Failed" : sandboxUp ? "Running" : "Pending";
  const startedAt = sandboxUp ? Date.parse(sandbox?.State.StartedAt ?? "") : Number.NaN;
  const podIP = sandboxUp ? podIPOf(sandbox, sandbox?.HostConfig.NetworkMode) : undefined;
  return {
    podId: found.podId,
    nodeName,
    phase,
    ...(podIP ? { podIP } : {}),
    ...(Number.isNaN(startedAt) ? {} : { startedAt }),
    ...(sandboxEnded ? { reason: "SandboxExited", message: "The pod's sandbox container exited." } : {}),
    containers,
  };
}

function nameAndImage(info: Docker.ContainerInspectInfo): { name: string; image: string } {
  return { name: info.Config.Labels?.[LABELS.container] ?? info.Name, image: info.Config.Image };
}

/** Groups inspected containers by pod, keeping each container's latest run. */
export function groupByPod(infos: Docker.ContainerInspectInfo[]): Map<string, PodContainers> {
  const pods = new Map<string, PodContainers>();
  for (const info of infos) {
    const labels = info.Config.Labels ?? {};
    const podId = labels[LABELS.pod];
    if (!podId) continue;
    let pod = pods.get(podId);
    if (!pod) {
      pod = { podId, apps: new Map() };
      pods.set(podId, pod);
    }
    if (labels[LABELS.role] === "sandbox") {
      pod.sandbox = info;
      continue;
    }
    const name = labels[LABELS.container] ?? "";
    const known = pod.apps.get(name);
    if (!known || runOf(info) > runOf(known)) pod.apps.set(name, info);
  }
  return pods;
}

export function runOf(info: Docker.ContainerInspectInfo): number {
  return Number(info.Config.Labels?.[LABELS.run] ?? 0) || 0;
}
