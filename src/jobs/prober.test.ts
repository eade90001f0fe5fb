import { describe, expect, it } from "vitest";
import { countingCalls } from "../../test/helpers/counting.js";
import { ManualClock } from "../core/clock.js";
import { seededRng } from "../core/rng.js";
import { MemoryStore } from "../db/memoryStore.js";
import type { NewPod } from "../db/types.js";
import type { NodeProvider } from "../providers/types.js";
import type { JobContext } from "./context.js";
import { Prober } from "./prober.js";
import type { WorkQueue } from "./queue.js";

const T0 = Date.UTC(2026, 0, 1);

/** A pod whose one container runs since `startedAtMs`, with a readiness probe every 10 s. */
function runningPod(i: number, startedAtMs: number): NewPod {
  const container = {
    name: "web",
    image: "web:1",
    readinessProbe: { httpGet: { path: "/healthz", port: 8080 }, periodSeconds: 10 },
  };
  const status = {
    phase: "Running",
    conditions: [],
    containerStatuses: [
      {
        ...{ name: "web", image: "web:1", containerID: `c-${i}`, ready: false, started: true, restartCount: 0 },
        ...{ state: { running: { startedAt: new Date(startedAtMs).toISOString() } }, lastState: {} },
      },
    ],
  };
  return {
    ...{ id: `pod_${i}`, tenantId: "ten_a", namespace: "default", name: `web-${i}`, uid: `uid-${i}` },
    ...{ ownerKind: null, ownerName: null, ownerUid: null, labels: {}, annotations: {}, templateHash: null },
    ...{ spec: { containers: [container] }, cpuMillis: 10, memoryBytes: 2 ** 20, createdAt: T0, status },
  };
}

/** Running pods that started 1 s apart, a prober over them (woken, as the simulator runs it, or ticking, as production does), and the probes it ran (pod ids, in order). */
async function setup(count: number, maxProbesPerTick: number, wakeOnly = true, tickMs = 100) {
  const clock = new ManualClock(T0);
  const store = new MemoryStore();
  await store.upsertNode(
    {
      ...{ name: "n1", provider: "simulated", address: "192.0.2.1", labels: {}, cpuMillis: 4_000 },
      ...{ memoryBytes: 2 ** 33, maxPods: 110, ready: true, unschedulable: false, lastHeartbeatAt: T0 },
    },
    T0,
  );
  /** Pod `i`, bound to n1 and recorded running since `startedAtMs`. */
  const addRunning = async (i: number, startedAtMs: number) => {
    const pod = await store.createPod(runningPod(i, startedAtMs));
    await store.bindPod(pod.id, "n1", T0);
    await store.updatePodStatus(
      pod.id,
      { phase: "Running", ready: false, status: runningPod(i, startedAtMs).status ?? {} },
      { nowMs: clock.now() },
    );
    return pod.id;
  };
  for (let i = 0; i < count; i++) await addRunning(i, T0 + i * 1_000);
  const probed: string[] = [];
  /** Answers of probes held back (`hold`), released in order by `release`. */
  const held: (() => void)[] = [];
  let hold = false;
  /** Answers to come (`true`: success), then successes. */
  const answers: boolean[] = [];
  const provider = {
    probe: async (_node: string, podId: string) => {
      probed.push(podId);
      if (hold) await new Promise<void>((resolve) => held.push(resolve));
      return (answers.shift() ?? true) ? { ok: true } : { ok: false, message: "HTTP 503" };
    },
  } as unknown as NodeProvider;
  /** Event writes held back (`holdEvents`), released together by `releaseEvents`. */
  const heldEvents: (() => void)[] = [];
  let holdingEvents = false;
  const recordEvent = store.recordEvent.bind(store);
  store.recordEvent = async (event) => {
    if (holdingEvents) await new Promise<void>((resolve) => heldEvents.push(resolve));
    return recordEvent(event);
  };
  const holdEvents = (on: boolean) => {
    holdingEvents = on;
  };
  const releaseEvents = () => {
    for (const resolve of heldEvents.splice(0)) resolve();
  };
  const queue: WorkQueue = { enqueue: async () => {}, register() {}, async close() {} };
  const calls: string[] = [];
  const ctx: JobContext = {
    ...{ store: countingCalls(store, calls), queue, provider, clock, rng: seededRng("prober") },
    ...{ schedulingPolicy: "spread", unschedulableRetryMs: 500, log: () => {} },
  };
  const prober = new Prober(ctx, { tickMs, maxProbesPerTick, wakeOnly });
  const settle = async () => {
    for (let i = 0; i < 50; i++) await new Promise((resolve) => setImmediate(resolve));
  };
  /** Moves virtual time tick by tick, letting the prober run between. */
  const advance = async (ms: number) => {
    for (let elapsed = 0; elapsed < ms; elapsed += 100) {
      clock.advance(100);
      await settle();
    }
  };
  const holdAnswers = (on: boolean) => {
    hold = on;
  };
  const release = () => held.shift()?.();
  return {
    clock,
    store,
    addRunning,
    prober,
    probed,
    calls,
    advance,
    settle,
    holdAnswers,
    release,
    answers,
    holdEvents,
    releaseEvents,
  };
}

describe("the prober", () => {
  it("starts the most overdue probes first, no more at once than its bound, the next as soon as one ends", async () => {
    const { prober, probed, advance, settle, holdAnswers, release } = await setup(3, 2);
    // Every pod's first probe is due by now: at 0 s, 1 s and 2 s.
    await advance(5_000);
    holdAnswers(true);
    prober.start();
    await advance(100);
    expect(probed).toEqual(["pod_0", "pod_1"]);
    // The first answer makes room for the third probe at once, before the next tick.
    release();
    await settle();
    expect(probed).toEqual(["pod_0", "pod_1", "pod_2"]);
    holdAnswers(false);
    release();
    release();
    await advance(100);
    // Each is probed again one period after it was due, in that order.
    probed.length = 0;
    await advance(10_000);
    expect(probed).toEqual(["pod_0", "pod_1", "pod_2"]);
    await prober.stop();
  });

  it("keeps probing a run whose next probe fell due while the last one's failure was still being written", async () => {
    const { prober, probed, advance, answers, holdEvents, releaseEvents } = await setup(1, 10, false);
    answers.push(false);
    holdEvents(true);
    prober.start();
    await advance(100);
    expect(probed).toEqual(["pod_0"]);
    // The failure's event takes longer to write than the probe's period (10 s): the next probe falls due meanwhile.
    await advance(12_000);
    expect(probed).toEqual(["pod_0"]);
    holdEvents(false);
    releaseEvents();
    await advance(100);
    // The probe due while the first was being handled runs once that handling ends, and the period goes on.
    await advance(25_000);
    expect(probed.length).toBeGreaterThanOrEqual(3);
    await prober.stop();
  });

  it("woken with the pods that changed, reads only those, and forgets the runs of a pod that is gone", async () => {
    const { store, prober, probed, calls, advance } = await setup(3, 10);
    prober.start();
    await advance(3_000);
    // The first look reads every pod.
    expect(calls.filter((c) => c === "listPods")).toEqual(["listPods"]);
    calls.length = 0;
    await store.deletePod("pod_1");
    prober.wake(["pod_1"]);
    await advance(100);
    expect(calls).not.toContain("listPods");
    expect(calls).toContain("getPods");
    probed.length = 0;
    await advance(10_000);
    expect([...probed].sort()).toEqual(["pod_0", "pod_2"]);
    await prober.stop();
  });

  it("ticking, looks at once at pods recorded running: a new run's first probe does not wait for the next tick", async () => {
    const { clock, prober, probed, settle, advance, addRunning } = await setup(1, 10, false, 10_000);
    prober.start();
    await advance(10_000);
    expect(probed).toContain("pod_0");
    await advance(500);
    probed.length = 0;
    const started = await addRunning(1, clock.now());
    prober.wake([started]);
    await settle();
    // Its probe is due at its start: run now, 9.5 s before the next tick.
    expect(probed).toEqual(["pod_1"]);
    await prober.stop();
  });

  it("ticking, runs its looks one at a time: a tick due during an early look waits for it, then runs", async () => {
    const { store, calls, prober, probed, settle, advance, addRunning } = await setup(1, 10, false, 1_000);
    prober.start();
    await advance(1_000);
    const started = await addRunning(1, T0);
    // The early look's read of its pod is held.
    let release = () => {};
    const getPods = store.getPods.bind(store);
    store.getPods = async (ids) => {
      await new Promise<void>((resolve) => {
        release = resolve;
      });
      return getPods(ids);
    };
    calls.length = 0;
    probed.length = 0;
    prober.wake([started]);
    await settle();
    expect(calls).toEqual(["getPods"]);
    // The tick falls due meanwhile: it does not read until the early look has ended.
    await advance(1_000);
    expect(calls).toEqual(["getPods"]);
    store.getPods = getPods;
    release();
    await settle();
    expect(calls).toContain("listPods");
    expect(probed).toContain("pod_1");
    await prober.stop();
    // Stopped, it looks no more.
    calls.length = 0;
    prober.wake([started]);
    await settle();
    expect(calls).toEqual([]);
  });
});
