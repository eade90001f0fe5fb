/**
 * Security contexts of pods and containers. Modelled in full so that hardened
 * real-world manifests validate; whether the platform honours or refuses a
 * setting (privileged, host namespaces) is admission policy, decided elsewhere.
 */
import { z } from "zod";
import { int64, stringList } from "./fields.js";

const SeccompProfile = z
  .strictObject({
    type: z.enum(["RuntimeDefault", "Unconfined", "Localhost"]),
    localhostProfile: z.string().optional(),
  })
  .superRefine((profile, ctx) => {
    if (profile.type === "Localhost" && !profile.localhostProfile) {
      ctx.addIssue({ code: "custom", path: ["localhostProfile"], message: "required when type is Localhost" });
    }
  });

const AppArmorProfile = z.strictObject({
  type: z.enum(["RuntimeDefault", "Unconfined", "Localhost"]),
  localhostProfile: z.string().optional(),
});

const SELinuxOptions = z.strictObject({
  user: z.string().optional(),
  role: z.string().optional(),
  type: z.string().optional(),
  level: z.string().optional(),
});

const WindowsOptions = z.strictObject({
  gmsaCredentialSpecName: z.string().optional(),
  gmsaCredentialSpec: z.string().optional(),
  runAsUserName: z.string().optional(),
  hostProcess: z.boolean().optional(),
});

const sharedShape = {
  runAsUser: int64(0).optional(),
  runAsGroup: int64(0).optional(),
  runAsNonRoot: z.boolean().optional(),
  seccompProfile: SeccompProfile.optional(),
  appArmorProfile: AppArmorProfile.optional(),
  seLinuxOptions: SELinuxOptions.optional(),
  windowsOptions: WindowsOptions.optional(),
};

export const SecurityContext = z.strictObject({
  ...sharedShape,
  privileged: z.boolean().optional(),
  allowPrivilegeEscalation: z.boolean().optional(),
  capabilities: z.strictObject({ add: stringList().optional(), drop: stringList().optional() }).optional(),
  readOnlyRootFilesystem: z.boolean().optional(),
  procMount: z.enum(["Default", "Unmasked"]).optional(),
});
export type SecurityContext = z.infer<typeof SecurityContext>;

export const PodSecurityContext = z.strictObject({
  ...sharedShape,
  fsGroup: int64(0).optional(),
  fsGroupChangePolicy: z.enum(["OnRootMismatch", "Always"]).optional(),
  supplementalGroups: z.array(int64(0)).optional(),
  supplementalGroupsPolicy: z.enum(["Merge", "Strict"]).optional(),
  sysctls: z.array(z.strictObject({ name: z.string().min(1), value: z.string() })).optional(),
  seLinuxChangePolicy: z.string().optional(),
});
export type PodSecurityContext = z.infer<typeof PodSecurityContext>;
