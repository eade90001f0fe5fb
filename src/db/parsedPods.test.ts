import { describe, expect, it } from "vitest";
import type { PodRecord } from "./index.js";
import { ParsedPods } from "./sqlStore.js";

/** The parsed pods a SqlStore keeps between lists (src/db/sqlStore.ts): by version, frozen, bounded. */
describe("ParsedPods", () => {
  const pod = (id: string, version: number) =>
    ({ id, resourceVersion: String(version), spec: { containers: [] }, status: {} }) as unknown as PodRecord;

  it("hands out a kept record only at the version it was kept at, frozen to the last level", () => {
    const parsed = new ParsedPods(10);
    const kept = parsed.keep(pod("a", 1));
    expect(parsed.get("a", 1)).toBe(kept);
    expect(parsed.get("a", 2)).toBeUndefined();
    expect(parsed.get("b", 1)).toBeUndefined();
    expect(Object.isFrozen(kept)).toBe(true);
    expect(Object.isFrozen(kept.spec)).toBe(true);
  });

  it("keeps no more than its floor while lists are short, then starts afresh", () => {
    const parsed = new ParsedPods(10);
    parsed.listed(3);
    for (let i = 0; i < 10; i++) parsed.keep(pod(`p${i}`, 1));
    expect(parsed.size).toBe(10);
    parsed.keep(pod("p10", 1));
    expect(parsed.size).toBe(1);
    expect(parsed.get("p10", 1)).toBeDefined();
    expect(parsed.get("p0", 1)).toBeUndefined();
  });

  it("keeps up to twice the longest list when that is above the floor", () => {
    const parsed = new ParsedPods(10);
    parsed.listed(15);
    for (let i = 0; i < 30; i++) parsed.keep(pod(`p${i}`, 1));
    expect(parsed.size).toBe(30);
    parsed.keep(pod("p30", 1));
    expect(parsed.size).toBe(1);
  });

  it("forgets the pods a complete list no longer shows", () => {
    const parsed = new ParsedPods(10);
    for (const id of ["a", "b", "c"]) parsed.keep(pod(id, 1));
    parsed.forget([{ id: "a" }, { id: "c" }]);
    expect(parsed.size).toBe(2);
    expect(parsed.get("b", 1)).toBeUndefined();
    expect(parsed.get("c", 1)).toBeDefined();
  });
});
