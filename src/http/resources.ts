/** The Kubernetes resources a tenant writes through the REST paths. */
export interface ResourceType {
  kind: "Deployment" | "Service";
  apiVersion: string;
  plural: string;
  /** `/apis/apps/v1` or `/api/v1`. */
  prefix: string;
}

export const RESOURCES: ResourceType[] = [
  { kind: "Deployment", apiVersion: "apps/v1", plural: "deployments", prefix: "/apis/apps/v1" },
  { kind: "Service", apiVersion: "v1", plural: "services", prefix: "/api/v1" },
];

export const RESERVED_NAMESPACES = new Set(["kube-system", "kube-public", "kube-node-lease"]);

const DNS_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;

export function isDnsLabel(name: string): boolean {
  return name.length <= 63 && DNS_LABEL.test(name);
}
