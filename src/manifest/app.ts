/**
 * App (kubernease.dev/v1): the platform's short form. An image, a port and a
 * few choices; expand-app.ts turns it into the Deployment, Service and Ingress
 * a tenant would otherwise write. Validated strictly here, so that every App
 * that passes expands into manifests that pass too.
 */
import { z } from "zod";
import { ENV_NAME, ENV_NAME_MESSAGE, ENV_VALUE_MESSAGE } from "./container.js";
import { int32, keyedMap, portNumber, quantity } from "./fields.js";
import { dns1035Label, dnsLabel, dnsSubdomain, Labels } from "./names.js";

export const APP_DEFAULTS = Object.freeze({ port: 8080, replicas: 2, cpu: "100m", memory: "128Mi" });

const env = () =>
  keyedMap(z.string({ error: ENV_VALUE_MESSAGE })).superRefine((vars, ctx) => {
    for (const name of Object.keys(vars)) {
      if (!ENV_NAME.test(name)) ctx.addIssue({ code: "custom", path: [name], message: ENV_NAME_MESSAGE });
    }
  });

export const AppSpec = z.strictObject({
  image: z
    .string({ error: (issue) => (issue.input === undefined ? "required" : "must be a string") })
    .min(1, "required"),
  port: portNumber().optional(),
  replicas: int32(0).optional(),
  health: z
    .string()
    .regex(/^\/\S*$/, 'must be an HTTP path such as "/_health"')
    .optional(),
  env: env().optional(),
  domain: dnsSubdomain().optional(),
  cpu: quantity().optional(),
  memory: quantity().optional(),
});
export type AppSpec = z.infer<typeof AppSpec>;

export const AppManifest = z.strictObject({
  apiVersion: z.literal("kubernease.dev/v1"),
  kind: z.literal("App"),
  // The name becomes a Service name too, hence the DNS-1035 rule.
  metadata: z.strictObject({ name: dns1035Label(), namespace: dnsLabel().optional(), labels: Labels.optional() }),
  spec: AppSpec,
});
export type AppManifest = z.infer<typeof AppManifest>;

export function defaultApp(app: AppManifest): AppManifest {
  const { spec } = app;
  return {
    ...app,
    spec: {
      ...spec,
      port: spec.port ?? APP_DEFAULTS.port,
      replicas: spec.replicas ?? APP_DEFAULTS.replicas,
      cpu: spec.cpu ?? APP_DEFAULTS.cpu,
      memory: spec.memory ?? APP_DEFAULTS.memory,
    },
  };
}
