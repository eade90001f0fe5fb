/**
 * What rollouts learn from the proxy (the `RoutingStatus` the routing sync keeps,
 * src/jobs/routing.ts), when the platform manages one (`JobContext.routing`):
 * - a Ready pod that a routed Service selects counts as available only once the
 *   proxy has it in rotation, so a rolling update never takes an old pod out
 *   before its replacement takes requests — for `rotationTimeoutMs` after it
 *   turned Ready at most, so a proxy that cannot publish slows rollouts down
 *   but never stops them;
 * - a deleted pod the proxy served, or may serve (a table putting it in rotation
 *   is being published), is stopped only once the proxy has drained it
 *   (no request of it left), or when `drainTimeoutMs` has passed since its
 *   deletion, so a proxy that is down delays a deletion but never blocks it.
 * Without a managed proxy nothing waits: the null publisher is in rotation at once.
 */
import type { PodView } from "../controllers/types.js";
import { matchesServiceSelector } from "../core/labels.js";
import type { Json, PodRecord } from "../db/types.js";
import type { EndpointsInput } from "../routing/table.js";
import type { JobContext } from "./context.js";
import { podRotationKey, type RoutingStatusSpec, readRoutingStatus, routedServiceKey } from "./routing.js";

/** How soon a job waiting on the proxy looks again. */
export const ROTATION_LOOK_MS = 200;
/** How long a Ready pod waits for the proxy at most before it counts as available anyway. */
const ROTATION_TIMEOUT_MS = 30_000;

async function routingStatus(ctx: JobContext): Promise<RoutingStatusSpec | undefined> {
  return (await readRoutingStatus(ctx.store))?.spec;
}

/**
 * The Ready pods of one namespace that a routed Service selects and the proxy does not serve yet, of
 * the pods in `groups` (a Deployment's, one group per ReplicaSet). The caller hands the controller
 * copies of them marked `awaitingRotation` (`markedAwaiting`; views of kept records are frozen), and
 * looks again soon while there are any.
 */
export async function awaitingRotation(
  ctx: JobContext,
  tenantId: string,
  namespace: string,
  groups: Iterable<readonly PodView[]>,
): Promise<ReadonlySet<PodView>> {
  const awaiting = new Set<PodView>();
  if (!ctx.routing) return awaiting;
  const pods = [...groups].flat();
  if (!pods.some((p) => p.ready && !p.deleting)) return awaiting;
  const [status, tenant, services] = await Promise.all([
    routingStatus(ctx),
    ctx.store.getTenant(tenantId),
    ctx.store.listObjects({ kind: "Service", tenantId, namespace }),
  ]);
  if (!tenant) return awaiting;
  const routed = new Set(status?.services ?? []);
  const selectors = services
    .filter((s) => routed.has(routedServiceKey(tenant.name, namespace, s.name)))
    .map((s) => (s.spec as { selector?: Record<string, string> }).selector);
  const now = ctx.clock.now();
  const timeoutMs = ctx.routing.rotationTimeoutMs ?? ROTATION_TIMEOUT_MS;
  for (const pod of pods) {
    if (!pod.ready || pod.deleting || !selectors.some((selector) => matchesServiceSelector(pod.labels, selector))) {
      continue;
    }
    if (pod.readySinceMs !== undefined && now - pod.readySinceMs >= timeoutMs) continue;
    const rotation = status?.pods[podRotationKey(tenant.name, namespace, pod.name)];
    if (rotation?.state === "ready" && !rotation.publishing) continue;
    awaiting.add(pod);
  }
  return awaiting;
}

/** `pods`, with a marked copy in place of each pod that awaits the proxy. */
export function markedAwaiting(pods: PodView[], awaiting: ReadonlySet<PodView>): PodView[] {
  if (awaiting.size === 0) return pods;
  return pods.map((pod) => (awaiting.has(pod) ? { ...pod, awaitingRotation: true } : pod));
}

/** For a deleted pod: how long to wait for the proxy to drain it, or 0 to stop it now. */
export async function msUntilDrained(ctx: JobContext, pod: PodRecord): Promise<number> {
  if (!ctx.routing || pod.deletionRequestedAt === null) return 0;
  const waitedMs = ctx.clock.now() - pod.deletionRequestedAt;
  if (waitedMs >= ctx.routing.drainTimeoutMs) return 0;
  const waitMs = Math.min(ROTATION_LOOK_MS, ctx.routing.drainTimeoutMs - waitedMs);
  // The Endpoints first, then the status: once no Endpoints lists the pod as ready, a table the sync
  // loads cannot put it in rotation, and one loaded before was announced (`RoutingSync.announce`)
  // before it is published, so the status read after says so.
  const endpoints = await ctx.store.listObjects({
    kind: "Endpoints",
    tenantId: pod.tenantId,
    namespace: pod.namespace,
  });
  if (endpoints.some((e) => listsReady(e.spec, pod.name))) return waitMs;
  const [status, tenant] = await Promise.all([routingStatus(ctx), ctx.store.getTenant(pod.tenantId)]);
  const served = tenant ? status?.pods[podRotationKey(tenant.name, pod.namespace, pod.name)] : undefined;
  if (!served || (served.state === "draining" && served.drainedAtMs !== undefined)) return 0;
  return waitMs;
}

/** Whether an Endpoints object lists the pod among its ready addresses (read as the route table reads them). */
function listsReady(spec: Json, podName: string): boolean {
  const subsets = (spec.subsets as EndpointsInput["subsets"] | undefined) ?? [];
  return subsets.some((subset) => (subset.addresses ?? []).some((a) => a.targetRef?.name === podName));
}
