import { describe, expect, it } from "vitest";
import { deploymentDoc, withField } from "./fixtures.js";
import { validateManifest } from "./validate.js";

const POD = "spec.template.spec";
const C0 = `${POD}.containers.0`;

function errorsOf(doc: unknown) {
  const result = validateManifest(doc);
  if (result.ok) throw new Error("expected validation errors");
  return result.errors;
}

function valid(doc: unknown): boolean {
  const result = validateManifest(doc);
  if (!result.ok) throw new Error(JSON.stringify(result.errors));
  return true;
}

/** The fixture with its pod spec fields replaced by `fields`. */
function withPod(fields: Record<string, unknown>) {
  let doc = deploymentDoc();
  for (const [key, value] of Object.entries(fields)) doc = withField(doc, `${POD}.${key}`, value);
  return doc;
}

describe("containers", () => {
  it("requires at least one container", () => {
    expect(errorsOf(withPod({ containers: [] }))).toEqual([
      { path: "spec.template.spec.containers", message: "must have at least one container" },
    ]);
  });

  it("validates every quantity, at its resource's path", () => {
    const doc = withField(deploymentDoc(), `${C0}.resources.requests.cpu`, "lots");
    expect(errorsOf(doc)).toEqual([
      {
        path: "spec.template.spec.containers[0].resources.requests.cpu",
        message: 'must be a valid quantity such as "500m", "2", "1.5Gi" or "128M"',
      },
    ]);
    expect(valid(withField(deploymentDoc(), `${C0}.resources.requests.cpu`, 0.5))).toBe(true);
    for (const bad of ["-1", "1e400", "1.5 Gi", "", Number.POSITIVE_INFINITY]) {
      expect(errorsOf(withField(deploymentDoc(), `${C0}.resources.requests.cpu`, bad))[0]?.path).toBe(
        "spec.template.spec.containers[0].resources.requests.cpu",
      );
    }
    const gpu = withField(deploymentDoc(), `${C0}.resources.limits`, { cpu: "1", "nvidia.com/gpu": "-1" });
    expect(errorsOf(gpu)[0]?.path).toBe('spec.template.spec.containers[0].resources.limits["nvidia.com/gpu"]');
  });

  it("refuses requests above limits, at the request's path", () => {
    const doc = withField(deploymentDoc(), `${C0}.resources.requests.memory`, "1Gi");
    expect(errorsOf(doc)).toEqual([
      {
        path: "spec.template.spec.containers[0].resources.requests.memory",
        message: "must be less than or equal to the memory limit (128Mi)",
      },
    ]);
  });

  it("requires container names to be DNS labels, unique across init and regular containers", () => {
    expect(errorsOf(withField(deploymentDoc(), `${C0}.name`, "Web_1"))[0]).toMatchObject({
      path: "spec.template.spec.containers[0].name",
    });
    const doc = withPod({ initContainers: [{ name: "nginx", image: "busybox" }] });
    expect(errorsOf(doc)).toEqual([
      { path: "spec.template.spec.containers[0].name", message: 'duplicate container name "nginx"' },
    ]);
  });

  it("validates ports", () => {
    const ports = [
      { containerPort: 0 },
      { containerPort: 80, protocol: "HTTP" },
      { containerPort: 81, name: "this-name-is-far-too-long" },
      { containerPort: 82, name: "web" },
      { containerPort: 83, name: "web" },
    ];
    const paths = errorsOf(withField(deploymentDoc(), `${C0}.ports`, ports)).map((error) => error.path);
    expect(paths).toEqual([
      "spec.template.spec.containers[0].ports[0].containerPort",
      "spec.template.spec.containers[0].ports[1].protocol",
      "spec.template.spec.containers[0].ports[2].name",
    ]);
    // Duplicate names are a whole-container check, made once the fields are valid.
    expect(errorsOf(withField(deploymentDoc(), `${C0}.ports`, ports.slice(3)))).toEqual([
      { path: "spec.template.spec.containers[0].ports[1].name", message: 'duplicate port name "web"' },
    ]);
  });

  it("wants env values as strings, and one source at most", () => {
    expect(errorsOf(withField(deploymentDoc(), `${C0}.env`, [{ name: "PORT", value: 8080 }]))).toEqual([
      {
        path: "spec.template.spec.containers[0].env[0].value",
        message: 'must be a string (quote numbers and booleans, e.g. "8080")',
      },
    ]);
    const both = [
      { name: "A", valueFrom: { secretKeyRef: { name: "s", key: "k" }, configMapKeyRef: { name: "c", key: "k" } } },
    ];
    expect(errorsOf(withField(deploymentDoc(), `${C0}.env`, both))[0]).toEqual({
      path: "spec.template.spec.containers[0].env[0].valueFrom",
      message: "must specify only one source; found configMapKeyRef, secretKeyRef",
    });
    const fine = [
      { name: "A", value: "1" },
      { name: "POD_IP", valueFrom: { fieldRef: { fieldPath: "status.podIP" } } },
      { name: "TOKEN", valueFrom: { secretKeyRef: { name: "s", key: "k", optional: true } } },
    ];
    expect(valid(withField(deploymentDoc(), `${C0}.env`, fine))).toBe(true);
  });

  it("requires exactly one probe handler", () => {
    const none = withField(deploymentDoc(), `${C0}.livenessProbe`, { periodSeconds: 5 });
    expect(errorsOf(none)).toEqual([
      {
        path: "spec.template.spec.containers[0].livenessProbe",
        message: "must specify one probe handler: exec, httpGet, tcpSocket, grpc",
      },
    ]);
    const two = withField(deploymentDoc(), `${C0}.readinessProbe`, { httpGet: { port: 80 }, tcpSocket: { port: 80 } });
    expect(errorsOf(two)[0]?.message).toBe("must specify only one probe handler; found httpGet, tcpSocket");
  });

  it("accepts probes on named ports and refuses bad port names", () => {
    const probe = {
      httpGet: { path: "/healthz", port: "http", httpHeaders: [{ name: "X", value: "y" }] },
      initialDelaySeconds: 3,
    };
    expect(valid(withField(deploymentDoc(), `${C0}.livenessProbe`, probe))).toBe(true);
    const bad = withField(deploymentDoc(), `${C0}.livenessProbe`, { tcpSocket: { port: "8080" } });
    expect(errorsOf(bad)).toEqual([
      {
        path: "spec.template.spec.containers[0].livenessProbe.tcpSocket.port",
        message: '"8080" is not a valid port name',
      },
    ]);
  });

  it("requires successThreshold 1 for liveness probes", () => {
    const doc = withField(deploymentDoc(), `${C0}.livenessProbe`, { exec: { command: ["true"] }, successThreshold: 2 });
    expect(errorsOf(doc)).toEqual([
      { path: "spec.template.spec.containers[0].livenessProbe.successThreshold", message: "must be 1" },
    ]);
  });

  it("accepts lifecycle hooks with one handler each", () => {
    const lifecycle = { preStop: { sleep: { seconds: 5 } }, postStart: { exec: { command: ["sh", "-c", "echo hi"] } } };
    expect(valid(withField(deploymentDoc(), `${C0}.lifecycle`, lifecycle))).toBe(true);
    expect(errorsOf(withField(deploymentDoc(), `${C0}.lifecycle`, { preStop: {} }))[0]?.path).toBe(
      "spec.template.spec.containers[0].lifecycle.preStop",
    );
  });

  it("accepts a hardened security context", () => {
    const securityContext = {
      runAsNonRoot: true,
      runAsUser: 10001,
      allowPrivilegeEscalation: false,
      readOnlyRootFilesystem: true,
      capabilities: { drop: ["ALL"], add: ["NET_BIND_SERVICE"] },
      seccompProfile: { type: "RuntimeDefault" },
    };
    expect(valid(withField(deploymentDoc(), `${C0}.securityContext`, securityContext))).toBe(true);
    expect(errorsOf(withField(deploymentDoc(), `${C0}.securityContext.runAsUser`, -1))[0]?.path).toBe(
      "spec.template.spec.containers[0].securityContext.runAsUser",
    );
  });
});

describe("volumes", () => {
  const volumes = [
    { name: "cache", emptyDir: { medium: "Memory", sizeLimit: "64Mi" } },
    { name: "config", configMap: { name: "web-config", items: [{ key: "nginx.conf", path: "nginx.conf" }] } },
    { name: "tls", secret: { secretName: "web-tls", defaultMode: 0o400 } },
    { name: "data", persistentVolumeClaim: { claimName: "web-data" } },
    { name: "podinfo", downwardAPI: { items: [{ path: "labels", fieldRef: { fieldPath: "metadata.labels" } }] } },
    { name: "token", projected: { sources: [{ serviceAccountToken: { path: "token" } }] } },
  ];

  it("accepts the common sources", () => {
    const mounts = volumes.map((volume) => ({ name: volume.name, mountPath: `/mnt/${volume.name}` }));
    expect(valid(withField(withPod({ volumes }), `${C0}.volumeMounts`, mounts))).toBe(true);
  });

  it("requires a mount to name a pod volume", () => {
    const mounts = [
      { name: "cache", mountPath: "/cache" },
      { name: "missing", mountPath: "/missing" },
    ];
    expect(errorsOf(withField(withPod({ volumes }), `${C0}.volumeMounts`, mounts))).toEqual([
      {
        path: "spec.template.spec.containers[0].volumeMounts[1].name",
        message: `volume "missing" is not defined in the pod's volumes`,
      },
    ]);
  });

  it("requires exactly one source", () => {
    expect(errorsOf(withPod({ volumes: [{ name: "v" }] }))[0]).toMatchObject({
      path: "spec.template.spec.volumes[0]",
      message: expect.stringMatching(/^must specify one volume source: emptyDir, configMap/),
    });
    expect(errorsOf(withPod({ volumes: [{ name: "v", emptyDir: {}, hostPath: { path: "/x" } }] }))[0]?.message).toBe(
      "must specify only one volume source; found emptyDir, hostPath",
    );
  });

  it("says which in-tree sources are unsupported", () => {
    const doc = withPod({ volumes: [{ name: "v", cinder: { volumeID: "x" } }] });
    expect(errorsOf(doc)[0]).toMatchObject({
      path: "spec.template.spec.volumes[0].cinder",
      message: expect.stringMatching(/^volume source "cinder" is not supported/),
    });
  });

  it("refuses duplicate volume names", () => {
    const doc = withPod({ volumes: [volumes[0], volumes[0]] });
    expect(errorsOf(doc)).toEqual([
      { path: "spec.template.spec.volumes[1].name", message: 'duplicate volume name "cache"' },
    ]);
  });
});

describe("pod spec", () => {
  it("refuses nodeName: tenants never pick nodes", () => {
    expect(errorsOf(withPod({ nodeName: "node-3" }))).toEqual([
      { path: "spec.template.spec.nodeName", message: "nodeName cannot be set; the platform places pods" },
    ]);
  });

  it("refuses selecting a node by name, by nodeSelector or node affinity: tenants never see nodes", () => {
    const byName = { key: "kubernetes.io/hostname", operator: "In", values: ["node-3"] };
    const byField = { key: "metadata.name", operator: "In", values: ["node-3"] };
    const doc = withPod({
      nodeSelector: { "kubernetes.io/hostname": "node-3", disktype: "ssd" },
      affinity: {
        nodeAffinity: {
          requiredDuringSchedulingIgnoredDuringExecution: { nodeSelectorTerms: [{ matchExpressions: [byName] }] },
          preferredDuringSchedulingIgnoredDuringExecution: [{ weight: 1, preference: { matchFields: [byField] } }],
        },
      },
    });
    const message =
      "names a node, and tenants never see nodes; to spread pods over nodes, use topologyKey kubernetes.io/hostname";
    const node = "spec.template.spec.affinity.nodeAffinity";
    expect(errorsOf(doc)).toEqual([
      { path: 'spec.template.spec.nodeSelector["kubernetes.io/hostname"]', message },
      {
        path: `${node}.requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms[0].matchExpressions[0].key`,
        message,
      },
      { path: `${node}.preferredDuringSchedulingIgnoredDuringExecution[0].preference.matchFields`, message },
    ]);
    // As a topology key it names no node: spreading over nodes stays open.
    const spread = { maxSkew: 1, topologyKey: "kubernetes.io/hostname", whenUnsatisfiable: "DoNotSchedule" };
    expect(validateManifest(withPod({ topologySpreadConstraints: [spread] })).ok).toBe(true);
  });

  it("accepts scheduling constraints modelled structurally", () => {
    const selector = { matchLabels: { app: "web" } };
    const doc = withPod({
      nodeSelector: { "kubernetes.io/os": "linux" },
      affinity: {
        nodeAffinity: {
          requiredDuringSchedulingIgnoredDuringExecution: {
            nodeSelectorTerms: [{ matchExpressions: [{ key: "zone", operator: "In", values: ["a", "b"] }] }],
          },
          preferredDuringSchedulingIgnoredDuringExecution: [
            { weight: 10, preference: { matchExpressions: [{ key: "disk", operator: "Exists" }] } },
          ],
        },
        podAntiAffinity: {
          preferredDuringSchedulingIgnoredDuringExecution: [
            { weight: 100, podAffinityTerm: { labelSelector: selector, topologyKey: "kubernetes.io/hostname" } },
          ],
        },
      },
      tolerations: [
        { key: "dedicated", operator: "Equal", value: "web", effect: "NoSchedule" },
        { operator: "Exists" },
      ],
      topologySpreadConstraints: [
        {
          maxSkew: 1,
          topologyKey: "topology.kubernetes.io/zone",
          whenUnsatisfiable: "ScheduleAnyway",
          labelSelector: selector,
        },
      ],
      securityContext: { fsGroup: 2000, runAsNonRoot: true, sysctls: [{ name: "net.core.somaxconn", value: "1024" }] },
      imagePullSecrets: [{ name: "registry" }],
      serviceAccountName: "web",
      priorityClassName: "high",
      dnsConfig: { options: [{ name: "ndots", value: "2" }] },
      hostAliases: [{ ip: "10.0.0.1", hostnames: ["db.local"] }],
    });
    expect(valid(doc)).toBe(true);
  });

  it("checks affinity terms", () => {
    const doc = withPod({
      affinity: {
        podAffinity: {
          preferredDuringSchedulingIgnoredDuringExecution: [{ weight: 0, podAffinityTerm: { topologyKey: "" } }],
        },
      },
    });
    expect(errorsOf(doc).map((error) => error.path)).toEqual([
      "spec.template.spec.affinity.podAffinity.preferredDuringSchedulingIgnoredDuringExecution[0].weight",
      "spec.template.spec.affinity.podAffinity.preferredDuringSchedulingIgnoredDuringExecution[0].podAffinityTerm.topologyKey",
    ]);
  });

  it("allows probes on sidecar init containers only", () => {
    const probe = { exec: { command: ["true"] } };
    const plain = withPod({ initContainers: [{ name: "init", image: "busybox", readinessProbe: probe }] });
    expect(errorsOf(plain)).toEqual([
      {
        path: "spec.template.spec.initContainers[0].readinessProbe",
        message: "may only be set on init containers with restartPolicy Always (sidecars)",
      },
    ]);
    const sidecar = withPod({
      initContainers: [{ name: "proxy", image: "envoy", restartPolicy: "Always", readinessProbe: probe }],
    });
    expect(valid(sidecar)).toBe(true);
    expect(errorsOf(withField(deploymentDoc(), `${C0}.restartPolicy`, "Always"))).toEqual([
      { path: "spec.template.spec.containers[0].restartPolicy", message: "may only be set on init containers" },
    ]);
  });

  it("needs a nameserver when dnsPolicy is None", () => {
    expect(errorsOf(withPod({ dnsPolicy: "None" }))[0]?.path).toBe("spec.template.spec.dnsConfig.nameservers");
    expect(valid(withPod({ dnsPolicy: "None", dnsConfig: { nameservers: ["1.1.1.1"] } }))).toBe(true);
  });
});
