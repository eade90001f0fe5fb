/**
 * Which hostnames a tenant may route, and which ones an Ingress names. Pure: the
 * API's admission (src/http/hosts.ts) and the route table both decide with these.
 */

/** The platform object that records one tenant's hold on one hostname (in the `system` tenant, named by the host). */
export const HOST_CLAIM_KIND = "HostClaim";
/** The platform object that lists the custom domains the operator approved for one tenant (named by the tenant). */
export const TENANT_DOMAINS_KIND = "TenantDomains";

export interface HostClaimSpec {
  tenantId: string;
}

/** The hosts an Ingress spec's rules name, each with the path of its field (`spec.rules[2].host`), in order. */
export function ruleHosts(spec: Record<string, unknown> | undefined): { host: string; path: string }[] {
  const rules = (spec?.rules as { host?: unknown }[] | undefined) ?? [];
  return rules.flatMap((rule, i) =>
    typeof rule?.host === "string" && rule.host !== "" ? [{ host: rule.host, path: `spec.rules[${i}].host` }] : [],
  );
}

/** The distinct hosts an Ingress spec names. */
export function hostsOf(spec: Record<string, unknown> | undefined): string[] {
  return [...new Set(ruleHosts(spec).map((h) => h.host))];
}

/**
 * What one tenant may claim: everything under its own suffix of the platform's
 * base domain (`acme.apps.example` and `*.acme.apps.example`, at any depth), and
 * the custom domains the operator approved for it. An approved `shop.example.com`
 * allows that host only; an approved `*.example.com` allows every name under
 * `example.com` (and the wildcard itself), but not `example.com`.
 */
export interface HostAllowance {
  /** `acme.apps.example`; absent when the operator configured no base domain. */
  suffix?: string;
  approved: readonly string[];
}

export function allowanceFor(tenantName: string, baseDomain: string | undefined, approved: readonly string[]) {
  return { ...(baseDomain ? { suffix: `${tenantName}.${baseDomain}` } : {}), approved } satisfies HostAllowance;
}

const under = (host: string, domain: string) => host === domain || host.endsWith(`.${domain}`);

export function isAllowed(host: string, allowance: HostAllowance): boolean {
  const name = host.toLowerCase();
  if (allowance.suffix && under(name, allowance.suffix)) return true;
  return allowance.approved.some((entry) =>
    entry.startsWith("*.") ? name !== entry.slice(2) && under(name, entry.slice(2)) : name === entry,
  );
}

/** The allowance in words, for the refusal: `*.acme.apps.example (or acme.apps.example)` and the approved domains. */
export function describeAllowance(allowance: HostAllowance): string {
  const parts = [
    ...(allowance.suffix ? [`*.${allowance.suffix} (or ${allowance.suffix} itself)`] : []),
    ...allowance.approved,
  ];
  return parts.length > 0 ? parts.join(", ") : "no domain (the operator has approved none for this tenant)";
}

/** A custom domain the operator may approve: a DNS name, optionally `*.` first; lower case. */
export function isDomainPattern(value: string): boolean {
  const name = value.startsWith("*.") ? value.slice(2) : value;
  if (name.length === 0 || name.length > 253) return false;
  return name
    .split(".")
    .every((label) => label.length > 0 && label.length <= 63 && /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/.test(label));
}
