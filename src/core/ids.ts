import type { Clock } from "./clock.js";
import type { Rng } from "./rng.js";

const CROCKFORD = "0123456789abcdefghjkmnpqrstvwxyz";

/**
 * Prefixed, sortable ids (`pod_01hx…`): 10 characters of milliseconds, then 12
 * random ones, in Crockford base32, so ids sort by creation time and never collide
 * in practice. Time and chance come from the injected `Clock` and `Rng`.
 */
export function newId(prefix: string, clock: Clock, rng: Rng): string {
  let time = clock.now();
  let timePart = "";
  for (let i = 0; i < 10; i++) {
    timePart = CROCKFORD[time % 32] + timePart;
    time = Math.floor(time / 32);
  }
  let randomPart = "";
  for (let i = 0; i < 12; i++) randomPart += CROCKFORD[rng.int(32)];
  return `${prefix}_${timePart}${randomPart}`;
}

/** A Kubernetes uid (RFC 4122 version 4 layout) drawn from the injected `Rng`. */
export function newUid(rng: Rng): string {
  const hex = Array.from({ length: 32 }, () => rng.int(16).toString(16));
  hex[12] = "4";
  hex[16] = ((rng.int(4) + 8) as number).toString(16);
  const s = hex.join("");
  return `${s.slice(0, 8)}-${s.slice(8, 12)}-${s.slice(12, 16)}-${s.slice(16, 20)}-${s.slice(20)}`;
}

const NAME_ALPHABET = "bcdfghjklmnpqrstvwxz2456789";

/** The random suffix Kubernetes appends for `generateName` (5 characters, no vowels). */
export function nameSuffix(rng: Rng, length = 5): string {
  let s = "";
  for (let i = 0; i < length; i++) s += NAME_ALPHABET[rng.int(NAME_ALPHABET.length)];
  return s;
}
