/**
 * Ingress (networking.k8s.io/v1): HTTP routing by host and path to Services,
 * published to the platform's reverse proxy. The path and host rules are
 * Kubernetes' own, so a route that works there works here.
 */
import { isIP } from "node:net";
import { z } from "zod";
import { exactlyOne, portNumber, stringList } from "./fields.js";
import { addIssues, type Issue } from "./issues.js";
import { objectMeta } from "./meta.js";
import { dns1035Label, dnsSubdomain, isDns1123Subdomain, portName, SUBDOMAIN_MESSAGE } from "./names.js";

const ServiceBackend = z.strictObject({
  name: dns1035Label(),
  port: z
    .strictObject({ number: portNumber().optional(), name: portName().optional() })
    .superRefine(exactlyOne(["number", "name"], "service port")),
});

export const IngressBackend = z
  .strictObject({
    service: ServiceBackend.optional(),
    resource: z
      .strictObject({
        apiGroup: z.string().optional(),
        kind: z.string().min(1, "required"),
        name: z.string().min(1, "required"),
      })
      .optional(),
  })
  .superRefine(exactlyOne(["service", "resource"], "backend"));
export type IngressBackend = z.infer<typeof IngressBackend>;

const PATH_TYPES = ["Exact", "Prefix", "ImplementationSpecific"] as const;

// Sequences a proxy would normalise away, so a route on them would never match as written.
const INVALID_SEQUENCES = ["//", "/./", "/../", "%2f", "%2F"];
const INVALID_SUFFIXES = ["/..", "/."];

const HTTPIngressPath = z
  .strictObject({ path: z.string().optional(), pathType: z.enum(PATH_TYPES), backend: IngressBackend })
  .superRefine((entry, ctx) => addIssues(ctx, pathIssues(entry.path ?? "", entry.pathType)));

/**
 * Exact and Prefix paths are absolute and clean. ImplementationSpecific paths
 * are the proxy's to interpret, but as in Kubernetes, one that is given is absolute.
 */
function pathIssues(path: string, pathType: (typeof PATH_TYPES)[number]): Issue[] {
  if (pathType === "ImplementationSpecific" && path === "") return [];
  if (!path.startsWith("/")) return [{ path: ["path"], message: `must start with "/" for pathType ${pathType}` }];
  if (pathType === "ImplementationSpecific") return [];
  const sequence = INVALID_SEQUENCES.find((s) => path.includes(s));
  if (sequence) return [{ path: ["path"], message: `must not contain "${sequence}"` }];
  const suffix = INVALID_SUFFIXES.find((s) => path.endsWith(s));
  return suffix ? [{ path: ["path"], message: `must not end with "${suffix}"` }] : [];
}

/** A DNS name, optionally with a wildcard first label (`*.example.com`); never an IP address. */
function hostProblem(host: string): string | undefined {
  if (isIP(host) !== 0) return "must be a DNS name, not an IP address";
  const name = host.startsWith("*.") ? host.slice(2) : host;
  if (isDns1123Subdomain(name)) return undefined;
  return `${SUBDOMAIN_MESSAGE}, optionally with "*." as its first label`;
}

export const ingressHost = () =>
  z.string().superRefine((host, ctx) => {
    const problem = hostProblem(host);
    if (problem) ctx.addIssue({ code: "custom", message: problem });
  });

const IngressRule = z.strictObject({
  host: ingressHost().optional(),
  http: z.strictObject({ paths: z.array(HTTPIngressPath).min(1, "must have at least one path") }).optional(),
});

export const IngressSpec = z
  .strictObject({
    ingressClassName: dnsSubdomain().optional(),
    defaultBackend: IngressBackend.optional(),
    tls: z.array(z.strictObject({ hosts: stringList().optional(), secretName: dnsSubdomain().optional() })).optional(),
    rules: z.array(IngressRule).optional(),
  })
  .superRefine((spec, ctx) => {
    if ((spec.rules ?? []).length > 0 || spec.defaultBackend !== undefined) return;
    ctx.addIssue({ code: "custom", path: ["rules"], message: "required when there is no defaultBackend" });
  });
export type IngressSpec = z.infer<typeof IngressSpec>;

export const IngressManifest = z
  .strictObject({
    apiVersion: z.literal("networking.k8s.io/v1"),
    kind: z.literal("Ingress"),
    metadata: objectMeta(dnsSubdomain()),
    spec: IngressSpec,
    // Status (load balancer addresses) belongs to the platform; dropped on input.
    status: z.unknown().optional(),
  })
  .transform(({ status: _status, ...manifest }) => manifest);
export type IngressManifest = z.infer<typeof IngressManifest>;
