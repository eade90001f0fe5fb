/**
 * What every controller of pods checks alike (Deployment, StatefulSet,
 * DaemonSet, ReplicaSet, ReplicationController): a selector that is not empty
 * and selects the controller's own template (or it would create pods forever),
 * and pods that restart, since a controller replaces pods that stop.
 */
import { matchesSelector } from "../core/labels.js";
import type { Issue } from "./issues.js";
import { isEmptySelector, type LabelSelector } from "./meta.js";

export const DEFAULT_REVISION_HISTORY_LIMIT = 10;

interface Template {
  metadata?: { labels?: Record<string, string> };
  spec: { restartPolicy?: string };
}

export function selectorIssues(selector: LabelSelector, template: Template): Issue[] {
  if (isEmptySelector(selector)) return [{ path: ["selector"], message: "must not be empty" }];
  if (matchesSelector(template.metadata?.labels ?? {}, selector)) return [];
  return [{ path: ["template", "metadata", "labels"], message: "selector does not match template labels" }];
}

export function restartAlwaysIssues(template: Template, kind: string): Issue[] {
  const restartPolicy = template.spec.restartPolicy;
  if (restartPolicy === undefined || restartPolicy === "Always") return [];
  return [{ path: ["template", "spec", "restartPolicy"], message: `must be "Always" for a ${kind}` }];
}

/** `maxSurge`/`maxUnavailable` of 0 or "0%". */
export function isZero(value: number | string): boolean {
  return value === 0 || (typeof value === "string" && Number.parseInt(value, 10) === 0);
}

/** A workload's update strategy: rolling (with surge and unavailability) or the kind's other type. */
interface RollingStrategy {
  type?: string;
  rollingUpdate?: { maxSurge?: number | string; maxUnavailable?: number | string };
}

/**
 * Kubernetes' defaults of a Deployment's `strategy` and a DaemonSet's
 * `updateStrategy`: `RollingUpdate` unless set, with `maxSurge` and
 * `maxUnavailable` filled in; the kind's other type (`Recreate`, `OnDelete`) as it is.
 */
export function defaultRollingStrategy<S extends RollingStrategy>(
  strategy: S | undefined,
  defaults: { maxSurge: number | string; maxUnavailable: number | string },
): S {
  const type = strategy?.type ?? "RollingUpdate";
  if (type !== "RollingUpdate") return { ...strategy, type } as S;
  const rollingUpdate = strategy?.rollingUpdate;
  return {
    ...strategy,
    type,
    rollingUpdate: {
      ...rollingUpdate,
      maxSurge: rollingUpdate?.maxSurge ?? defaults.maxSurge,
      maxUnavailable: rollingUpdate?.maxUnavailable ?? defaults.maxUnavailable,
    },
  } as S;
}
