/**
 * Resolves a Kubernetes IntOrString (`3` or `"25%"`) against a total. Percentages
 * round up for surge and down for unavailability, as Kubernetes rounds them.
 */
export function resolveIntOrPercent(value: number | string | undefined, total: number, roundUp: boolean): number {
  if (value === undefined) return 0;
  if (typeof value === "number") return value;
  const percent = Number(value.replace(/%$/, ""));
  if (!Number.isFinite(percent)) return 0;
  const exact = (percent * total) / 100;
  return roundUp ? Math.ceil(exact) : Math.floor(exact);
}

/** maxSurge and maxUnavailable of a rolling update; both zero would stall, so unavailable becomes 1 (as Kubernetes). */
export function rollingBounds(
  replicas: number,
  rollingUpdate: { maxSurge?: number | string; maxUnavailable?: number | string } | undefined,
): { maxSurge: number; maxUnavailable: number } {
  const maxSurge = resolveIntOrPercent(rollingUpdate?.maxSurge ?? "25%", replicas, true);
  let maxUnavailable = resolveIntOrPercent(rollingUpdate?.maxUnavailable ?? "25%", replicas, false);
  if (maxSurge === 0 && maxUnavailable === 0) maxUnavailable = 1;
  return { maxSurge, maxUnavailable: Math.min(maxUnavailable, replicas) };
}
