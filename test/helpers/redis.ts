/** Redis for tests: its URL, whether it answers, and the CI rule for suites that need it. */
import { Redis } from "ioredis";
import { describe, expect, it } from "vitest";

export const redisUrl = process.env.REDIS_URL || "redis://127.0.0.1:6379";

/** Whether Redis answers PING within 3 s. */
export async function isRedisReachable(url = redisUrl): Promise<boolean> {
  const redis = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
  redis.on("error", () => {});
  try {
    await redis.connect();
    return (await redis.ping()) === "PONG";
  } catch {
    return false;
  } finally {
    redis.disconnect();
  }
}

/** Like describePostgres (test/helpers/db.ts): the suite when Redis answers; failing under CI=true, skipped elsewhere. */
export function describeRedis(title: string, reachable: boolean, suite: () => void): void {
  if (reachable) {
    describe(title, suite);
  } else if (process.env.CI === "true") {
    describe(title, () => {
      it("reaches Redis (required when CI=true)", () => {
        expect.fail(`Redis is unreachable at ${redisUrl}; with CI=true this fails rather than skips`);
      });
    });
  } else {
    describe.skip(`${title} — skipped, Redis is unreachable at ${redisUrl}`, () => {
      it("needs Redis", () => {});
    });
  }
}

/** Deletes every key under `prefix` (a test's own queues), in bounded batches. */
export async function dropRedisPrefix(prefix: string, url = redisUrl): Promise<void> {
  const redis = new Redis(url, { maxRetriesPerRequest: 1 });
  try {
    let cursor = "0";
    for (let i = 0; i < 100_000; i++) {
      const [next, keys] = await redis.scan(cursor, "MATCH", `${prefix}*`, "COUNT", 1000);
      if (keys.length > 0) await redis.del(...keys);
      cursor = next;
      if (cursor === "0") break;
    }
  } finally {
    redis.disconnect();
  }
}
