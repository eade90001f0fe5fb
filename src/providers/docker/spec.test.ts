import { describe, expect, it } from "vitest";
import type { PodRuntimeSpec } from "../types.js";
import {
  appCreateOptions,
  claimVolumeName,
  containersOf,
  podVolumes,
  publishedPorts,
  resolvePort,
  resourceLimits,
  sandboxCreateOptions,
  tenantBridgeName,
} from "./spec.js";

const pod: PodRuntimeSpec = {
  podId: "pod_1",
  uid: "u1",
  tenantId: "ten_1",
  namespace: "default",
  name: "web-abc",
  nodeName: "n1",
  spec: {
    containers: [
      {
        name: "web",
        image: "web:1",
        command: ["/bin/httpd"],
        args: ["-f"],
        ports: [
          { containerPort: 8080, name: "http" },
          { containerPort: 53, protocol: "UDP" },
        ],
        livenessProbe: { tcpSocket: { port: 9000 } },
        resources: { requests: { cpu: "500m", memory: "1Mi" }, limits: { cpu: "2" } },
        securityContext: { runAsUser: 1000, runAsGroup: 1000, capabilities: { drop: ["chown"] } },
        volumeMounts: [{ name: "cfg", mountPath: "/etc/cfg" }],
      },
    ],
    volumes: [
      { name: "cfg", configMap: { name: "c" } },
      { name: "host", hostPath: { path: "/" } },
    ],
  },
  env: { web: { A: "1" } },
};

describe("docker create options", () => {
  it("publishes declared TCP ports and numeric probe ports; resolves named ports", () => {
    const containers = containersOf(pod.spec);
    expect(publishedPorts(containers)).toEqual([8080, 9000]);
    expect(resolvePort(containers[0], "http")).toBe(8080);
    expect(resolvePort(containers[0], "8081")).toBe(8081);
    expect(resolvePort(containers[0], "nope")).toBeUndefined();
  });

  it("caps CPU at the limit (else one CPU) and weighs it by the request; holds memory to the limit, else the request", () => {
    expect(resourceLimits(containersOf(pod.spec)[0] as never)).toEqual({
      NanoCpus: 2e9,
      CpuShares: 512,
      Memory: 6 * 2 ** 20,
    });
    // A request alone is a weight, never the cap: 10m is not throttled to 1% of a CPU.
    const requestOnly = { name: "x", image: "x", resources: { requests: { cpu: "10m", memory: "64Mi" } } };
    expect(resourceLimits(requestOnly)).toEqual({ NanoCpus: 1e9, CpuShares: 10, Memory: 64 * 2 ** 20 });
    const bigRequest = { name: "x", image: "x", resources: { requests: { cpu: "1500m" } } };
    expect(resourceLimits(bigRequest)).toEqual({ NanoCpus: 1.5e9, CpuShares: 1536 });
    const limitOnly = { name: "x", image: "x", resources: { limits: { cpu: "1", memory: "128Mi" } } };
    expect(resourceLimits(limitOnly)).toEqual({ NanoCpus: 1e9, CpuShares: 1024, Memory: 128 * 2 ** 20 });
    const both = { name: "x", image: "x", resources: { requests: { memory: "32Mi" }, limits: { memory: "128Mi" } } };
    expect(resourceLimits(both)).toEqual({
      NanoCpus: 1e9,
      CpuShares: 2,
      Memory: 128 * 2 ** 20,
      MemoryReservation: 32 * 2 ** 20,
    });
    expect(resourceLimits({ name: "x", image: "x" })).toEqual({ NanoCpus: 1e9, CpuShares: 2 });
    // Never a cap above the Engine's CPUs (Docker refuses it), nor shares above the kernel's bound.
    const huge = { name: "x", image: "x", resources: { requests: { cpu: "300" } } };
    expect(resourceLimits(huge, 2_000)).toEqual({ NanoCpus: 2e9, CpuShares: 262_144 });
  });

  it("runs a container unprivileged in the sandbox's namespace, with its command, env, user and mounts", () => {
    const options = appCreateOptions(pod, containersOf(pod.spec)[0] as never, {
      sandboxId: "sb",
      owner: "o",
      run: 2,
      pidsLimit: 100,
    });
    expect(options).toMatchObject({
      name: "kn-pod_1-web-2",
      Entrypoint: ["/bin/httpd"],
      Cmd: ["-f"],
      User: "1000:1000",
      Env: ["A=1"],
      Labels: { "kubernease.pod": "pod_1", "kubernease.run": "2", "kubernease.owner": "o", "kubernease.role": "app" },
      HostConfig: {
        NetworkMode: "container:sb",
        RestartPolicy: { Name: "no" },
        SecurityOpt: ["no-new-privileges"],
        Privileged: false,
        PidsLimit: 100,
        Mounts: [{ Type: "volume", Source: "kn-pod_1-cfg", Target: "/etc/cfg", ReadOnly: true }],
      },
    });
    expect((options.HostConfig as { CapDrop: string[] }).CapDrop).toEqual(
      expect.arrayContaining(["CHOWN", "NET_RAW", "MKNOD"]),
    );
  });

  it("publishes the pod's ports on the sandbox, on the node's address, with ports Docker picks", () => {
    const options = sandboxCreateOptions(pod, {
      image: "pause",
      networkName: "kubernease-ten_1",
      address: "127.0.0.1",
      owner: "o",
    });
    expect(options).toMatchObject({
      name: "kn-pod_1",
      HostConfig: {
        NetworkMode: "kubernease-ten_1",
        PortBindings: { "8080/tcp": [{ HostIp: "127.0.0.1", HostPort: "" }] },
        CapDrop: ["ALL"],
      },
    });
    expect(JSON.parse((options.Labels as Record<string, string>)["kubernease.containers"] as string)).toEqual([
      { name: "web", image: "web:1", ports: [{ containerPort: 8080, name: "http" }, { containerPort: 53 }] },
    ]);
  });

  it("maps volumes to named Docker volumes and names the unsupported kinds", () => {
    expect(podVolumes(pod)).toEqual({
      volumes: [{ name: "cfg", source: "kn-pod_1-cfg", files: true, binary: false, claim: false }],
      unsupported: ["host"],
    });
  });

  it("names a tenant's bridge per host and tenant, within Linux's 15 characters", () => {
    const name = tenantBridgeName("n1", "ten_1");
    expect(name).toMatch(/^kn[0-9a-f]{12}$/);
    expect(tenantBridgeName("n2", "ten_1")).not.toBe(name);
  });
});

describe("claimVolumeName", () => {
  it("gives two claims of one tenant two volumes whatever dashes their namespaces and names hold", () => {
    const a = claimVolumeName({ tenantId: "ten_1", namespace: "a-b", claimName: "c" });
    const b = claimVolumeName({ tenantId: "ten_1", namespace: "a", claimName: "b-c" });
    expect(a).not.toBe(b);
    expect(a).toBe("kn-pvc-ten_1.a-b.c");
    expect(claimVolumeName({ tenantId: "ten_2", namespace: "a-b", claimName: "c" })).not.toBe(a);
  });
});
