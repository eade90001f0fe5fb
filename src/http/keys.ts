import { createHash, randomBytes } from "node:crypto";

/**
 * API keys: 32 random bytes from the operating system's CSPRNG (secrets are not
 * seeded: the Rng is for replayable choices, never for credentials), shown once,
 * stored only as a SHA-256 hash. A fast hash suffices for 256-bit random keys.
 */
export function generateApiKey(): string {
  return `kn_${randomBytes(32).toString("base64url")}`;
}

export function hashApiKey(key: string): string {
  return createHash("sha256").update(key).digest("hex");
}

export function keyPrefix(key: string): string {
  return key.slice(0, 10);
}
