/**
 * The route table's input, read from the store: every tenant's Ingresses,
 * Services and Endpoints, and the host claims. Reading is the only I/O here;
 * the table itself is built by the pure `buildRouteTable`.
 */
import { SYSTEM_TENANT } from "../core/tenancy.js";
import type { StoredObject, StoreOps } from "../db/types.js";
import { HOST_CLAIM_KIND, type HostClaimSpec } from "./hosts.js";
import {
  buildRouteTable,
  type EndpointsInput,
  type IngressInput,
  type RouteTable,
  type RoutingInput,
  type ServiceInput,
} from "./table.js";

export async function loadRoutingInput(store: Pick<StoreOps, "listTenants" | "listObjects">): Promise<RoutingInput> {
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
  const source = (o: StoredObject) => ({ tenant: names.get(o.tenantId) ?? "", namespace: o.namespace, name: o.name });
  const known = (o: StoredObject) => names.has(o.tenantId);
  return {
    ingresses: ingresses.filter(known).map((o) => ({ ...source(o), spec: o.spec as IngressInput["spec"] })),
    services: services.filter(known).map((o) => ({ ...source(o), spec: o.spec as ServiceInput["spec"] })),
    endpoints: endpoints
      .filter(known)
      .map((o) => ({ ...source(o), subsets: (o.spec.subsets ?? []) as EndpointsInput["subsets"] })),
    claims: Object.fromEntries(
      claims.flatMap((c) => {
        const holder = names.get((c.spec as unknown as HostClaimSpec).tenantId);
        return holder ? [[c.name, holder]] : [];
      }),
    ),
  };
}

/** The table as the store holds it now. */
export async function currentRouteTable(store: Pick<StoreOps, "listTenants" | "listObjects">): Promise<RouteTable> {
  return buildRouteTable(await loadRoutingInput(store));
}
