/**
 * Service (v1). Besides the field rules, Kubernetes' rules that tie the fields
 * together: which types take ports and node ports, what headless means, and
 * port names that endpoints can be matched by.
 */
import { isIP } from "node:net";
import { z } from "zod";
import { int32, portNumber, portOrName, stringList } from "./fields.js";
import { objectMeta } from "./meta.js";
import { dns1035Label, dnsLabel, isDns1123Subdomain, Labels } from "./names.js";

export const SERVICE_TYPES = ["ClusterIP", "NodePort", "LoadBalancer", "ExternalName"] as const;
export type ServiceType = (typeof SERVICE_TYPES)[number];
export const DEFAULT_CLIENT_IP_TIMEOUT_SECONDS = 10800;

export const ServicePort = z.strictObject({
  name: dnsLabel().optional(),
  protocol: z.enum(["TCP", "UDP", "SCTP"]).optional(),
  appProtocol: z.string().optional(),
  port: portNumber(),
  targetPort: portOrName().optional(),
  nodePort: portNumber().optional(),
});
export type ServicePort = z.infer<typeof ServicePort>;

const TrafficPolicy = z.enum(["Cluster", "Local"]);

const clusterIP = () =>
  z.string().refine((ip) => ip === "" || ip === "None" || isIP(ip) !== 0, 'must be "None", empty or an IP address');

export const ServiceSpec = z
  .strictObject({
    type: z.enum(SERVICE_TYPES).optional(),
    selector: Labels.optional(),
    ports: z.array(ServicePort).optional(),
    clusterIP: clusterIP().optional(),
    clusterIPs: z.array(clusterIP()).max(2).optional(),
    externalName: z.string().optional(),
    sessionAffinity: z.enum(["None", "ClientIP"]).optional(),
    sessionAffinityConfig: z
      .strictObject({ clientIP: z.strictObject({ timeoutSeconds: int32(1, 86400).optional() }).optional() })
      .optional(),
    externalTrafficPolicy: TrafficPolicy.optional(),
    internalTrafficPolicy: TrafficPolicy.optional(),
    healthCheckNodePort: portNumber().optional(),
    loadBalancerIP: z.string().optional(),
    loadBalancerSourceRanges: stringList().optional(),
    loadBalancerClass: z.string().optional(),
    allocateLoadBalancerNodePorts: z.boolean().optional(),
    externalIPs: stringList().optional(),
    publishNotReadyAddresses: z.boolean().optional(),
    ipFamilies: z
      .array(z.enum(["IPv4", "IPv6"]))
      .max(2)
      .optional(),
    ipFamilyPolicy: z.enum(["SingleStack", "PreferDualStack", "RequireDualStack"]).optional(),
    trafficDistribution: z.string().optional(),
  })
  .superRefine(serviceChecks);
export type ServiceSpec = z.infer<typeof ServiceSpec>;

type Issue = { path: (string | number)[]; message: string };

function serviceChecks(spec: ServiceSpec, ctx: z.core.$RefinementCtx) {
  for (const issue of [...typeChecks(spec), ...portChecks(spec)]) ctx.addIssue({ code: "custom", ...issue });
}

function typeChecks(spec: ServiceSpec): Issue[] {
  const issues: Issue[] = [];
  const type = spec.type ?? "ClusterIP";
  if (spec.clusterIP === "None" && type !== "ClusterIP") {
    issues.push({ path: ["clusterIP"], message: `"None" (headless) is only valid for type ClusterIP, not ${type}` });
  }
  if (type === "ExternalName") {
    if (!spec.externalName) issues.push({ path: ["externalName"], message: "required for type ExternalName" });
    else if (!isDns1123Subdomain(spec.externalName.replace(/\.$/, ""))) {
      issues.push({ path: ["externalName"], message: "must be a valid DNS name" });
    }
    if (spec.clusterIP) issues.push({ path: ["clusterIP"], message: "must be empty for type ExternalName" });
  }
  if (spec.sessionAffinityConfig && spec.sessionAffinity !== "ClientIP") {
    issues.push({ path: ["sessionAffinityConfig"], message: "may only be set when sessionAffinity is ClientIP" });
  }
  return issues;
}

/** Ports are how traffic finds pods: every routable Service needs one, and with several each needs a distinct name. */
function portChecks(spec: ServiceSpec): Issue[] {
  const type = spec.type ?? "ClusterIP";
  const ports = spec.ports ?? [];
  if (ports.length === 0) {
    const needsPorts = type !== "ExternalName" && spec.clusterIP !== "None";
    return needsPorts ? [{ path: ["ports"], message: "required" }] : [];
  }
  const issues: Issue[] = [];
  const names = new Set<string>();
  const endpoints = new Set<string>();
  for (const [index, port] of ports.entries()) {
    if (ports.length > 1 && !port.name)
      issues.push({ path: ["ports", index, "name"], message: "required when there is more than one port" });
    if (port.name && names.has(port.name))
      issues.push({ path: ["ports", index, "name"], message: `duplicate port name "${port.name}"` });
    if (port.name) names.add(port.name);
    const endpoint = `${port.port}/${port.protocol ?? "TCP"}`;
    if (endpoints.has(endpoint)) issues.push({ path: ["ports", index, "port"], message: `duplicate port ${endpoint}` });
    endpoints.add(endpoint);
    if (port.nodePort !== undefined && type !== "NodePort" && type !== "LoadBalancer") {
      issues.push({
        path: ["ports", index, "nodePort"],
        message: "may only be set when type is NodePort or LoadBalancer",
      });
    }
  }
  return issues;
}

export const ServiceManifest = z
  .strictObject({
    apiVersion: z.literal("v1"),
    kind: z.literal("Service"),
    // Service names become DNS labels (`name.namespace.svc`), hence the stricter DNS-1035 rule.
    metadata: objectMeta(dns1035Label()),
    spec: ServiceSpec,
    // Status (load balancer ingress) belongs to the platform; dropped on input.
    status: z.unknown().optional(),
  })
  .transform(({ status: _status, ...manifest }) => manifest);
export type ServiceManifest = z.infer<typeof ServiceManifest>;

export function defaultService(service: ServiceManifest): ServiceManifest {
  return { ...service, spec: defaultServiceSpec(service.spec) };
}

function defaultServiceSpec(spec: ServiceSpec): ServiceSpec {
  const type = spec.type ?? "ClusterIP";
  const external = type === "NodePort" || type === "LoadBalancer";
  const sessionAffinity = spec.sessionAffinity ?? "None";
  return {
    ...spec,
    type,
    sessionAffinity,
    ...(sessionAffinity === "ClientIP" && { sessionAffinityConfig: defaultClientIPConfig(spec) }),
    ...(spec.ports && {
      ports: spec.ports.map((port) => ({
        ...port,
        protocol: port.protocol ?? "TCP",
        targetPort: port.targetPort ?? port.port,
      })),
    }),
    ...(external && { externalTrafficPolicy: spec.externalTrafficPolicy ?? "Cluster" }),
    ...(type === "LoadBalancer" && { allocateLoadBalancerNodePorts: spec.allocateLoadBalancerNodePorts ?? true }),
    // Kubernetes leaves ExternalName services without a traffic policy: no proxying happens for them.
    ...(type !== "ExternalName" && { internalTrafficPolicy: spec.internalTrafficPolicy ?? "Cluster" }),
  };
}

function defaultClientIPConfig(spec: ServiceSpec): NonNullable<ServiceSpec["sessionAffinityConfig"]> {
  const clientIP = spec.sessionAffinityConfig?.clientIP;
  return {
    ...spec.sessionAffinityConfig,
    clientIP: { ...clientIP, timeoutSeconds: clientIP?.timeoutSeconds ?? DEFAULT_CLIENT_IP_TIMEOUT_SECONDS },
  };
}
