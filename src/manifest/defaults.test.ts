import { describe, expect, it } from "vitest";
import { applyDefaults, defaultPullPolicy } from "./defaults.js";
import { deploymentDoc, serviceDoc, withField } from "./fixtures.js";
import type { Manifest } from "./kinds.js";
import { parseDocuments } from "./parse.js";
import { validateManifest } from "./validate.js";

function manifestOf(doc: unknown): Manifest {
  const result = validateManifest(doc);
  if (!result.ok) throw new Error(JSON.stringify(result.errors));
  return result.manifest;
}

function deploymentOf(doc: unknown) {
  const manifest = manifestOf(doc);
  if (manifest.kind !== "Deployment") throw new Error("expected a Deployment");
  return manifest;
}

function serviceOf(doc: unknown) {
  const manifest = manifestOf(doc);
  if (manifest.kind !== "Service") throw new Error("expected a Service");
  return manifest;
}

describe("defaultPullPolicy", () => {
  it.each([
    ["nginx", "Always"],
    ["nginx:latest", "Always"],
    ["nginx:1.25", "IfNotPresent"],
    ["registry.local:5000/team/app", "Always"],
    ["registry.local:5000/team/app:v2", "IfNotPresent"],
    ["nginx@sha256:0123abcd", "IfNotPresent"],
    ["nginx:latest@sha256:0123abcd", "Always"],
  ])("%s → %s", (image, policy) => {
    expect(defaultPullPolicy(image)).toBe(policy);
  });

  it("is applied to containers that do not set it, and kept where they do", () => {
    let doc = withField(deploymentDoc(), "spec.template.spec.containers.0.image", "nginx");
    doc = withField(doc, "spec.template.spec.initContainers", [
      { name: "init", image: "busybox:1.36", imagePullPolicy: "Never" },
    ]);
    const pod = deploymentOf(doc).spec.template.spec;
    expect(pod.containers[0]?.imagePullPolicy).toBe("Always");
    expect(pod.initContainers?.[0]?.imagePullPolicy).toBe("Never");
  });
});

describe("applyDefaults: Deployment", () => {
  it("fills the spec as Kubernetes does", () => {
    const { spec } = deploymentOf(deploymentDoc());
    expect(spec.replicas).toBe(1);
    expect(spec.strategy).toEqual({ type: "RollingUpdate", rollingUpdate: { maxSurge: "25%", maxUnavailable: "25%" } });
    expect(spec.revisionHistoryLimit).toBe(10);
    expect(spec.progressDeadlineSeconds).toBe(600);
  });

  it("completes a partial rollingUpdate and leaves given values alone", () => {
    const doc = withField(deploymentDoc(), "spec.strategy", { rollingUpdate: { maxSurge: 1 } });
    expect(deploymentOf(doc).spec.strategy).toEqual({
      type: "RollingUpdate",
      rollingUpdate: { maxSurge: 1, maxUnavailable: "25%" },
    });
    expect(deploymentOf(withField(deploymentDoc(), "spec.replicas", 4)).spec.replicas).toBe(4);
  });

  it("fills the pod template", () => {
    const pod = deploymentOf(deploymentDoc()).spec.template.spec;
    expect(pod).toMatchObject({
      restartPolicy: "Always",
      terminationGracePeriodSeconds: 30,
      dnsPolicy: "ClusterFirst",
      schedulerName: "default-scheduler",
      securityContext: {},
    });
    expect(pod.containers[0]).toMatchObject({
      imagePullPolicy: "IfNotPresent",
      terminationMessagePath: "/dev/termination-log",
      terminationMessagePolicy: "File",
      ports: [{ containerPort: 80, name: "http", protocol: "TCP" }],
    });
  });

  it("fills probes, including the httpGet path and scheme", () => {
    const doc = withField(deploymentDoc(), "spec.template.spec.containers.0.readinessProbe", { httpGet: { port: 80 } });
    expect(deploymentOf(doc).spec.template.spec.containers[0]?.readinessProbe).toEqual({
      httpGet: { port: 80, path: "/", scheme: "HTTP" },
      timeoutSeconds: 1,
      periodSeconds: 10,
      successThreshold: 1,
      failureThreshold: 3,
    });
  });

  it("fills volume modes and field reference versions", () => {
    let doc = withField(deploymentDoc(), "spec.template.spec.volumes", [{ name: "cfg", configMap: { name: "c" } }]);
    doc = withField(doc, "spec.template.spec.containers.0.env", [
      { name: "NODE", valueFrom: { fieldRef: { fieldPath: "spec.nodeName" } } },
    ]);
    const pod = deploymentOf(doc).spec.template.spec;
    expect(pod.volumes?.[0]?.configMap).toEqual({ name: "c", defaultMode: 0o644 });
    expect(pod.containers[0]?.env?.[0]?.valueFrom?.fieldRef).toEqual({ fieldPath: "spec.nodeName", apiVersion: "v1" });
  });

  it("does not add fields the manifest did not have a place for", () => {
    const pod = deploymentOf(deploymentDoc()).spec.template.spec;
    expect(Object.keys(pod)).not.toContain("initContainers");
    expect(Object.keys(pod)).not.toContain("volumes");
    // The API layer decides the namespace; defaulting must not guess it.
    expect(deploymentOf(withField(deploymentDoc(), "metadata.namespace", undefined)).metadata).not.toHaveProperty(
      "namespace",
    );
  });
});

describe("applyDefaults: Service", () => {
  it("fills type, affinity, policies and ports", () => {
    const doc = withField(serviceDoc(), "spec.ports", [{ port: 8080 }]);
    expect(serviceOf(doc).spec).toEqual({
      selector: { app: "web" },
      type: "ClusterIP",
      sessionAffinity: "None",
      internalTrafficPolicy: "Cluster",
      ports: [{ port: 8080, protocol: "TCP", targetPort: 8080 }],
    });
  });

  it("keeps a named targetPort", () => {
    expect(serviceOf(serviceDoc()).spec.ports?.[0]?.targetPort).toBe("http");
  });

  it("sets externalTrafficPolicy for node ports and load balancers only", () => {
    expect(serviceOf(withField(serviceDoc(), "spec.type", "NodePort")).spec.externalTrafficPolicy).toBe("Cluster");
    const lb = serviceOf(withField(serviceDoc(), "spec.type", "LoadBalancer")).spec;
    expect(lb.externalTrafficPolicy).toBe("Cluster");
    expect(lb.allocateLoadBalancerNodePorts).toBe(true);
    expect(serviceOf(serviceDoc()).spec).not.toHaveProperty("externalTrafficPolicy");
  });

  it("gives ClientIP affinity its default timeout", () => {
    const spec = serviceOf(withField(serviceDoc(), "spec.sessionAffinity", "ClientIP")).spec;
    expect(spec.sessionAffinityConfig).toEqual({ clientIP: { timeoutSeconds: 10800 } });
  });
});

describe("applyDefaults", () => {
  it("is idempotent", () => {
    for (const manifest of [manifestOf(deploymentDoc()), manifestOf(serviceDoc())]) {
      expect(applyDefaults(manifest)).toEqual(manifest);
    }
  });

  it("does not mutate its input", () => {
    const result = validateManifest(deploymentDoc());
    if (!result.ok) throw new Error("fixture must validate");
    const bare = structuredClone(result.manifest);
    if (bare.kind !== "Deployment") throw new Error("expected a Deployment");
    bare.spec.replicas = undefined;
    const before = structuredClone(bare);
    applyDefaults(bare);
    expect(bare).toEqual(before);
  });
});

describe("applyDefaults matches Kubernetes", () => {
  // What `kubectl get deployment nginx -o yaml` prints for `kubectl create deployment nginx --image=nginx --port=80`:
  // Kubernetes' defaults are all there, so defaulting it again must change nothing in its spec.
  const exported = `
apiVersion: apps/v1
kind: Deployment
metadata:
  annotations:
    deployment.kubernetes.io/revision: "1"
  creationTimestamp: "2024-05-01T10:00:00Z"
  generation: 1
  labels:
    app: nginx
  name: nginx
  namespace: default
  resourceVersion: "4211"
  uid: 6f1c0e8e-5b0a-4d0e-9d53-0c4b0c2a9e11
spec:
  progressDeadlineSeconds: 600
  replicas: 1
  revisionHistoryLimit: 10
  selector:
    matchLabels:
      app: nginx
  strategy:
    rollingUpdate:
      maxSurge: 25%
      maxUnavailable: 25%
    type: RollingUpdate
  template:
    metadata:
      creationTimestamp: null
      labels:
        app: nginx
    spec:
      containers:
      - image: nginx
        imagePullPolicy: Always
        name: nginx
        ports:
        - containerPort: 80
          protocol: TCP
        resources: {}
        terminationMessagePath: /dev/termination-log
        terminationMessagePolicy: File
      dnsPolicy: ClusterFirst
      restartPolicy: Always
      schedulerName: default-scheduler
      securityContext: {}
      terminationGracePeriodSeconds: 30
status:
  availableReplicas: 1
  observedGeneration: 1
`;

  it("leaves an exported Deployment's spec as Kubernetes defaulted it", () => {
    const parsed = parseDocuments(exported, "yaml");
    if (!parsed.ok) throw new Error(JSON.stringify(parsed.errors));
    const [doc] = parsed.documents as { spec: { template: { metadata: Record<string, unknown> } } }[];
    const manifest = deploymentOf(doc);
    const { creationTimestamp: _dropped, ...templateMeta } = doc?.spec.template.metadata ?? {};
    expect(manifest.spec).toEqual({ ...doc?.spec, template: { ...doc?.spec.template, metadata: templateMeta } });
  });

  it("defaults the bare form of the same Deployment to the exported spec", () => {
    const bare = {
      apiVersion: "apps/v1",
      kind: "Deployment",
      metadata: { name: "nginx", labels: { app: "nginx" } },
      spec: {
        selector: { matchLabels: { app: "nginx" } },
        template: {
          metadata: { labels: { app: "nginx" } },
          spec: { containers: [{ image: "nginx", name: "nginx", ports: [{ containerPort: 80 }], resources: {} }] },
        },
      },
    };
    const parsed = parseDocuments(exported, "yaml");
    if (!parsed.ok) throw new Error(JSON.stringify(parsed.errors));
    expect(deploymentOf(bare).spec).toEqual(deploymentOf(parsed.documents[0]).spec);
  });
});
