import { describe, expect, it } from "vitest";
import {
  type BackOffSettings,
  type BackOffs,
  backOffForRestart,
  type ContainerStatus,
  formatDuration,
  KUBELET_BACK_OFF,
  nextBackOffMs,
  type ObservedRun,
  observeContainers,
  podPhase,
  podStatusFor,
  type RestartPolicy,
  restartDelayMs,
  restartsDue,
  shouldRestart,
  withProbeVerdict,
} from "./podLifecycle.js";

const T0 = Date.UTC(2026, 0, 1);
const iso = (ms: number) => new Date(ms).toISOString();
const FAST: BackOffSettings = { baseMs: 100, capMs: 1_600, resetAfterMs: 10_000 };
const POD = { name: "web-1", namespace: "default", uid: "uid-1" };

function spec(policy: RestartPolicy, containers: Record<string, unknown>[] = [{ name: "web", image: "web:1" }]) {
  return { restartPolicy: policy, containers };
}

const running = (id: string, at: number, name = "web"): ObservedRun => ({
  name,
  image: "web:1",
  containerID: id,
  state: { running: { startedAt: iso(at) } },
});

const exited = (id: string, startedAt: number, finishedAt: number, exitCode = 1, name = "web"): ObservedRun => ({
  name,
  image: "web:1",
  containerID: id,
  state: {
    terminated: {
      exitCode,
      reason: exitCode === 0 ? "Completed" : "Error",
      startedAt: iso(startedAt),
      finishedAt: iso(finishedAt),
    },
  },
});

/** Observes runs one after another, carrying status and back-offs along, as the observe job does. */
function observeAll(podSpec: Record<string, unknown>, runs: ObservedRun[][], settings = FAST) {
  let previous: ContainerStatus[] = [];
  let backOffs: BackOffs = {};
  const events: string[] = [];
  for (const observed of runs) {
    const result = observeContainers({ pod: POD, podSpec, previous, backOffs, observed, settings });
    previous = result.containerStatuses;
    backOffs = result.backOffs;
    events.push(...result.events.map((e) => `${e.reason}: ${e.message}`));
  }
  return { statuses: previous, backOffs, events };
}

describe("restartPolicy", () => {
  it.each([
    ["Always", 0, true],
    ["Always", 1, true],
    ["OnFailure", 0, false],
    ["OnFailure", 137, true],
    ["Never", 0, false],
    ["Never", 1, false],
  ] as const)("%s after exit %i restarts: %s", (policy, exitCode, restarts) => {
    expect(shouldRestart(policy, exitCode)).toBe(restarts);
  });

  it("Always: an exit 0 is restarted too (at once the first time, then after a back-off), and the pod stays Running", () => {
    const first = observeAll(spec("Always"), [[running("c1", T0)], [exited("c1", T0, T0 + 50, 0)]]);
    // Restarted at once: no CrashLoopBackOff to show (nor crash-looping to roll a Deployment back on).
    expect(first.statuses[0]?.state).toMatchObject({ terminated: { exitCode: 0, reason: "Completed" } });
    expect(podPhase(first.statuses, "Always")).toBe("Running");
    expect(restartsDue(first.statuses, first.backOffs, T0 + 50)).toEqual({ due: [{ name: "web", containerID: "c1" }] });
    const { statuses } = observeAll(spec("Always"), [
      [running("c1", T0)],
      [exited("c1", T0, T0 + 50, 0)],
      [running("c2", T0 + 60)],
      [exited("c2", T0 + 60, T0 + 70, 0)],
    ]);
    expect(statuses[0]?.state).toMatchObject({ waiting: { reason: "CrashLoopBackOff" } });
    expect(podPhase(statuses, "Always")).toBe("Running");
  });

  it("OnFailure: an exit 0 stays terminated (Succeeded); a failure is restarted (Running)", () => {
    const ok = observeAll(spec("OnFailure"), [[running("c1", T0)], [exited("c1", T0, T0 + 50, 0)]]);
    expect(ok.statuses[0]?.state).toMatchObject({ terminated: { exitCode: 0, reason: "Completed" } });
    expect(ok.backOffs).toEqual({});
    expect(podPhase(ok.statuses, "OnFailure")).toBe("Succeeded");
    const failed = observeAll(spec("OnFailure"), [[running("c1", T0)], [exited("c1", T0, T0 + 50, 2)]]);
    expect(failed.statuses[0]?.state).toMatchObject({ terminated: { exitCode: 2, reason: "Error" } });
    expect(failed.backOffs.web).toMatchObject({ containerID: "c1", delayMs: 0 });
    expect(podPhase(failed.statuses, "OnFailure")).toBe("Running");
  });

  it("Never: the container stays terminated; Failed if one failed and none runs, Succeeded if all exited 0", () => {
    const two = spec("Never", [
      { name: "a", image: "a:1" },
      { name: "b", image: "b:1" },
    ]);
    const oneFailed = observeAll(two, [[running("a1", T0, "a"), exited("b1", T0, T0 + 10, 1, "b")]]);
    expect(oneFailed.statuses[1]?.state).toMatchObject({ terminated: { exitCode: 1, reason: "Error" } });
    expect(oneFailed.events).toEqual([]);
    expect(podPhase(oneFailed.statuses, "Never")).toBe("Running");
    const bothDone = observeAll(two, [[exited("a1", T0, T0 + 20, 0, "a"), exited("b1", T0, T0 + 10, 1, "b")]]);
    expect(podPhase(bothDone.statuses, "Never")).toBe("Failed");
    const allOk = observeAll(two, [[exited("a1", T0, T0 + 20, 0, "a"), exited("b1", T0, T0 + 10, 0, "b")]]);
    expect(podPhase(allOk.statuses, "Never")).toBe("Succeeded");
  });

  it("a pod whose containers are still being created is Pending", () => {
    const waiting: ObservedRun = { name: "web", image: "web:1", state: { waiting: { reason: "ContainerCreating" } } };
    const { statuses } = observeAll(spec("Always"), [[waiting]]);
    expect(podPhase(statuses, "Always")).toBe("Pending");
    expect(podPhase([], "Always")).toBe("Pending");
  });
});

describe("back-off", () => {
  it("is the kubelet's by default: the first restart at once, then 10 s, doubling, capped at 300 s", () => {
    const delays = [1, 2, 3, 4, 5, 6, 7, 8].map((n) => backOffForRestart(n, KUBELET_BACK_OFF));
    expect(delays).toEqual([0, 10_000, 20_000, 40_000, 80_000, 160_000, 300_000, 300_000]);
    expect(restartDelayMs(undefined, 5, KUBELET_BACK_OFF)).toBe(0);
    expect(restartDelayMs(0, 5, KUBELET_BACK_OFF)).toBe(10_000);
    expect(restartDelayMs(10_000, 5, KUBELET_BACK_OFF)).toBe(20_000);
    // A run of ten minutes resets it: the next restart is at once again.
    expect(restartDelayMs(160_000, 600_000, KUBELET_BACK_OFF)).toBe(0);
  });

  it("resets to the base after a run of resetAfterMs without a problem", () => {
    expect(nextBackOffMs(undefined, 5, FAST)).toBe(100);
    expect(nextBackOffMs(800, 9_999, FAST)).toBe(1_600);
    expect(nextBackOffMs(1_600, 50, FAST)).toBe(1_600);
    expect(nextBackOffMs(1_600, 10_000, FAST)).toBe(100);
  });

  it("waits in CrashLoopBackOff with lastState.terminated, counts restarts, doubles each time", () => {
    const runs: ObservedRun[][] = [];
    let t = T0;
    for (let run = 1; run <= 6; run++) {
      runs.push([running(`c${run}`, t)]);
      runs.push([exited(`c${run}`, t, t + 50, 1)]);
      // The same observation twice changes nothing (idempotent) and records no second event.
      runs.push([exited(`c${run}`, t, t + 50, 1)]);
      t += 50 + backOffForRestart(run, FAST);
    }
    const { statuses, backOffs, events } = observeAll(spec("Always"), runs);
    const web = statuses[0] as ContainerStatus;
    expect(web.restartCount).toBe(5);
    expect(web.ready).toBe(false);
    expect(web.state).toEqual({
      waiting: {
        reason: "CrashLoopBackOff",
        message: "back-off 1.6s restarting failed container=web pod=web-1_default(uid-1)",
      },
    });
    expect(web.lastState.terminated).toMatchObject({ exitCode: 1, reason: "Error", containerID: "c6" });
    expect(backOffs.web).toMatchObject({ containerID: "c6", delayMs: 1_600 });
    // The first restart was at once: no back-off, no event.
    expect(events).toHaveLength(5);
    expect(events[0]).toBe("BackOff: Back-off restarting failed container web in pod web-1_default(uid-1)");
  });

  it("keeps the last termination as lastState while the next run runs", () => {
    const { statuses, backOffs } = observeAll(spec("Always"), [
      [running("c1", T0)],
      [exited("c1", T0, T0 + 50, 137)],
      [running("c2", T0 + 200)],
    ]);
    expect(statuses[0]).toMatchObject({
      containerID: "c2",
      restartCount: 1,
      ready: true,
      started: true,
      state: { running: { startedAt: iso(T0 + 200) } },
      lastState: { terminated: { exitCode: 137, containerID: "c1", finishedAt: iso(T0 + 50) } },
    });
    expect(backOffs.web?.delayMs).toBe(0);
  });

  it("restarts at once again after a long run", () => {
    const long = T0 + 1_000 + FAST.resetAfterMs;
    const { backOffs } = observeAll(spec("Always"), [
      [exited("c1", T0, T0 + 10)],
      [exited("c2", T0 + 200, T0 + 210)],
      [exited("c3", T0 + 500, T0 + 510)],
      [exited("c4", T0 + 1_000, long)],
    ]);
    expect(backOffs.web).toEqual({ containerID: "c4", delayMs: 0, restartAtMs: long });
  });

  it("says which restarts are due and when the next one is", () => {
    const first = observeAll(spec("Always"), [[running("c1", T0)], [exited("c1", T0, T0 + 50)]]);
    expect(restartsDue(first.statuses, first.backOffs, T0 + 50)).toEqual({ due: [{ name: "web", containerID: "c1" }] });
    const { statuses, backOffs } = observeAll(spec("Always"), [
      [running("c1", T0)],
      [exited("c1", T0, T0 + 50)],
      [running("c2", T0 + 60)],
      [exited("c2", T0 + 60, T0 + 70)],
    ]);
    expect(restartsDue(statuses, backOffs, T0 + 169)).toEqual({ due: [], nextAtMs: T0 + 170 });
    expect(restartsDue(statuses, backOffs, T0 + 170)).toEqual({ due: [{ name: "web", containerID: "c2" }] });
    const restarted = observeAll(spec("Always"), [
      [running("c1", T0)],
      [exited("c1", T0, T0 + 50)],
      [running("c2", T0 + 160)],
    ]);
    expect(restartsDue(restarted.statuses, restarted.backOffs, T0 + 1_000)).toEqual({ due: [] });
  });

  it("keeps an OOMKilled reason", () => {
    const oom: ObservedRun = {
      name: "web",
      image: "web:1",
      containerID: "c1",
      state: { terminated: { exitCode: 137, reason: "OOMKilled", finishedAt: iso(T0) } },
    };
    const { statuses } = observeAll(spec("Always"), [[oom], [running("c2", T0 + 10)]]);
    expect(statuses[0]?.lastState.terminated).toMatchObject({ reason: "OOMKilled", exitCode: 137 });
  });

  it("prints durations as Kubernetes does", () => {
    expect([100, 1_600, 10_000, 300_000, 90_500].map(formatDuration)).toEqual([
      "100ms",
      "1.6s",
      "10s",
      "5m0s",
      "1m30.5s",
    ]);
  });
});

describe("readiness in status", () => {
  const probed = spec("Always", [{ name: "web", image: "web:1", readinessProbe: { httpGet: { port: 80 } } }]);

  it("a new run with a readiness probe is not ready until the prober says so", () => {
    const { statuses, backOffs } = observeAll(probed, [[running("c1", T0)]]);
    expect(statuses[0]).toMatchObject({ ready: false, started: true });
    const notReady = podStatusFor({}, probed, statuses, backOffs, T0);
    expect(notReady.phase).toBe("Running");
    expect(notReady.ready).toBe(false);
    expect(notReady.status.conditions).toContainEqual(
      expect.objectContaining({
        type: "Ready",
        status: "False",
        reason: "ContainersNotReady",
        message: "containers with unready status: [web]",
      }),
    );
    const verdict = withProbeVerdict(statuses, "web", "c1", { ready: true, started: true }) as ContainerStatus[];
    const ready = podStatusFor(notReady.status, probed, verdict, backOffs, T0 + 10);
    expect(ready.ready).toBe(true);
    expect(ready.status.conditions).toContainEqual(
      expect.objectContaining({ type: "ContainersReady", status: "True" }),
    );
  });

  it("ignores a verdict on a run that is over, and one that changes nothing", () => {
    const { statuses } = observeAll(probed, [[running("c1", T0)], [running("c2", T0 + 100)]]);
    expect(withProbeVerdict(statuses, "web", "c1", { ready: true, started: true })).toBeUndefined();
    expect(withProbeVerdict(statuses, "web", "c2", { ready: false, started: true })).toBeUndefined();
  });

  it("keeps the prober's verdict while the same run is observed again", () => {
    const first = observeAll(probed, [[running("c1", T0)]]);
    const verdict = withProbeVerdict(first.statuses, "web", "c1", { ready: true, started: true }) as ContainerStatus[];
    const again = observeContainers({
      pod: POD,
      podSpec: probed,
      previous: verdict,
      backOffs: {},
      observed: [running("c1", T0)],
      settings: FAST,
    });
    expect(again.containerStatuses[0]?.ready).toBe(true);
  });
});
