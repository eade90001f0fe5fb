/** ServiceAccount (v1): the identity a pod runs as, and the pull secrets its pods get. */
import { z } from "zod";
import { objectMeta } from "./meta.js";
import { dnsSubdomain } from "./names.js";

const ObjectReference = z.strictObject({
  apiVersion: z.string().optional(),
  kind: z.string().optional(),
  namespace: z.string().optional(),
  name: z.string().optional(),
  uid: z.string().optional(),
  resourceVersion: z.string().optional(),
  fieldPath: z.string().optional(),
});

export const ServiceAccountManifest = z.strictObject({
  apiVersion: z.literal("v1"),
  kind: z.literal("ServiceAccount"),
  metadata: objectMeta(dnsSubdomain()),
  secrets: z.array(ObjectReference).optional(),
  imagePullSecrets: z.array(z.strictObject({ name: z.string().min(1, "required") })).optional(),
  automountServiceAccountToken: z.boolean().optional(),
});
export type ServiceAccountManifest = z.infer<typeof ServiceAccountManifest>;
