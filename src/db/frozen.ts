/**
 * Deep-freezes a record a store keeps, children first, so a frozen object's descendants are frozen
 * too and an already frozen part (shared with the record it replaces) is not walked again. Kept
 * records are handed out as they are: a caller that tried to change one would throw instead of
 * changing what others read, so reads copy nothing.
 */
export function deepFreeze<T>(value: T): T {
  if (value === null || typeof value !== "object" || Object.isFrozen(value)) return value;
  for (const key of Object.keys(value)) deepFreeze((value as Record<string, unknown>)[key]);
  return Object.freeze(value);
}
