import { describe, expect, it } from "vitest";
import {
  daemonSetDoc,
  deploymentDoc,
  podDoc,
  replicaSetDoc,
  replicationControllerDoc,
  statefulSetDoc,
  withField,
} from "./fixtures.js";
import { parseManifests } from "./manifests.js";
import { podSecurityIssues } from "./podSecurity.js";
import { validateManifest } from "./validate.js";

const C0 = "spec.template.spec.containers.0";

function refusals(doc: unknown) {
  const result = validateManifest(doc);
  if (result.ok) throw new Error("expected the manifest to be refused");
  return result.errors.map(({ path, reason }) => ({ path, reason }));
}

describe("podSecurityIssues", () => {
  it("finds nothing in an ordinary pod, nor in a hardened one that adds only NET_BIND_SERVICE", () => {
    const securityContext = {
      privileged: false,
      allowPrivilegeEscalation: true,
      procMount: "Default",
      capabilities: { drop: ["ALL"], add: ["NET_BIND_SERVICE", "cap_net_bind_service"] },
    };
    const pod = {
      hostNetwork: false,
      hostPID: false,
      hostIPC: false,
      volumes: [{ name: "v", emptyDir: {} }],
      containers: [{ securityContext, ports: [{ containerPort: 80 }] }],
    };
    expect(podSecurityIssues(pod)).toEqual([]);
  });

  it("names every breach at its path, in containers, init containers and ephemeral containers", () => {
    const bad = {
      securityContext: {
        privileged: true,
        procMount: "Unmasked",
        capabilities: { add: ["NET_BIND_SERVICE", "SYS_ADMIN"] },
      },
      ports: [{ containerPort: 80 }, { containerPort: 53, hostPort: 53 }],
    };
    const pod = {
      hostNetwork: true,
      hostPID: true,
      hostIPC: true,
      volumes: [
        { name: "v", emptyDir: {} },
        { name: "h", hostPath: { path: "/" } },
      ],
      containers: [{}, bad],
      initContainers: [bad],
      ephemeralContainers: [{ securityContext: { privileged: true } }],
    };
    const paths = podSecurityIssues(pod).map((issue) => issue.path.join("."));
    expect(paths).toEqual([
      "hostNetwork",
      "hostPID",
      "hostIPC",
      "volumes.1.hostPath",
      "containers.1.securityContext.privileged",
      "containers.1.securityContext.procMount",
      "containers.1.securityContext.capabilities.add.1",
      "containers.1.ports.1.hostPort",
      "initContainers.0.securityContext.privileged",
      "initContainers.0.securityContext.procMount",
      "initContainers.0.securityContext.capabilities.add.1",
      "initContainers.0.ports.1.hostPort",
      "ephemeralContainers.0.securityContext.privileged",
    ]);
  });

  it("says why, and what to use instead", () => {
    const [hostPath, capability] = podSecurityIssues({
      volumes: [{ name: "h", hostPath: { path: "/var/run/docker.sock" } }],
      containers: [{ securityContext: { capabilities: { add: ["IPC_LOCK"] } } }],
    });
    expect(hostPath?.message).toMatch(/node's filesystem; use emptyDir or a PersistentVolumeClaim/);
    expect(capability?.message).toBe(
      'adding capability "IPC_LOCK" is not allowed; a tenant\'s container may add only NET_BIND_SERVICE',
    );
  });
});

describe("validateManifest refuses tenants' pods that reach the node", () => {
  const kinds = [
    ["Pod", podDoc(), "spec"],
    ["Deployment", deploymentDoc(), "spec.template.spec"],
    ["StatefulSet", statefulSetDoc(), "spec.template.spec"],
    ["DaemonSet", daemonSetDoc(), "spec.template.spec"],
    ["ReplicaSet", replicaSetDoc(), "spec.template.spec"],
    ["ReplicationController", replicationControllerDoc(), "spec.template.spec"],
  ] as const;

  it.each(kinds)("%s: privileged and hostNetwork, at their full paths, as forbidden", (_kind, doc, pod) => {
    let bad = withField(doc, `${pod}.containers.0.securityContext`, { privileged: true });
    bad = withField(bad, `${pod}.hostNetwork`, true);
    expect(refusals(bad)).toEqual([
      { path: `${pod}.hostNetwork`, reason: "forbidden" },
      { path: `${pod}.containers[0].securityContext.privileged`, reason: "forbidden" },
    ]);
  });

  it("reports each breach once, with its document index, and the operator's level admits the same pod", () => {
    const doc = withField(deploymentDoc(), "spec.template.spec.volumes", [{ name: "root", hostPath: { path: "/" } }]);
    const withPort = withField(doc, `${C0}.ports.0.hostPort`, 8080);
    const result = validateManifest(withPort, 2);
    expect(!result.ok && result.errors).toEqual([
      {
        path: "spec.template.spec.volumes[0].hostPath",
        message: expect.stringContaining("hostPath volumes are not allowed"),
        reason: "forbidden",
        document: 2,
      },
      {
        path: "spec.template.spec.containers[0].ports[0].hostPort",
        message: expect.stringContaining("hostPort is not allowed"),
        reason: "forbidden",
        document: 2,
      },
    ]);
    expect(validateManifest(withPort, 2, { podSecurity: "operator" }).ok).toBe(true);
  });

  it("refuses a whole file for one bad document, naming it; the operator's level parses it", () => {
    const good = JSON.stringify(deploymentDoc());
    const bad = JSON.stringify(withField(podDoc(), "spec.hostPID", true));
    const text = `${good}\n---\n${bad}\n`;
    const result = parseManifests(text, "yaml");
    expect(!result.ok && result.errors.map(({ document, path }) => ({ document, path }))).toEqual([
      { document: 1, path: "spec.hostPID" },
    ]);
    const admitted = parseManifests(text, "yaml", undefined, { podSecurity: "operator" });
    expect(admitted.ok && admitted.manifests.map((m) => m.kind)).toEqual(["Deployment", "Pod"]);
  });

  it("does not look at kinds without pods", () => {
    expect(
      parseManifests("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: c\ndata:\n  hostPath: /\n", "yaml").ok,
    ).toBe(true);
  });
});
