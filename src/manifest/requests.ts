/**
 * The resources a pod asks the scheduler for, computed as Kubernetes computes
 * effective requests (`resourcehelper.PodRequests`): containers run together,
 * init containers one at a time (but sidecars keep running), and overhead is
 * added on top.
 */
import { cpuMillis, memoryBytes } from "../core/quantity.js";
import type { Container } from "./container.js";
import type { PodSpec } from "./pod.js";

export interface PodRequests {
  cpuMillis: number;
  memoryBytes: number;
}

type Quantities = Record<string, string | number>;

/** A limit without a request is also the request: Kubernetes defaults requests from limits. */
function containerRequests(container: Container): PodRequests {
  const requests: Quantities = { ...container.resources?.limits, ...container.resources?.requests };
  return { cpuMillis: cpuMillis(requests.cpu), memoryBytes: memoryBytes(requests.memory) };
}

const add = (a: PodRequests, b: PodRequests): PodRequests => ({
  cpuMillis: a.cpuMillis + b.cpuMillis,
  memoryBytes: a.memoryBytes + b.memoryBytes,
});

const max = (a: PodRequests, b: PodRequests): PodRequests => ({
  cpuMillis: Math.max(a.cpuMillis, b.cpuMillis),
  memoryBytes: Math.max(a.memoryBytes, b.memoryBytes),
});

const ZERO: PodRequests = { cpuMillis: 0, memoryBytes: 0 };

export function podRequests(spec: PodSpec): PodRequests {
  const regular = spec.containers.map(containerRequests).reduce(add, ZERO);
  // Sidecars (init containers that restart) start in order and keep running, so each
  // later init container runs alongside the sidecars started before it.
  let sidecars = ZERO;
  let initPeak = ZERO;
  for (const init of spec.initContainers ?? []) {
    const requests = containerRequests(init);
    if (init.restartPolicy === "Always") {
      sidecars = add(sidecars, requests);
      initPeak = max(initPeak, sidecars);
    } else {
      initPeak = max(initPeak, add(requests, sidecars));
    }
  }
  const effective = max(add(regular, sidecars), initPeak);
  const overhead = { cpuMillis: cpuMillis(spec.overhead?.cpu), memoryBytes: memoryBytes(spec.overhead?.memory) };
  return add(withPodLevel(effective, spec), overhead);
}

/** Pod-level requests, where a tenant sets them, replace the sum of the containers'. */
function withPodLevel(effective: PodRequests, spec: PodSpec): PodRequests {
  const pod: Quantities = { ...spec.resources?.limits, ...spec.resources?.requests };
  return {
    cpuMillis: pod.cpu === undefined ? effective.cpuMillis : cpuMillis(pod.cpu),
    memoryBytes: pod.memory === undefined ? effective.memoryBytes : memoryBytes(pod.memory),
  };
}
