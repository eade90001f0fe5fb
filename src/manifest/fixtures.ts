/**
 * Minimal valid documents, as a tenant would write them (no defaults), for
 * tests here and in other modules. Each call returns a fresh copy to mutate.
 */

export function deploymentDoc(): Record<string, unknown> {
  return {
    apiVersion: "apps/v1",
    kind: "Deployment",
    metadata: { name: "web", namespace: "shop", labels: { app: "web" } },
    spec: {
      selector: { matchLabels: { app: "web" } },
      template: {
        metadata: { labels: { app: "web", tier: "frontend" } },
        spec: {
          containers: [
            {
              name: "nginx",
              image: "nginx:1.25",
              ports: [{ containerPort: 80, name: "http" }],
              resources: { requests: { cpu: "100m", memory: "64Mi" }, limits: { cpu: "1", memory: "128Mi" } },
            },
          ],
        },
      },
    },
  };
}

export function serviceDoc(): Record<string, unknown> {
  return {
    apiVersion: "v1",
    kind: "Service",
    metadata: { name: "web", namespace: "shop" },
    spec: { selector: { app: "web" }, ports: [{ port: 80, targetPort: "http" }] },
  };
}

function podTemplate(app: string): Record<string, unknown> {
  return {
    metadata: { labels: { app } },
    spec: { containers: [{ name: app, image: `registry.local/${app}:1.0`, ports: [{ containerPort: 8080 }] }] },
  };
}

export function statefulSetDoc(): Record<string, unknown> {
  const template = podTemplate("db");
  const spec = (template.spec as { containers: Record<string, unknown>[] }).containers[0] as Record<string, unknown>;
  spec.volumeMounts = [{ name: "data", mountPath: "/var/lib/db" }];
  return {
    apiVersion: "apps/v1",
    kind: "StatefulSet",
    metadata: { name: "db", namespace: "shop" },
    spec: {
      serviceName: "db",
      replicas: 3,
      selector: { matchLabels: { app: "db" } },
      template,
      volumeClaimTemplates: [
        {
          metadata: { name: "data" },
          spec: { accessModes: ["ReadWriteOnce"], resources: { requests: { storage: "1Gi" } } },
        },
      ],
    },
  };
}

export function daemonSetDoc(): Record<string, unknown> {
  return {
    apiVersion: "apps/v1",
    kind: "DaemonSet",
    metadata: { name: "agent" },
    spec: { selector: { matchLabels: { app: "agent" } }, template: podTemplate("agent") },
  };
}

export function replicaSetDoc(): Record<string, unknown> {
  return {
    apiVersion: "apps/v1",
    kind: "ReplicaSet",
    metadata: { name: "web" },
    spec: { selector: { matchLabels: { app: "web" } }, template: podTemplate("web") },
  };
}

export function replicationControllerDoc(): Record<string, unknown> {
  return {
    apiVersion: "v1",
    kind: "ReplicationController",
    metadata: { name: "web" },
    spec: { selector: { app: "web" }, template: podTemplate("web") },
  };
}

export function podDoc(): Record<string, unknown> {
  const { spec } = podTemplate("task");
  return { apiVersion: "v1", kind: "Pod", metadata: { name: "task", labels: { app: "task" } }, spec };
}

export function pvcDoc(): Record<string, unknown> {
  return {
    apiVersion: "v1",
    kind: "PersistentVolumeClaim",
    metadata: { name: "data" },
    spec: { accessModes: ["ReadWriteOnce"], resources: { requests: { storage: "5Gi" } } },
  };
}

export function pdbDoc(): Record<string, unknown> {
  return {
    apiVersion: "policy/v1",
    kind: "PodDisruptionBudget",
    metadata: { name: "web" },
    spec: { minAvailable: 1, selector: { matchLabels: { app: "web" } } },
  };
}

export function ingressDoc(): Record<string, unknown> {
  const backend = { service: { name: "web", port: { number: 80 } } };
  return {
    apiVersion: "networking.k8s.io/v1",
    kind: "Ingress",
    metadata: { name: "web" },
    spec: { rules: [{ host: "shop.example.com", http: { paths: [{ path: "/", pathType: "Prefix", backend }] } }] },
  };
}

export function configMapDoc(): Record<string, unknown> {
  return {
    apiVersion: "v1",
    kind: "ConfigMap",
    metadata: { name: "settings" },
    data: { "app.properties": "color=blue\n", LOG_LEVEL: "info" },
  };
}

export function secretDoc(): Record<string, unknown> {
  return { apiVersion: "v1", kind: "Secret", metadata: { name: "creds" }, data: { password: "c2VjcmV0" } };
}

export function serviceAccountDoc(): Record<string, unknown> {
  return { apiVersion: "v1", kind: "ServiceAccount", metadata: { name: "builder" } };
}

export function namespaceDoc(): Record<string, unknown> {
  return { apiVersion: "v1", kind: "Namespace", metadata: { name: "shop" } };
}

export function appDoc(): Record<string, unknown> {
  return {
    apiVersion: "kubernease.dev/v1",
    kind: "App",
    metadata: { name: "shop" },
    spec: { image: "registry.local/shop:1.4" },
  };
}

/**
 * Returns a copy of `doc` with the dotted `path` (`spec.template.spec.containers.0.image`)
 * set to `value`, or removed when `value` is undefined. Missing objects on the way are created.
 */
export function withField(doc: Record<string, unknown>, path: string, value: unknown): Record<string, unknown> {
  const copy = structuredClone(doc);
  const keys = path.split(".");
  const last = keys.pop() as string;
  let node: Record<string, unknown> = copy;
  for (const key of keys) {
    if (typeof node[key] !== "object" || node[key] === null) node[key] = {};
    node = node[key] as Record<string, unknown>;
  }
  if (value === undefined) delete node[last];
  else node[last] = value;
  return copy;
}
