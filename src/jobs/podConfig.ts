import { configReferences, type ResolvedConfig, resolvePodConfig } from "../controllers/podConfig.js";
import { canonicalJson } from "../core/hash.js";
import { ConflictError, type PodRecord } from "../db/types.js";
import { recordEvent } from "./apply.js";
import type { JobContext } from "./context.js";

/**
 * Loads the ConfigMaps and Secrets a pod refers to (only those) and resolves its environment, files
 * and registry credentials (`imagePullSecrets`).
 */
export async function podConfig(ctx: JobContext, pod: PodRecord): Promise<ResolvedConfig> {
  const refs = configReferences(pod.spec);
  const load = async (kind: "ConfigMap" | "Secret", names: Set<string>) => {
    const found = new Map<string, Record<string, string>>();
    for (const name of names) {
      const object = await ctx.store.getObject({ tenantId: pod.tenantId, kind, namespace: pod.namespace, name });
      if (object) found.set(name, (object.spec.data as Record<string, string> | undefined) ?? {});
    }
    return found;
  };
  const pullSecrets = new Map<string, { type: string; data: Record<string, string> }>();
  for (const name of refs.pullSecrets) {
    const object = await ctx.store.getObject({
      tenantId: pod.tenantId,
      kind: "Secret",
      namespace: pod.namespace,
      name,
    });
    if (!object) continue;
    const data = (object.spec.data as Record<string, string> | undefined) ?? {};
    pullSecrets.set(name, { type: String(object.spec.type ?? "Opaque"), data });
  }
  const sources = {
    configMaps: await load("ConfigMap", refs.configMaps),
    secrets: await load("Secret", refs.secrets),
    pullSecrets,
  };
  return resolvePodConfig(pod.spec, pod, sources);
}

/** The pod waits with `CreateContainerConfigError` on each container, saying what is missing; written once per message. */
export async function markConfigError(ctx: JobContext, pod: PodRecord, message: string): Promise<void> {
  const containers = (pod.spec.containers as { name: string; image?: string }[] | undefined) ?? [];
  const containerStatuses = containers.map((c) => ({
    name: c.name,
    image: c.image ?? "",
    ready: false,
    started: false,
    restartCount: 0,
    state: { waiting: { reason: "CreateContainerConfigError", message } },
  }));
  const status = { ...pod.status, containerStatuses };
  if (canonicalJson(status) === canonicalJson(pod.status)) return;
  try {
    await ctx.store.updatePodStatus(
      pod.id,
      { phase: "Pending", ready: false, status },
      { expectedResourceVersion: pod.resourceVersion, nowMs: ctx.clock.now() },
    );
  } catch (error) {
    if (!(error instanceof ConflictError)) throw error;
    return;
  }
  const involved = { tenantId: pod.tenantId, namespace: pod.namespace, kind: "Pod", name: pod.name, uid: pod.uid };
  await recordEvent(ctx, involved, "Warning", "Failed", `Error: ${message}`);
}
