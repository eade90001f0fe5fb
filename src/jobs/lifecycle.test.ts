import { describe, expect, it } from "vitest";
import type { BackOffSettings, ContainerStatus } from "../controllers/podLifecycle.js";
import { ManualClock } from "../core/clock.js";
import { seededRng } from "../core/rng.js";
import { openStore } from "../db/index.js";
import type { Json, Store } from "../db/types.js";
import { SimulatedProvider } from "../providers/simulated/index.js";
import { ControlPlane } from "./controlPlane.js";
import { InProcessQueue } from "./inProcessQueue.js";

const BACK_OFF: BackOffSettings = { baseMs: 1_000, capMs: 8_000, resetAfterMs: 60_000 };

const tick = () => new Promise((r) => setImmediate(r));

/** A control plane on virtual time over a given store and provider: the whole loop, deterministic. */
function controlPlane(store: Store, provider: SimulatedProvider, clock: ManualClock): ControlPlane {
  return new ControlPlane(
    {
      store,
      queue: new InProcessQueue({ clock }),
      provider,
      clock,
      rng: seededRng("workers"),
      schedulingPolicy: "spread",
      unschedulableRetryMs: 500,
      log: () => {},
      restartBackOff: BACK_OFF,
    },
    { outboxPollMs: 50, probeTickMs: 50, resyncMs: 1_000 },
  );
}

/** Moves virtual time forward in small steps, letting the workers run between them. */
async function run(clock: ManualClock, ms: number): Promise<void> {
  for (let elapsed = 0; elapsed < ms; elapsed += 10) {
    clock.advance(10);
    for (let i = 0; i < 30; i++) await tick();
  }
}

async function web(store: Store): Promise<ContainerStatus> {
  const pod = await store.getPod("pod_1");
  const statuses = (pod?.status.containerStatuses ?? []) as ContainerStatus[];
  return statuses[0] as ContainerStatus;
}

async function setup(images: ConstructorParameters<typeof SimulatedProvider>[0]["images"], podSpec: Json) {
  const clock = new ManualClock();
  const store = await openStore({ memory: true });
  const provider = new SimulatedProvider({
    clock,
    rng: seededRng("provider"),
    startLatencyMs: { min: 10, max: 10 },
    pools: [{ name: "default", count: 1, cpuMillis: 4000, memoryBytes: 8 * 2 ** 30 }],
    images,
  });
  await store.createPod({
    id: "pod_1",
    tenantId: "ten_1",
    namespace: "default",
    name: "web-1",
    uid: "uid-1",
    ownerKind: null,
    ownerName: null,
    ownerUid: null,
    labels: {},
    annotations: {},
    templateHash: null,
    spec: podSpec,
    cpuMillis: 100,
    memoryBytes: 2 ** 20,
    createdAt: clock.now(),
  });
  return { clock, store, provider };
}

describe("restarts across a control-plane restart", () => {
  it("keeps the restart count and the back-off, and restarts nothing while no control plane runs", async () => {
    const spec = { restartPolicy: "Always", containers: [{ name: "web", image: "crash:1" }] };
    const { clock, store, provider } = await setup({ crash: { crashAfterMs: 50 } }, spec);
    const first = controlPlane(store, provider, clock);
    await first.start();
    // Runs end after 50 ms; the first restart is at once, then waits of 1 s, 2 s, then 4 s: by 3.8 s the 4 s wait has begun.
    await run(clock, 3_800);
    const before = await web(store);
    expect(before.restartCount).toBe(3);
    expect(before.state).toMatchObject({ waiting: { reason: "CrashLoopBackOff" } });
    expect((await store.getPod("pod_1"))?.status.restartBackOff).toMatchObject({ web: { delayMs: 4_000 } });
    await first.stop();

    // Nobody decides while the control plane is down: the container stays down, however long.
    await run(clock, 10_000);
    expect(await web(store)).toEqual(before);
    expect((await provider.listPods())[0]?.containers[0]?.state).toHaveProperty("terminated");

    const second = controlPlane(store, provider, clock);
    await second.start();
    await run(clock, 500);
    const after = await web(store);
    expect(after.restartCount).toBe(4);
    expect(after.state).toMatchObject({ waiting: { reason: "CrashLoopBackOff" } });
    // The doubling carries on from where it stopped, rather than starting again at 1 s.
    expect((await store.getPod("pod_1"))?.status.restartBackOff).toMatchObject({ web: { delayMs: 8_000 } });
    await second.stop();
    await provider.close();
  });

  it("learns, after a restart, of an exit it missed while it was down", async () => {
    const spec = { restartPolicy: "Never", containers: [{ name: "web", image: "job:1" }] };
    const { clock, store, provider } = await setup({ job: { crashAfterMs: 2_000, exitCode: 0 } }, spec);
    const first = controlPlane(store, provider, clock);
    await first.start();
    await run(clock, 500);
    expect((await web(store)).state).toHaveProperty("running");
    await first.stop();
    await run(clock, 3_000);
    const second = controlPlane(store, provider, clock);
    await second.start();
    await run(clock, 1_500);
    expect((await web(store)).state).toMatchObject({ terminated: { exitCode: 0, reason: "Completed" } });
    expect((await store.getPod("pod_1"))?.phase).toBe("Succeeded");
    await second.stop();
    await provider.close();
  });
});

describe("probes on virtual time", () => {
  it("a startup probe holds readiness back; liveness then kills a run that hangs, and it restarts", async () => {
    const probe = { httpGet: { path: "/", port: 80 }, periodSeconds: 1, failureThreshold: 2 };
    const spec = {
      restartPolicy: "Always",
      containers: [
        {
          name: "web",
          image: "slow:1",
          // Up to 5 s to start: probes at 0, 1 and 2 s, the last one passing.
          startupProbe: { ...probe, failureThreshold: 5 },
          readinessProbe: probe,
          livenessProbe: probe,
        },
      ],
    };
    const behaviour = { startup: { passAfterMs: 1_500 }, liveness: { failAfterMs: 4_000 } };
    const { clock, store, provider } = await setup({ slow: behaviour }, spec);
    const plane = controlPlane(store, provider, clock);
    await plane.start();
    await run(clock, 1_200);
    expect(await web(store)).toMatchObject({ started: false, ready: false, restartCount: 0 });
    await run(clock, 1_500);
    expect(await web(store)).toMatchObject({ started: true, ready: true, restartCount: 0 });
    expect((await store.getPod("pod_1"))?.ready).toBe(true);
    // Liveness fails from 4 s into the run; two failures a second apart kill it; 1 s of back-off; a new run.
    await run(clock, 4_000);
    const restarted = await web(store);
    expect(restarted.restartCount).toBe(1);
    expect(restarted.lastState.terminated).toMatchObject({ exitCode: 137, reason: "Error" });
    const reasons = (await store.listEvents({ tenantId: "ten_1" })).map((e) => `${e.reason}: ${e.message}`);
    expect(reasons).toContain("Killing: Container web failed liveness probe, will be restarted");
    expect(reasons).toContain("Unhealthy: Startup probe failed: HTTP probe failed with statuscode: 500");
    await plane.stop();
    await provider.close();
  });
});
