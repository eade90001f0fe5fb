import { KINDS, RESERVED_NAMESPACES as RESERVED } from "../manifest/index.js";

/** A Kubernetes resource served on the generic REST paths (objects stored whole, reconciled by their controller). */
export interface ResourceType {
  kind: string;
  apiVersion: string;
  plural: string;
  /** `/apis/apps/v1` or `/api/v1`. */
  prefix: string;
  /** Written only with the admin key (DaemonSets run on every node: an operator's tool). */
  operatorOnly: boolean;
}

/** Kinds whose content sits at the top level of the object, not under `spec` (stored in the spec column all the same). */
export const TOP_LEVEL_KINDS = new Set(["ConfigMap", "Secret", "ServiceAccount", "Endpoints"]);

/** Kinds a tenant may not write; they get 403 naming the kind. */
export const OPERATOR_ONLY_KINDS = new Set(["DaemonSet"]);

/** Pods live in their own table; Namespaces are the tenant's folders; Apps expand into other kinds. */
const SERVED_APART = new Set(["Pod", "Namespace", "App"]);

export function apiPrefix(apiVersion: string): string {
  return apiVersion === "v1" ? "/api/v1" : `/apis/${apiVersion}`;
}

export const RESOURCES: ResourceType[] = KINDS.filter((k) => !SERVED_APART.has(k.kind)).map((k) => ({
  kind: k.kind,
  apiVersion: k.apiVersion,
  plural: k.plural,
  prefix: apiPrefix(k.apiVersion),
  operatorOnly: OPERATOR_ONLY_KINDS.has(k.kind),
}));

export const RESERVED_NAMESPACES = new Set(RESERVED);

const DNS_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;

export function isDnsLabel(name: string): boolean {
  return name.length <= 63 && DNS_LABEL.test(name);
}
