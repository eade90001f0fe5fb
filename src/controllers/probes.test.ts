import { describe, expect, it } from "vitest";
import {
  type ContainerProbeSettings,
  type ContainerProbeState,
  dueProbes,
  isReady,
  isStarted,
  killMessage,
  newContainerProbeState,
  nextProbeAtMs,
  type ProbeKind,
  probeFailedMessage,
  probeSettingsOf,
  recordProbe,
} from "./probes.js";

const T0 = 1_000_000;
const http = { httpGet: { path: "/healthz", port: 80 } };

/** Feeds results in order, each at the time its probe is due; returns the state and every kill decided. */
function feed(settings: ContainerProbeSettings, state: ContainerProbeState, kind: ProbeKind, results: boolean[]) {
  const kills: string[] = [];
  let current = state;
  for (const ok of results) {
    const at = current.probes[kind]?.nextDueAtMs ?? T0;
    expect(dueProbes(current, at)).toContain(kind);
    const outcome = recordProbe(settings, current, kind, ok, at);
    current = outcome.state;
    if (outcome.kill) kills.push(outcome.kill);
  }
  return { state: current, kills };
}

describe("probe settings", () => {
  it("fills Kubernetes' defaults: period 10 s, timeout 1 s, success 1, failure 3, no initial delay", () => {
    const settings = probeSettingsOf({ name: "web", readinessProbe: http });
    expect(settings.readiness).toMatchObject({
      initialDelayMs: 0,
      periodMs: 10_000,
      timeoutMs: 1_000,
      successThreshold: 1,
      failureThreshold: 3,
      spec: http,
    });
    expect(settings.liveness).toBeUndefined();
    expect(settings.startup).toBeUndefined();
  });

  it("keeps a liveness or startup probe's success threshold at 1", () => {
    const settings = probeSettingsOf({
      livenessProbe: { ...http, successThreshold: 3, periodSeconds: 2 },
      startupProbe: { ...http, successThreshold: 2 },
      readinessProbe: { ...http, successThreshold: 2 },
    });
    expect(settings.liveness?.successThreshold).toBe(1);
    expect(settings.liveness?.periodMs).toBe(2_000);
    expect(settings.startup?.successThreshold).toBe(1);
    expect(settings.readiness?.successThreshold).toBe(2);
  });
});

describe("probe timing", () => {
  it("runs no probe before initialDelaySeconds, then one every periodSeconds", () => {
    const settings = probeSettingsOf({ readinessProbe: { ...http, initialDelaySeconds: 5, periodSeconds: 2 } });
    const state = newContainerProbeState(settings, "c1", T0);
    expect(dueProbes(state, T0)).toEqual([]);
    expect(dueProbes(state, T0 + 4_999)).toEqual([]);
    expect(nextProbeAtMs(state)).toBe(T0 + 5_000);
    expect(dueProbes(state, T0 + 5_000)).toEqual(["readiness"]);
    const after = recordProbe(settings, state, "readiness", true, T0 + 5_010).state;
    expect(dueProbes(after, T0 + 6_999)).toEqual([]);
    expect(nextProbeAtMs(after)).toBe(T0 + 7_000);
  });

  it("never schedules the next probe in the past after a late one", () => {
    const settings = probeSettingsOf({ livenessProbe: { ...http, periodSeconds: 1 } });
    const state = newContainerProbeState(settings, "c1", T0);
    const late = recordProbe(settings, state, "liveness", true, T0 + 5_000).state;
    expect(nextProbeAtMs(late)).toBe(T0 + 5_000);
  });

  it("counts an unknown result (the probe could not run) neither way, and still moves on", () => {
    const settings = probeSettingsOf({ livenessProbe: { ...http, failureThreshold: 1 } });
    const state = newContainerProbeState(settings, "c1", T0);
    const outcome = recordProbe(settings, state, "liveness", undefined, T0);
    expect(outcome.kill).toBeUndefined();
    expect(outcome.state.probes.liveness).toMatchObject({ result: "success", run: 0, nextDueAtMs: T0 + 10_000 });
  });
});

describe("readiness", () => {
  it("starts false with a readiness probe and turns true after successThreshold successes in a row", () => {
    const settings = probeSettingsOf({ readinessProbe: { ...http, successThreshold: 2, periodSeconds: 1 } });
    const state = newContainerProbeState(settings, "c1", T0);
    expect(isReady(state)).toBe(false);
    expect(isReady(feed(settings, state, "readiness", [true]).state)).toBe(false);
    expect(isReady(feed(settings, state, "readiness", [true, false, true]).state)).toBe(false);
    const ready = feed(settings, state, "readiness", [true, true]);
    expect(isReady(ready.state)).toBe(true);
    expect(ready.kills).toEqual([]);
  });

  it("turns false after failureThreshold failures in a row, and never kills", () => {
    const settings = probeSettingsOf({ readinessProbe: { ...http, failureThreshold: 3, periodSeconds: 1 } });
    const ready = feed(settings, newContainerProbeState(settings, "c1", T0), "readiness", [true]).state;
    expect(isReady(feed(settings, ready, "readiness", [false, false]).state)).toBe(true);
    expect(isReady(feed(settings, ready, "readiness", [false, false, true, false, false]).state)).toBe(true);
    const unready = feed(settings, ready, "readiness", [false, false, false]);
    expect(isReady(unready.state)).toBe(false);
    expect(unready.kills).toEqual([]);
  });

  it("is true once running for a container without a readiness probe", () => {
    const settings = probeSettingsOf({ livenessProbe: http });
    expect(isReady(newContainerProbeState(settings, "c1", T0))).toBe(true);
    expect(isReady(newContainerProbeState({}, "c1", T0))).toBe(true);
  });

  it("keeps what the stored status says of the same run, so a restarted prober does not flap", () => {
    const settings = probeSettingsOf({ readinessProbe: http, startupProbe: http });
    const state = newContainerProbeState(settings, "c1", T0, { ready: true, started: true });
    expect(isStarted(state)).toBe(true);
    expect(isReady(state)).toBe(true);
  });
});

describe("liveness", () => {
  it("kills after failureThreshold failures in a row, then probes that run no more", () => {
    const settings = probeSettingsOf({ livenessProbe: { ...http, failureThreshold: 3, periodSeconds: 1 } });
    const state = newContainerProbeState(settings, "c1", T0);
    expect(feed(settings, state, "liveness", [false, false, true, false, false]).kills).toEqual([]);
    const killed = feed(settings, state, "liveness", [false, false, false]);
    expect(killed.kills).toEqual(["liveness"]);
    expect(killed.state.killedBy).toBe("liveness");
    expect(dueProbes(killed.state, T0 + 60_000)).toEqual([]);
    expect(nextProbeAtMs(killed.state)).toBeUndefined();
    expect(recordProbe(settings, killed.state, "liveness", false, T0 + 60_000).kill).toBeUndefined();
  });

  it("makes a container being killed unready", () => {
    const settings = probeSettingsOf({ livenessProbe: { ...http, failureThreshold: 1 } });
    const killed = feed(settings, newContainerProbeState(settings, "c1", T0), "liveness", [false]);
    expect(isReady(killed.state)).toBe(false);
  });
});

describe("startup", () => {
  const settings = probeSettingsOf({
    startupProbe: { ...http, periodSeconds: 1, failureThreshold: 3 },
    livenessProbe: { ...http, periodSeconds: 1 },
    readinessProbe: { ...http, periodSeconds: 1 },
  });

  it("holds liveness and readiness back until it succeeds", () => {
    const state = newContainerProbeState(settings, "c1", T0);
    expect(isStarted(state)).toBe(false);
    expect(dueProbes(state, T0 + 10_000)).toEqual(["startup"]);
    const started = feed(settings, state, "startup", [false, true]).state;
    expect(isStarted(started)).toBe(true);
    expect(isReady(started)).toBe(false);
    expect(dueProbes(started, T0 + 10_000)).toEqual(["liveness", "readiness"]);
    expect(isReady(feed(settings, started, "readiness", [true]).state)).toBe(true);
  });

  it("kills when it fails failureThreshold times", () => {
    const outcome = feed(settings, newContainerProbeState(settings, "c1", T0), "startup", [false, false, false]);
    expect(outcome.kills).toEqual(["startup"]);
    expect(isStarted(outcome.state)).toBe(false);
  });
});

describe("event texts", () => {
  it("reads as Kubernetes' do", () => {
    expect(probeFailedMessage("readiness", "HTTP probe failed with statuscode: 500")).toBe(
      "Readiness probe failed: HTTP probe failed with statuscode: 500",
    );
    expect(killMessage("web", "liveness")).toBe("Container web failed liveness probe, will be restarted");
  });
});
