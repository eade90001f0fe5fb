import { matchesServiceSelector } from "../core/labels.js";
import type { Action, EndpointAddress, EndpointSubset, PodView, ServiceView } from "./types.js";

/**
 * Service → endpoints: the pods matching the selector, ready ones as addresses and
 * the rest as not-ready addresses, with each port's target resolved (a named
 * targetPort is looked up in each pod's container ports, as Kubernetes does).
 * Pods that resolve a named port differently land in separate subsets.
 */
export function reconcileService(
  svc: ServiceView,
  pods: PodView[],
  currentSubsets: EndpointSubset[] | undefined,
): Action[] {
  // A deleted pod stays as a not-ready address until it is gone, as Kubernetes' terminating endpoints do:
  // the proxy drains it rather than forgetting it while requests of it are under way.
  const selected = pods.filter((p) => p.podIP && matchesServiceSelector(p.labels, svc.spec.selector));
  const bySignature = new Map<string, EndpointSubset>();
  for (const pod of [...selected].sort((a, b) => (a.name < b.name ? -1 : 1))) {
    const ports = (svc.spec.ports ?? []).map((port) => ({
      ...(port.name ? { name: port.name } : {}),
      port: resolveTarget(port.targetPort ?? port.port, pod),
      protocol: port.protocol ?? "TCP",
    }));
    if (ports.some((p) => p.port === undefined)) continue;
    const signature = JSON.stringify(ports);
    const subset = bySignature.get(signature) ?? {
      addresses: [],
      notReadyAddresses: [],
      ports: ports as EndpointSubset["ports"],
    };
    const address: EndpointAddress = {
      ip: pod.podIP as string,
      targetRef: { kind: "Pod", name: pod.name, uid: pod.uid },
    };
    (pod.ready && !pod.deleting ? subset.addresses : subset.notReadyAddresses).push(address);
    bySignature.set(signature, subset);
  }
  const subsets = [...bySignature.values()];
  if (JSON.stringify(subsets) === JSON.stringify(currentSubsets ?? [])) return [];
  return [{ type: "setEndpoints", subsets }];
}

function resolveTarget(target: number | string, pod: PodView): number | undefined {
  if (typeof target === "number") return target;
  if (/^\d+$/.test(target)) return Number(target);
  return pod.namedPorts[target];
}
