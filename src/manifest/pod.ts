/**
 * PodSpec and PodTemplateSpec. The per-field rules live with their types; this
 * file adds the rules that need the whole pod: unique container and volume
 * names, mounts that refer to a volume, and what only init containers may set.
 */
import { z } from "zod";
import { NODE_NAME_LABEL } from "../core/labels.js";
import { Affinity, NAMES_A_NODE, Toleration, TopologySpreadConstraint } from "./affinity.js";
import { Container, PROBES, ResourceRequirements } from "./container.js";
import { int32, int64, resourceList, stringList } from "./fields.js";
import { TemplateMeta } from "./meta.js";
import { dnsLabel, dnsSubdomain } from "./names.js";
import { PodSecurityContext } from "./security.js";
import { Volume } from "./volume.js";

const DNSConfig = z.strictObject({
  nameservers: stringList().optional(),
  searches: stringList().optional(),
  options: z.array(z.strictObject({ name: z.string().min(1), value: z.string().optional() })).optional(),
});

const nameRef = () => z.strictObject({ name: z.string().min(1) });

const podSpecFields = z.strictObject({
  containers: z.array(Container).min(1, "must have at least one container"),
  initContainers: z.array(Container).optional(),
  volumes: z.array(Volume).optional(),
  restartPolicy: z.enum(["Always", "OnFailure", "Never"]).optional(),
  terminationGracePeriodSeconds: int64(0).optional(),
  activeDeadlineSeconds: int64(1).optional(),
  dnsPolicy: z.enum(["ClusterFirst", "ClusterFirstWithHostNet", "Default", "None"]).optional(),
  dnsConfig: DNSConfig.optional(),
  nodeSelector: z
    .record(z.string(), z.string())
    .superRefine((selector, ctx) => {
      if (NODE_NAME_LABEL in selector) ctx.addIssue({ code: "custom", path: [NODE_NAME_LABEL], message: NAMES_A_NODE });
    })
    .optional(),
  // Tenants never see nodes (DESIGN.md, Tenancy), so they cannot name one.
  nodeName: z.never({ error: "nodeName cannot be set; the platform places pods" }).optional(),
  affinity: Affinity.optional(),
  tolerations: z.array(Toleration).optional(),
  topologySpreadConstraints: z.array(TopologySpreadConstraint).optional(),
  serviceAccountName: dnsSubdomain().optional(),
  serviceAccount: z.string().optional(),
  automountServiceAccountToken: z.boolean().optional(),
  securityContext: PodSecurityContext.optional(),
  imagePullSecrets: z.array(nameRef()).optional(),
  hostname: dnsLabel().optional(),
  subdomain: dnsLabel().optional(),
  setHostnameAsFQDN: z.boolean().optional(),
  hostAliases: z.array(z.strictObject({ ip: z.string().min(1), hostnames: stringList().optional() })).optional(),
  hostNetwork: z.boolean().optional(),
  hostPID: z.boolean().optional(),
  hostIPC: z.boolean().optional(),
  hostUsers: z.boolean().optional(),
  shareProcessNamespace: z.boolean().optional(),
  priorityClassName: z.string().optional(),
  priority: int32().optional(),
  preemptionPolicy: z.enum(["PreemptLowerPriority", "Never"]).optional(),
  schedulerName: z.string().optional(),
  schedulingGates: z.array(nameRef()).optional(),
  enableServiceLinks: z.boolean().optional(),
  runtimeClassName: z.string().optional(),
  overhead: resourceList().optional(),
  resources: ResourceRequirements.optional(),
  readinessGates: z.array(z.strictObject({ conditionType: z.string().min(1) })).optional(),
  resourceClaims: z
    .array(
      z.strictObject({
        name: z.string().min(1),
        resourceClaimName: z.string().optional(),
        resourceClaimTemplateName: z.string().optional(),
      }),
    )
    .optional(),
  os: z.strictObject({ name: z.enum(["linux", "windows"]) }).optional(),
});

export const PodSpec = podSpecFields.superRefine((pod, ctx) => podChecks(pod, ctx, true));
export type PodSpec = z.infer<typeof PodSpec>;

export const PodTemplateSpec = z.strictObject({
  metadata: TemplateMeta.optional(),
  spec: PodSpec,
});
export type PodTemplateSpec = z.infer<typeof PodTemplateSpec>;

/**
 * A StatefulSet's pods may also mount its volumeClaimTemplates by name, which
 * the pod alone cannot know; the StatefulSet checks those mounts (mountIssues).
 */
export const StatefulPodTemplateSpec = z.strictObject({
  metadata: TemplateMeta.optional(),
  spec: podSpecFields.superRefine((pod, ctx) => podChecks(pod, ctx, false)),
});

type Issue = { path: (string | number)[]; message: string };
interface CheckedPod {
  containers: Container[];
  initContainers?: Container[];
  volumes?: { name: string }[];
  dnsPolicy?: string;
  dnsConfig?: { nameservers?: string[] };
}

function podChecks(pod: CheckedPod, ctx: z.core.$RefinementCtx, checkMounts: boolean) {
  const mounts = checkMounts ? mountIssues(pod) : [];
  const issues = [...uniqueNames(pod), ...mounts, ...initOnlyFields(pod), ...dnsChecks(pod)];
  for (const issue of issues) ctx.addIssue({ code: "custom", ...issue });
}

function* containerEntries(pod: CheckedPod): Generator<[string, number, Container]> {
  for (const [index, container] of (pod.initContainers ?? []).entries()) yield ["initContainers", index, container];
  for (const [index, container] of pod.containers.entries()) yield ["containers", index, container];
}

/** Container names are unique across init and regular containers: logs, restarts and status are keyed by them. */
function uniqueNames(pod: CheckedPod): Issue[] {
  const issues: Issue[] = [];
  const containers = new Set<string>();
  for (const [field, index, container] of containerEntries(pod)) {
    if (containers.has(container.name)) {
      issues.push({ path: [field, index, "name"], message: `duplicate container name "${container.name}"` });
    }
    containers.add(container.name);
  }
  const volumes = new Set<string>();
  for (const [index, volume] of (pod.volumes ?? []).entries()) {
    if (volumes.has(volume.name))
      issues.push({ path: ["volumes", index, "name"], message: `duplicate volume name "${volume.name}"` });
    volumes.add(volume.name);
  }
  return issues;
}

/** Every mount names a pod volume, or one of `claimNames` (a StatefulSet's volumeClaimTemplates). */
export function mountIssues(pod: CheckedPod, claimNames: readonly string[] = []): Issue[] {
  const issues: Issue[] = [];
  const volumes = new Set([...(pod.volumes ?? []).map((volume) => volume.name), ...claimNames]);
  for (const [field, index, container] of containerEntries(pod)) {
    for (const list of ["volumeMounts", "volumeDevices"] as const) {
      for (const [mountIndex, mount] of (container[list] ?? []).entries()) {
        if (volumes.has(mount.name)) continue;
        issues.push({
          path: [field, index, list, mountIndex, "name"],
          message:
            claimNames.length > 0
              ? `volume "${mount.name}" is not defined in the pod's volumes or the volumeClaimTemplates`
              : `volume "${mount.name}" is not defined in the pod's volumes`,
        });
      }
    }
  }
  return issues;
}

/** A plain init container runs to completion, so probes and hooks only make sense on sidecars (restartPolicy Always). */
function initOnlyFields(pod: CheckedPod): Issue[] {
  const issues: Issue[] = [];
  for (const [index, container] of pod.containers.entries()) {
    if (container.restartPolicy !== undefined) {
      issues.push({ path: ["containers", index, "restartPolicy"], message: "may only be set on init containers" });
    }
  }
  for (const [index, container] of (pod.initContainers ?? []).entries()) {
    if (container.restartPolicy === "Always") continue;
    for (const field of [...PROBES, "lifecycle"] as const) {
      if (container[field] === undefined) continue;
      issues.push({
        path: ["initContainers", index, field],
        message: "may only be set on init containers with restartPolicy Always (sidecars)",
      });
    }
  }
  return issues;
}

function dnsChecks(pod: CheckedPod): Issue[] {
  if (pod.dnsPolicy !== "None" || (pod.dnsConfig?.nameservers ?? []).length > 0) return [];
  return [{ path: ["dnsConfig", "nameservers"], message: "must name at least one nameserver when dnsPolicy is None" }];
}
