/**
 * Probes and lifecycle hooks. Each takes exactly one handler, as in Kubernetes;
 * naming the choices in the error saves a tenant a trip to the docs.
 */
import { z } from "zod";
import { exactlyOne, int32, int64, portNumber, portOrName, stringList } from "./fields.js";

export const HTTPGetAction = z.strictObject({
  path: z.string().optional(),
  port: portOrName(),
  host: z.string().optional(),
  scheme: z.enum(["HTTP", "HTTPS"]).optional(),
  httpHeaders: z.array(z.strictObject({ name: z.string().min(1), value: z.string() })).optional(),
});
export type HTTPGetAction = z.infer<typeof HTTPGetAction>;

const TCPSocketAction = z.strictObject({ port: portOrName(), host: z.string().optional() });
const ExecAction = z.strictObject({ command: stringList().optional() });
const GRPCAction = z.strictObject({ port: portNumber(), service: z.string().optional() });

export const PROBE_HANDLERS = ["exec", "httpGet", "tcpSocket", "grpc"] as const;

export const Probe = z
  .strictObject({
    exec: ExecAction.optional(),
    httpGet: HTTPGetAction.optional(),
    tcpSocket: TCPSocketAction.optional(),
    grpc: GRPCAction.optional(),
    initialDelaySeconds: int32(0).optional(),
    timeoutSeconds: int32(1).optional(),
    periodSeconds: int32(1).optional(),
    successThreshold: int32(1).optional(),
    failureThreshold: int32(1).optional(),
    terminationGracePeriodSeconds: int64(1).optional(),
  })
  .superRefine(exactlyOne(PROBE_HANDLERS, "probe handler"));
export type Probe = z.infer<typeof Probe>;

const LIFECYCLE_HANDLERS = ["exec", "httpGet", "tcpSocket", "sleep"] as const;

const LifecycleHandler = z
  .strictObject({
    exec: ExecAction.optional(),
    httpGet: HTTPGetAction.optional(),
    tcpSocket: TCPSocketAction.optional(),
    sleep: z.strictObject({ seconds: int64(0) }).optional(),
  })
  .superRefine(exactlyOne(LIFECYCLE_HANDLERS, "lifecycle handler"));

export const Lifecycle = z.strictObject({
  postStart: LifecycleHandler.optional(),
  preStop: LifecycleHandler.optional(),
  stopSignal: z.string().optional(),
});
export type Lifecycle = z.infer<typeof Lifecycle>;
