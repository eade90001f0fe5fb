/**
 * The route table's input, read from the store: every tenant's Ingresses,
 * Services and Endpoints, the host claims, and the Secrets Ingress `tls` entries name. Reading is the only I/O here;
 * the table itself is built by the pure `buildRouteTable`.
 */
import { SYSTEM_TENANT } from "../core/tenancy.js";
import type { StoredObject, StoreOps } from "../db/types.js";
import { HOST_CLAIM_KIND, type HostClaimSpec } from "./hosts.js";
import {
  buildRouteTable,
  type EndpointsInput,
  type IngressInput,
  type Reach,
  type RouteTable,
  type RoutingInput,
  type SecretInput,
  type ServiceInput,
} from "./table.js";

type RoutingStore = Pick<StoreOps, "listTenants" | "listObjects">;

/** How endpoints are reached (`RoutingInput.reach`) and when certificates are judged (`RoutingInput.nowMs`). */
export interface RoutingView {
  reach?: Reach;
  nowMs?: number;
}

export async function loadRoutingInput(store: RoutingStore, view: RoutingView = {}): Promise<RoutingInput> {
  const tenants = await store.listTenants();
  const names = new Map(tenants.map((t) => [t.id, t.name]));
  const systemId = tenants.find((t) => t.name === SYSTEM_TENANT)?.id;
  const [ingresses, services, endpoints, claims] = await Promise.all([
    store.listObjects({ kind: "Ingress" }),
    store.listObjects({ kind: "Service" }),
    store.listObjects({ kind: "Endpoints" }),
    systemId ? store.listObjects({ kind: HOST_CLAIM_KIND, tenantId: systemId }) : Promise.resolve([]),
  ]);
  // An object whose tenant is gone is not routed.
  const sourceOf = (o: StoredObject) => source(o, names);
  const known = (o: StoredObject) => names.has(o.tenantId);
  const ingressInputs = ingresses.filter(known).map((o) => ({
    ...sourceOf(o),
    tenantId: o.tenantId,
    spec: o.spec as IngressInput["spec"],
  }));
  return {
    ingresses: ingressInputs.map(({ tenantId: _id, ...ingress }) => ingress),
    services: services.filter(known).map((o) => ({ ...sourceOf(o), spec: o.spec as ServiceInput["spec"] })),
    endpoints: endpoints
      .filter(known)
      .map((o) => ({ ...sourceOf(o), subsets: (o.spec.subsets ?? []) as EndpointsInput["subsets"] })),
    claims: Object.fromEntries(
      claims.flatMap((c) => {
        const holder = names.get((c.spec as unknown as HostClaimSpec).tenantId);
        return holder ? [[c.name, holder]] : [];
      }),
    ),
    secrets: await tlsSecrets(store, ingressInputs, names),
    ...(view.reach ? { reach: view.reach } : {}),
    ...(view.nowMs !== undefined ? { nowMs: view.nowMs } : {}),
  };
}

/**
 * The Secrets that Ingress `tls` entries name, each looked up in the Ingress's own tenant and
 * namespace (so no tenant can name another's), one listing per namespace that names any.
 */
async function tlsSecrets(
  store: Pick<StoreOps, "listObjects">,
  ingresses: readonly (IngressInput & { tenantId: string })[],
  names: Map<string, string>,
): Promise<SecretInput[]> {
  const wanted = new Map<string, { tenantId: string; namespace: string; names: Set<string> }>();
  for (const ingress of ingresses) {
    for (const entry of ingress.spec.tls ?? []) {
      if (!entry.secretName) continue;
      const key = `${ingress.tenantId}/${ingress.namespace}`;
      const scope = wanted.get(key) ?? { tenantId: ingress.tenantId, namespace: ingress.namespace, names: new Set() };
      scope.names.add(entry.secretName);
      wanted.set(key, scope);
    }
  }
  const found = await Promise.all(
    [...wanted.values()].map(async (scope) => {
      const objects = await store.listObjects({ kind: "Secret", tenantId: scope.tenantId, namespace: scope.namespace });
      return objects
        .filter((o) => scope.names.has(o.name))
        .map((o): SecretInput => ({ ...source(o, names), ...secretData(o) }));
    }),
  );
  return found.flat();
}

const source = (o: StoredObject, names: Map<string, string>) => ({
  tenant: names.get(o.tenantId) ?? "",
  namespace: o.namespace,
  name: o.name,
});

const secretData = (o: StoredObject) => ({
  type: String(o.spec.type ?? "Opaque"),
  data: (o.spec.data ?? {}) as Record<string, string>,
});

/**
 * A tenant's certificate and key, as its Secret holds them now (the publisher reads them when it
 * writes the proxy's certificate files; the route table carries only their fingerprint).
 * `ref` is the table's `tenant/namespace/name`; undefined when there is no such Secret.
 */
export async function loadTlsSecret(
  store: Pick<StoreOps, "getTenantByName" | "getObject">,
  ref: string,
): Promise<{ type: string; data: Record<string, string> } | undefined> {
  const [tenant, namespace, name] = ref.split("/");
  if (!tenant || !namespace || !name) return undefined;
  const record = await store.getTenantByName(tenant);
  if (!record) return undefined;
  const object = await store.getObject({ tenantId: record.id, kind: "Secret", namespace, name });
  return object ? secretData(object) : undefined;
}

/** The table as the store holds it now, seen as `view` says. */
export async function currentRouteTable(store: RoutingStore, view: RoutingView = {}): Promise<RouteTable> {
  return buildRouteTable(await loadRoutingInput(store, view));
}
