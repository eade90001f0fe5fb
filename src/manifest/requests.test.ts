import { describe, expect, it } from "vitest";
import type { Container } from "./container.js";
import type { PodSpec } from "./pod.js";
import { podRequests } from "./requests.js";

function container(name: string, resources: Container["resources"], restartPolicy?: "Always"): Container {
  return { name, image: "busybox", resources, ...(restartPolicy && { restartPolicy }) };
}

describe("podRequests", () => {
  it("sums the containers' requests in millicores and bytes", () => {
    const spec: PodSpec = {
      containers: [
        container("a", { requests: { cpu: "250m", memory: "64Mi" } }),
        container("b", { requests: { cpu: 0.5, memory: "1Gi" } }),
      ],
    };
    expect(podRequests(spec)).toEqual({ cpuMillis: 750, memoryBytes: 64 * 2 ** 20 + 2 ** 30 });
  });

  it("uses limits as requests where requests are absent, per resource", () => {
    const spec: PodSpec = {
      containers: [container("a", { requests: { memory: "100Mi" }, limits: { cpu: "2", memory: "200Mi" } })],
    };
    expect(podRequests(spec)).toEqual({ cpuMillis: 2000, memoryBytes: 100 * 2 ** 20 });
  });

  it("counts nothing for a container without resources", () => {
    expect(podRequests({ containers: [container("a", undefined)] })).toEqual({ cpuMillis: 0, memoryBytes: 0 });
  });

  it("takes the larger of the biggest init container and the sum of the containers", () => {
    const spec: PodSpec = {
      containers: [container("a", { requests: { cpu: "100m", memory: "1Gi" } })],
      initContainers: [
        container("migrate", { requests: { cpu: "2", memory: "128Mi" } }),
        container("warm", { requests: { cpu: "500m", memory: "256Mi" } }),
      ],
    };
    expect(podRequests(spec)).toEqual({ cpuMillis: 2000, memoryBytes: 2 ** 30 });
  });

  it("keeps sidecars' requests for the life of the pod", () => {
    const spec: PodSpec = {
      containers: [container("app", { requests: { cpu: "1" } })],
      initContainers: [
        container("proxy", { requests: { cpu: "200m" } }, "Always"),
        container("migrate", { requests: { cpu: "1500m" } }),
      ],
    };
    // The migration runs beside the proxy (1700m); afterwards app and proxy run together (1200m).
    expect(podRequests(spec).cpuMillis).toBe(1700);
  });

  it("adds pod overhead", () => {
    const spec: PodSpec = {
      containers: [container("a", { requests: { cpu: "1" } })],
      overhead: { cpu: "250m", memory: "120Mi" },
    };
    expect(podRequests(spec)).toEqual({ cpuMillis: 1250, memoryBytes: 120 * 2 ** 20 });
  });
});
