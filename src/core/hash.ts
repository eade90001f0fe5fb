/**
 * Stable hashing of plain data, used for `pod-template-hash`. Objects are
 * serialised with sorted keys so that the same template always gives the same
 * hash, then hashed with 32-bit FNV-1a (what Kubernetes uses for the same label)
 * and encoded with Kubernetes' vowel-free alphabet so the hash never spells a word.
 */
export function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(",")}]`;
  if (value && typeof value === "object") {
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(",")}}`;
  }
  return JSON.stringify(value) ?? "null";
}

/**
 * `canonicalJson(a) === canonicalJson(b)`, without building either string: the same rules (keys
 * whose value is undefined do not count, key order does not matter, primitives compare as their
 * JSON), walked in step and stopping at the first difference. Statuses are compared this way on
 * every observation, where the strings were most of the cost; the same object (records are frozen)
 * is equal at once.
 */
export function canonicalEqual(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  const aObject = a !== null && typeof a === "object";
  const bObject = b !== null && typeof b === "object";
  if (!aObject && !bObject) return (JSON.stringify(a) ?? "null") === (JSON.stringify(b) ?? "null");
  if (!aObject || !bObject) return false;
  if (Array.isArray(a) || Array.isArray(b)) {
    if (!Array.isArray(a) || !Array.isArray(b) || a.length !== b.length) return false;
    for (let i = 0; i < a.length; i++) if (!canonicalEqual(a[i], b[i])) return false;
    return true;
  }
  const aRecord = a as Record<string, unknown>;
  const bRecord = b as Record<string, unknown>;
  let aKeys = 0;
  for (const key of Object.keys(aRecord)) {
    if (aRecord[key] === undefined) continue;
    aKeys++;
    const bValue = bRecord[key];
    if (bValue === undefined || !Object.prototype.propertyIsEnumerable.call(bRecord, key)) return false;
    if (!canonicalEqual(aRecord[key], bValue)) return false;
  }
  let bKeys = 0;
  for (const key of Object.keys(bRecord)) if (bRecord[key] !== undefined) bKeys++;
  return aKeys === bKeys;
}

export function fnv1a32(text: string): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    hash ^= text.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193);
  }
  return hash >>> 0;
}

const SAFE_ALPHABET = "bcdfghjklmnpqrstvwxz2456789";

export function safeEncode(n: number): string {
  let out = "";
  let rest = n;
  do {
    out = SAFE_ALPHABET[rest % SAFE_ALPHABET.length] + out;
    rest = Math.floor(rest / SAFE_ALPHABET.length);
  } while (rest > 0);
  return out;
}

/** Hashes of frozen templates: a store's records are deep-frozen (`src/db/frozen.ts`), so each is hashed once. */
const frozenTemplateHashes = new WeakMap<object, string>();

/** The `pod-template-hash` of a pod template. */
export function templateHash(template: unknown): string {
  const frozen = typeof template === "object" && template !== null && Object.isFrozen(template);
  const known = frozen ? frozenTemplateHashes.get(template) : undefined;
  if (known !== undefined) return known;
  const hash = safeEncode(fnv1a32(canonicalJson(template)));
  if (frozen) frozenTemplateHashes.set(template, hash);
  return hash;
}
