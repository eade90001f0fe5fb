/**
 * A container as Kubernetes defines it. Checks that concern one container
 * (ports, env sources, requests against limits) live here; checks that need the
 * whole pod (unique names, volume references) live in pod.ts.
 */
import { z } from "zod";
import { parseQuantity } from "../core/quantity.js";
import { exactlyOne, portNumber, quantity, resourceList, stringList } from "./fields.js";
import { dnsLabel, portName } from "./names.js";
import { Lifecycle, Probe } from "./probe.js";
import { SecurityContext } from "./security.js";

const Protocol = z.enum(["TCP", "UDP", "SCTP"]);

const ContainerPort = z.strictObject({
  containerPort: portNumber(),
  name: portName().optional(),
  protocol: Protocol.optional(),
  hostPort: portNumber().optional(),
  hostIP: z.string().optional(),
});

const KeyRef = z.strictObject({
  name: z.string().optional(),
  key: z.string().min(1),
  optional: z.boolean().optional(),
});

const EnvVarSource = z
  .strictObject({
    fieldRef: z.strictObject({ fieldPath: z.string().min(1), apiVersion: z.string().optional() }).optional(),
    resourceFieldRef: z
      .strictObject({
        containerName: z.string().optional(),
        resource: z.string().min(1),
        divisor: quantity().optional(),
      })
      .optional(),
    configMapKeyRef: KeyRef.optional(),
    secretKeyRef: KeyRef.optional(),
  })
  .superRefine(exactlyOne(["fieldRef", "resourceFieldRef", "configMapKeyRef", "secretKeyRef"], "source"));

// Kubernetes allows any printable ASCII except "=" in variable names.
export const ENV_NAME = /^[\x20-\x3c\x3e-\x7e]+$/;
export const ENV_NAME_MESSAGE = 'must be printable ASCII characters other than "="';
export const ENV_VALUE_MESSAGE = 'must be a string (quote numbers and booleans, e.g. "8080")';

const EnvVar = z
  .strictObject({
    name: z.string().regex(ENV_NAME, ENV_NAME_MESSAGE),
    // Unquoted numbers and booleans are the most common env mistake; say how to fix it.
    value: z.string({ error: ENV_VALUE_MESSAGE }).optional(),
    valueFrom: EnvVarSource.optional(),
  })
  .superRefine((env, ctx) => {
    if (env.value && env.valueFrom) {
      ctx.addIssue({ code: "custom", path: ["valueFrom"], message: "may not be set when value is not empty" });
    }
  });

const LocalRef = z.strictObject({ name: z.string().optional(), optional: z.boolean().optional() });

const EnvFromSource = z
  .strictObject({ prefix: z.string().optional(), configMapRef: LocalRef.optional(), secretRef: LocalRef.optional() })
  .superRefine(exactlyOne(["configMapRef", "secretRef"], "source"));

/** Requests above limits can never be scheduled honestly, so Kubernetes refuses them; so do we. */
function requestsWithinLimits(
  resources: { requests?: Record<string, string | number>; limits?: Record<string, string | number> },
  ctx: z.core.$RefinementCtx,
) {
  for (const [name, request] of Object.entries(resources.requests ?? {})) {
    const limit = resources.limits?.[name];
    if (limit === undefined) continue;
    if ((parseQuantity(request) ?? 0) > (parseQuantity(limit) ?? 0)) {
      ctx.addIssue({
        code: "custom",
        path: ["requests", name],
        message: `must be less than or equal to the ${name} limit (${limit})`,
      });
    }
  }
}

export const ResourceRequirements = z
  .strictObject({
    requests: resourceList().optional(),
    limits: resourceList().optional(),
    claims: z.array(z.strictObject({ name: z.string().min(1), request: z.string().optional() })).optional(),
  })
  .superRefine(requestsWithinLimits);
export type ResourceRequirements = z.infer<typeof ResourceRequirements>;

const VolumeMount = z
  .strictObject({
    name: z.string().min(1),
    mountPath: z.string().min(1),
    subPath: z.string().optional(),
    subPathExpr: z.string().optional(),
    readOnly: z.boolean().optional(),
    recursiveReadOnly: z.enum(["Disabled", "IfPossible", "Enabled"]).optional(),
    mountPropagation: z.enum(["None", "HostToContainer", "Bidirectional"]).optional(),
  })
  .superRefine((mount, ctx) => {
    if (mount.subPath && mount.subPathExpr) {
      ctx.addIssue({ code: "custom", path: ["subPathExpr"], message: "may not be set together with subPath" });
    }
  });

const ResizePolicy = z.strictObject({
  resourceName: z.string().min(1),
  restartPolicy: z.enum(["NotRequired", "RestartContainer"]),
});

export const Container = z
  .strictObject({
    name: dnsLabel(),
    image: z.string().min(1, "required"),
    command: stringList().optional(),
    args: stringList().optional(),
    workingDir: z.string().optional(),
    ports: z.array(ContainerPort).optional(),
    env: z.array(EnvVar).optional(),
    envFrom: z.array(EnvFromSource).optional(),
    resources: ResourceRequirements.optional(),
    resizePolicy: z.array(ResizePolicy).optional(),
    // Only init containers may set it ("Always" makes a sidecar); pod.ts enforces that.
    restartPolicy: z.enum(["Always"]).optional(),
    volumeMounts: z.array(VolumeMount).optional(),
    volumeDevices: z.array(z.strictObject({ name: z.string().min(1), devicePath: z.string().min(1) })).optional(),
    livenessProbe: Probe.optional(),
    readinessProbe: Probe.optional(),
    startupProbe: Probe.optional(),
    lifecycle: Lifecycle.optional(),
    terminationMessagePath: z.string().optional(),
    terminationMessagePolicy: z.enum(["File", "FallbackToLogsOnError"]).optional(),
    imagePullPolicy: z.enum(["Always", "IfNotPresent", "Never"]).optional(),
    securityContext: SecurityContext.optional(),
    stdin: z.boolean().optional(),
    stdinOnce: z.boolean().optional(),
    tty: z.boolean().optional(),
  })
  .superRefine(containerChecks);
export type Container = z.infer<typeof Container>;

interface CheckedContainer {
  ports?: { containerPort: number; name?: string; protocol?: string }[];
  livenessProbe?: { successThreshold?: number };
  startupProbe?: { successThreshold?: number };
}

function containerChecks(container: CheckedContainer, ctx: z.core.$RefinementCtx) {
  const seen = new Set<string>();
  for (const [index, port] of (container.ports ?? []).entries()) {
    if (port.name === undefined) continue;
    if (seen.has(port.name)) {
      ctx.addIssue({ code: "custom", path: ["ports", index, "name"], message: `duplicate port name "${port.name}"` });
    }
    seen.add(port.name);
  }
  // A liveness or startup probe that needed two successes would only delay a restart, so Kubernetes forbids it.
  for (const probe of ["livenessProbe", "startupProbe"] as const) {
    const threshold = container[probe]?.successThreshold;
    if (threshold !== undefined && threshold !== 1) {
      ctx.addIssue({ code: "custom", path: [probe, "successThreshold"], message: "must be 1" });
    }
  }
}

/** The three probe fields of a container; init containers may only set them when they are sidecars. */
export const PROBES = ["livenessProbe", "readinessProbe", "startupProbe"] as const;
