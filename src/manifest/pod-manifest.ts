/**
 * Pod (v1), a bare pod. Nothing replaces it when it stops, so every
 * restartPolicy is allowed; its spec is the same PodSpec the workloads template.
 */
import { z } from "zod";
import { objectMeta } from "./meta.js";
import { dnsSubdomain } from "./names.js";
import { PodSpec } from "./pod.js";
import { defaultPodSpec } from "./pod-defaults.js";

export const PodManifest = z
  .strictObject({
    apiVersion: z.literal("v1"),
    kind: z.literal("Pod"),
    metadata: objectMeta(dnsSubdomain()),
    spec: PodSpec,
    // Status (phase, IPs, container states) belongs to the platform; dropped on input.
    status: z.unknown().optional(),
  })
  .transform(({ status: _status, ...manifest }) => manifest);
export type PodManifest = z.infer<typeof PodManifest>;

export function defaultPod(pod: PodManifest): PodManifest {
  return { ...pod, spec: defaultPodSpec(pod.spec) };
}
