import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type BackOffSettings, backOffForRestart, formatDuration } from "../../src/controllers/podLifecycle.js";
import { openStore } from "../../src/db/index.js";
import type { PodRecord } from "../../src/db/types.js";
import { createTestApi, type TestApi } from "../helpers/api.js";
import { checkedStore } from "../helpers/invariants.js";

/** Fast, so the test sees several restarts; the kubelet's are 10 s … 300 s. */
const BACK_OFF: BackOffSettings = { baseMs: 100, capMs: 800, resetAfterMs: 60_000 };

const PROBE = "httpGet: { path: /healthz, port: http }";

function deployment(name: string, image: string, replicas: number, probes = ""): string {
  return `apiVersion: apps/v1
kind: Deployment
metadata:
  name: ${name}
spec:
  replicas: ${replicas}
  selector: { matchLabels: { app: ${name} } }
  template:
    metadata: { labels: { app: ${name} } }
    spec:
      containers:
        - name: web
          image: ${image}
          ports: [{ name: http, containerPort: 8080 }]
          resources: { requests: { cpu: 50m, memory: 32Mi } }
${probes}---
apiVersion: v1
kind: Service
metadata:
  name: ${name}
spec:
  selector: { app: ${name} }
  ports: [{ name: http, port: 80, targetPort: http }]
`;
}

/** Pods of the app that ever turned Ready, seen by a checker beside the store on every pod write. */
const everReady = new Map<string, number>();
/** The back-off the control plane chose before each restart, per pod, in order. */
const backOffs = new Map<string, number[]>();
function watch(pods: PodRecord[]): void {
  for (const pod of pods) {
    const delay = (pod.status.restartBackOff as Record<string, { delayMs?: number }> | undefined)?.web?.delayMs;
    const seen = backOffs.get(pod.name) ?? [];
    if (delay !== undefined && seen.at(-1) !== delay) backOffs.set(pod.name, [...seen, delay]);
    const app = pod.labels.app;
    if (app && pod.ready) everReady.set(app, (everReady.get(app) ?? 0) + 1);
  }
}

let api: TestApi;
beforeAll(async () => {
  api = await createTestApi({
    store: checkedStore(await openStore({ memory: true }), watch),
    images: {
      "web:bad": { readiness: "fail" },
      crash: { crashAfterMs: 50 },
      "live:bad": { liveness: "fail" },
    },
    restartBackOff: BACK_OFF,
    probeTickMs: 50,
  });
});
afterAll(() => api.close());

async function apply(yaml: string): Promise<void> {
  const res = await api.call("POST", "/v1/apply", { body: yaml });
  expect(res.status).toBe(200);
}

async function pods(app: string): Promise<any[]> {
  const res = await api.call("GET", `/api/v1/namespaces/default/pods?labelSelector=app%3D${app}`);
  return res.body.items.filter((p: any) => !p.metadata.deletionTimestamp);
}

async function events(podName: string): Promise<any[]> {
  const q = encodeURIComponent(`involvedObject.name=${podName}`);
  return (await api.call("GET", `/api/v1/namespaces/default/events?fieldSelector=${q}`)).body.items;
}

const isReady = (pod: any) => pod.status.conditions?.some((c: any) => c.type === "Ready" && c.status === "True");

describe("readiness probes", () => {
  it("keeps pods whose readiness fails out of the Service, and lets them in once it passes", async () => {
    const readiness = `          readinessProbe: { ${PROBE}, periodSeconds: 1, failureThreshold: 1 }\n`;
    await apply(deployment("shy", "web:bad", 2, readiness));
    // Running, probed and failed at least twice each, never Ready.
    const running = await api.until(async () => {
      const list = await pods("shy");
      if (list.length !== 2 || list.some((p) => p.status.phase !== "Running")) return false;
      for (const pod of list) {
        const unhealthy = (await events(pod.metadata.name)).find((e) => e.reason === "Unhealthy");
        if (!unhealthy || unhealthy.count < 2) return false;
        expect(unhealthy.message).toBe("Readiness probe failed: HTTP probe failed with statuscode: 500");
      }
      return list;
    });
    for (const pod of running) {
      expect(isReady(pod)).toBe(false);
      expect(pod.status.containerStatuses[0]).toMatchObject({ ready: false, started: true, restartCount: 0 });
      expect(pod.status.conditions).toContainEqual(
        expect.objectContaining({ type: "ContainersReady", status: "False", reason: "ContainersNotReady" }),
      );
    }
    expect(everReady.get("shy")).toBeUndefined();
    const endpoints = await api.until(async () => {
      const res = await api.call("GET", "/api/v1/namespaces/default/endpoints/shy");
      return res.status === 200 && res.body.subsets?.[0]?.notReadyAddresses?.length === 2 ? res.body : false;
    });
    expect(endpoints.subsets[0].addresses).toEqual([]);
    expect(endpoints.subsets[0].notReadyAddresses.map((a: any) => a.targetRef.name).sort()).toEqual(
      running.map((p) => p.metadata.name).sort(),
    );

    api.provider.setImageBehaviour("web:bad", { readiness: "pass" });
    await api.until(async () => {
      const list = await pods("shy");
      return list.length === 2 && list.every(isReady) && list.every((p) => p.status.containerStatuses[0].ready);
    });
    const ready = await api.until(async () => {
      const res = await api.call("GET", "/api/v1/namespaces/default/endpoints/shy");
      return res.body.subsets?.[0]?.addresses?.length === 2 ? res.body : false;
    });
    expect(ready.subsets[0].notReadyAddresses).toEqual([]);
  });
});

describe("crashing containers", () => {
  it("restart with a growing, capped back-off, showing CrashLoopBackOff and the last termination", async () => {
    await apply(deployment("crasher", "crash:1", 1));
    // Each wait in CrashLoopBackOff, by restart count: what ended, and the back-off the platform chose.
    const waits = new Map<number, { terminated: any; message: string }>();
    const pod = await api.until(async () => {
      const [current] = await pods("crasher");
      const status = current?.status.containerStatuses?.[0];
      if (status?.state.waiting?.reason === "CrashLoopBackOff") {
        waits.set(status.restartCount, {
          terminated: status.lastState.terminated,
          message: status.state.waiting.message,
        });
      }
      return waits.has(5) ? current : false;
    }, 30_000);
    expect(pod.status.phase).toBe("Running");
    expect(isReady(pod)).toBe(false);
    const last = waits.get(5)?.terminated;
    expect(last).toMatchObject({ exitCode: 1, reason: "Error", finishedAt: expect.any(String) });

    // The first restart is at once; every later wait is seen, each at least the back-off configured
    // for its restart: 100, 200, 400, 800 ms.
    const expected = [1, 2, 3, 4, 5].map((n) => backOffForRestart(n, BACK_OFF));
    expect(expected).toEqual([0, 100, 200, 400, 800]);
    for (let restart = 2; restart <= 5; restart++) {
      const before = waits.get(restart - 1);
      const after = waits.get(restart);
      expect(before, `the wait before restart ${restart} was seen`).toBeDefined();
      expect(after, `the run after restart ${restart} ended`).toBeDefined();
      expect(before?.message).toMatch(new RegExp(`^back-off ${formatDuration(expected[restart - 1] as number)} `));
      const waitedMs = Date.parse(after?.terminated.startedAt) - Date.parse(before?.terminated.finishedAt);
      expect(waitedMs).toBeGreaterThanOrEqual(expected[restart - 1] as number);
    }

    const backOff = (await events(pod.metadata.name)).find((e) => e.reason === "BackOff");
    expect(backOff).toMatchObject({
      type: "Warning",
      message: `Back-off restarting failed container web in pod ${pod.metadata.name}_default(${pod.metadata.uid})`,
    });
    expect(backOff.count).toBeGreaterThanOrEqual(4);
  });
});

describe("liveness probes", () => {
  it("kill a container that fails them, and it is restarted", async () => {
    const liveness = `          livenessProbe: { ${PROBE}, periodSeconds: 1, failureThreshold: 2 }\n`;
    await apply(deployment("zombie", "live:bad", 1, liveness));
    const pod = await api.until(async () => {
      const [current] = await pods("zombie");
      return current?.status.containerStatuses?.[0]?.restartCount >= 2 ? current : false;
    }, 30_000);
    expect(pod.status.containerStatuses[0].lastState.terminated).toMatchObject({ exitCode: 137, reason: "Error" });
    const seen = await events(pod.metadata.name);
    expect(seen).toContainEqual(
      expect.objectContaining({
        type: "Warning",
        reason: "Unhealthy",
        message: "Liveness probe failed: HTTP probe failed with statuscode: 500",
      }),
    );
    const killing = seen.find((e) => e.reason === "Killing");
    expect(killing).toMatchObject({
      type: "Normal",
      message: "Container web failed liveness probe, will be restarted",
    });
    expect(killing.count).toBeGreaterThanOrEqual(2);
    // Each restart waited longer than the one before, as the kubelet's back-off grows.
    const delays = backOffs.get(pod.metadata.name) ?? [];
    expect(delays.length).toBeGreaterThanOrEqual(2);
    expect(delays).toEqual([...delays].sort((a, b) => a - b));
    expect(delays[1]).toBeGreaterThan(delays[0] as number);
  });
});
