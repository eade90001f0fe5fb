import { describe, expect, it } from "vitest";
import { isoTime, ManualClock } from "./clock.js";
import { canonicalEqual, canonicalJson, templateHash } from "./hash.js";
import { newId, newUid } from "./ids.js";
import { matchesSelector, parseSelectorString } from "./labels.js";
import { cpuMillis, formatBytes, formatCpu, memoryBytes } from "./quantity.js";
import { seededRng } from "./rng.js";

describe("quantities", () => {
  it("parses cpu into millicores, rounding up", () => {
    expect(cpuMillis("100m")).toBe(100);
    expect(cpuMillis("0.5")).toBe(500);
    expect(cpuMillis(2)).toBe(2000);
    expect(cpuMillis("1.0005")).toBe(1001);
  });
  it("parses memory into bytes", () => {
    expect(memoryBytes("100Mi")).toBe(100 * 2 ** 20);
    expect(memoryBytes("1G")).toBe(1e9);
    expect(memoryBytes("129e6")).toBe(129e6);
    expect(memoryBytes("1.5Gi")).toBe(1.5 * 2 ** 30);
  });
  it("formats for people", () => {
    expect(formatCpu(250)).toBe("250m CPU");
    expect(formatCpu(3500)).toBe("3.5 CPU");
    expect(formatBytes(3.5 * 2 ** 30)).toBe("3.5 GiB");
  });
});

describe("canonicalEqual", () => {
  it("answers as comparing canonicalJson strings would, without building them", () => {
    const values: unknown[] = [
      null,
      undefined,
      Number.NaN,
      0,
      -0,
      1,
      "1",
      true,
      [],
      [1, 2],
      [2, 1],
      [null],
      [undefined],
      {},
      { a: undefined },
      { a: 1, b: { c: [1, { d: "x" }] } },
      { b: { c: [1, { d: "x" }] }, a: 1 },
      { a: 1, b: { c: [1, { d: "y" }] } },
      { a: 1, b: { c: [1, { d: "x" }] }, e: undefined },
      { a: 1, b: { c: [1, { d: "x", e: null }] } },
    ];
    for (const a of values) {
      for (const b of values)
        expect(canonicalEqual(a, b), `${canonicalJson(a)} vs ${canonicalJson(b)}`).toBe(
          canonicalJson(a) === canonicalJson(b),
        );
    }
  });
});

describe("rng", () => {
  it("replays the same sequence for the same seed, and forks are independent of later draws", () => {
    const a = seededRng("seed-1");
    const b = seededRng("seed-1");
    expect([a.next(), a.next(), a.int(100)]).toEqual([b.next(), b.next(), b.int(100)]);
    expect(seededRng("seed-1").next()).not.toBe(seededRng("seed-2").next());
    const forkBefore = seededRng("s").fork("latency").next();
    const parent = seededRng("s");
    parent.next();
    expect(parent.fork("latency").next()).toBe(forkBefore);
  });
  it("is roughly uniform", () => {
    const rng = seededRng(42);
    const buckets = [0, 0, 0, 0];
    for (let i = 0; i < 4000; i++) {
      const bucket = rng.int(4);
      buckets[bucket] = (buckets[bucket] ?? 0) + 1;
    }
    for (const n of buckets) expect(n).toBeGreaterThan(900);
  });
});

describe("ids", () => {
  it("are prefixed, sortable by time, and deterministic for a seed", () => {
    const clock = new ManualClock(1_000);
    const rng = seededRng(1);
    const first = newId("pod", clock, rng);
    clock.advance(1);
    const second = newId("pod", clock, rng);
    expect(first).toMatch(/^pod_[0-9a-z]{22}$/);
    expect(first < second).toBe(true);
    expect(newId("pod", new ManualClock(1_000), seededRng(1))).toBe(first);
    expect(newUid(seededRng(3))).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
  });
});

describe("manual clock", () => {
  it("fires timers in time order only when advanced", () => {
    const clock = new ManualClock(0);
    const fired: string[] = [];
    clock.setTimer(20, () => fired.push("b"));
    clock.setTimer(10, () => fired.push("a"));
    const cancel = clock.setTimer(15, () => fired.push("never"));
    cancel();
    clock.advance(5);
    expect(fired).toEqual([]);
    clock.advance(20);
    expect(fired).toEqual(["a", "b"]);
    expect(clock.now()).toBe(25);
  });

  it("fires thousands of timers in time order, then in the order set, skipping cancelled ones", () => {
    const clock = new ManualClock(0);
    const rng = seededRng("heap");
    const fired: number[] = [];
    const expected: { atMs: number; seq: number }[] = [];
    const cancels: (() => void)[] = [];
    for (let seq = 0; seq < 5_000; seq++) {
      const atMs = rng.int(1_000);
      cancels.push(clock.setTimer(atMs, () => fired.push(seq)));
      expected.push({ atMs, seq });
    }
    // Cancel most of them, so the heap is rebuilt on the way, and a few twice.
    const cancelled = new Set<number>();
    for (let seq = 0; seq < 5_000; seq += 1) {
      if (seq % 5 === 0) continue;
      cancels[seq]?.();
      if (seq % 7 === 0) cancels[seq]?.();
      cancelled.add(seq);
    }
    expect(clock.pendingTimers()).toBe(1_000);
    clock.advance(499);
    const order = expected
      .filter((t) => !cancelled.has(t.seq))
      .sort((a, b) => a.atMs - b.atMs || a.seq - b.seq)
      .map((t) => t.seq);
    const firstHalf = order.filter((seq) => (expected[seq]?.atMs ?? 0) <= 499);
    expect(fired).toEqual(firstHalf);
    expect(clock.nextTimerAt()).toBe(expected[order[firstHalf.length] ?? 0]?.atMs);
    clock.advance(1_000);
    expect(fired).toEqual(order);
    expect(clock.pendingTimers()).toBe(0);
    expect(clock.nextTimerAt()).toBeUndefined();
  });

  it("fires a timer set by a firing timer at the same instant after those already due", () => {
    const clock = new ManualClock(0);
    const fired: string[] = [];
    clock.setTimer(10, () => {
      fired.push("a");
      clock.setTimer(0, () => fired.push("c"));
    });
    clock.setTimer(10, () => fired.push("b"));
    clock.advance(10);
    expect(fired).toEqual(["a", "b", "c"]);
  });
});

describe("labels", () => {
  it("matches selectors and parses the query form", () => {
    const labels = { app: "web", tier: "frontend" };
    expect(matchesSelector(labels, { matchLabels: { app: "web" } })).toBe(true);
    expect(
      matchesSelector(labels, { matchExpressions: [{ key: "tier", operator: "NotIn", values: ["frontend"] }] }),
    ).toBe(false);
    const parsed = parseSelectorString("app=web,tier in (frontend,backend),!canary");
    expect("selector" in parsed && matchesSelector(labels, parsed.selector)).toBe(true);
    const other = parseSelectorString("app!=web");
    expect("selector" in other && matchesSelector(labels, other.selector)).toBe(false);
    expect("error" in parseSelectorString("a=(b")).toBe(true);
  });
  it("hashes templates independent of key order", () => {
    expect(templateHash({ a: 1, b: { c: 2, d: 3 } })).toBe(templateHash({ b: { d: 3, c: 2 }, a: 1 }));
    expect(templateHash({ a: 1 })).not.toBe(templateHash({ a: 2 }));
  });
  it("hashes a frozen template once, and a template that may change each time", () => {
    let reads = 0;
    const spec = Object.freeze({ containers: Object.freeze([Object.freeze({ name: "web", image: "web:1" })]) });
    const counted = new Proxy(spec, {
      get(target, key, receiver) {
        reads += 1;
        return Reflect.get(target, key, receiver);
      },
    });
    const hash = templateHash(counted);
    expect(hash).toBe(templateHash({ containers: [{ image: "web:1", name: "web" }] }));
    reads = 0;
    expect(templateHash(counted)).toBe(hash);
    expect(reads).toBe(0);
    const open = { containers: [{ name: "web", image: "web:1" }] };
    expect(templateHash(open)).toBe(hash);
    (open.containers[0] as { image: string }).image = "web:2";
    expect(templateHash(open)).not.toBe(hash);
  });
});

describe("isoTime", () => {
  it("writes each time as Date does, asked once or again and again", () => {
    for (const ms of [0, 1_767_225_600_123, 1_767_225_600_123, 1, 0, 86_399_999]) {
      expect(isoTime(ms)).toBe(new Date(ms).toISOString());
    }
  });
});
