import { describe, expect, it } from "vitest";
import { awaitsImages, hasImagePullError, IMAGE_PULL_BACK_OFF, imagePullPlan, pullBackOffsOf } from "./imagePull.js";
import type { ContainerStatus } from "./podLifecycle.js";
import type { Json } from "./types.js";

const IMAGE = "127.0.0.1:5001/web:1";
const FAILED = `Failed to pull image "${IMAGE}": unauthorized: authentication required`;

function container(state: ContainerStatus["state"], containerID?: string): ContainerStatus {
  return {
    name: "web",
    image: IMAGE,
    ...(containerID ? { containerID } : {}),
    ready: false,
    started: false,
    restartCount: 0,
    state,
    lastState: {},
  };
}
const errImagePull = (message = FAILED) => container({ waiting: { reason: "ErrImagePull", message } });
const withContainer = (status: Json, c: ContainerStatus): Json => ({ ...status, containerStatuses: [c] });
const stateOf = (status: Json | undefined) => (status?.containerStatuses as ContainerStatus[] | undefined)?.[0]?.state;

describe("imagePullPlan", () => {
  it("turns a failed pull into ImagePullBackOff for 10 s, with Failed and BackOff events", () => {
    const plan = imagePullPlan({ phase: "Pending", containerStatuses: [errImagePull()] }, 1_000);
    expect(plan.retryAtMs).toBe(11_000);
    expect(stateOf(plan.status)).toEqual({
      waiting: { reason: IMAGE_PULL_BACK_OFF, message: `Back-off pulling image "${IMAGE}": ErrImagePull: ${FAILED}` },
    });
    expect(plan.status?.phase).toBe("Pending");
    expect(pullBackOffsOf(plan.status ?? {})).toEqual({
      web: { image: IMAGE, failures: 1, delayMs: 10_000, retryAtMs: 11_000, message: FAILED },
    });
    expect(plan.events).toEqual([
      { eventType: "Warning", reason: "Failed", message: FAILED },
      { eventType: "Warning", reason: "BackOff", message: `Back-off pulling image "${IMAGE}"` },
    ]);
  });

  it("counts the same failure reported again during the back-off once, and holds until it ends", () => {
    const first = imagePullPlan({ containerStatuses: [errImagePull()] }, 0).status ?? {};
    expect(imagePullPlan(first, 5_000)).toEqual({ events: [], retryAtMs: 10_000 });
    const reportedAgain = withContainer(first, errImagePull());
    const plan = imagePullPlan(reportedAgain, 5_000);
    expect(plan.events).toEqual([]);
    expect(plan.retryAtMs).toBe(10_000);
    expect(stateOf(plan.status)).toMatchObject({ waiting: { reason: IMAGE_PULL_BACK_OFF } });
    expect(pullBackOffsOf(plan.status ?? {}).web?.failures).toBe(1);
  });

  it("lets the retry go when the back-off ends, then doubles the wait up to 5 min", () => {
    let status: Json = imagePullPlan({ containerStatuses: [errImagePull()] }, 0).status ?? {};
    expect(imagePullPlan(status, 10_000)).toEqual({ events: [] });
    const delays: number[] = [];
    let now = 10_000;
    for (let i = 0; i < 8; i++) {
      status = imagePullPlan(withContainer(status, errImagePull()), now).status ?? {};
      const backOff = pullBackOffsOf(status).web;
      delays.push(backOff?.delayMs ?? 0);
      now = backOff?.retryAtMs ?? now;
    }
    expect(delays).toEqual([20_000, 40_000, 80_000, 160_000, 300_000, 300_000, 300_000, 300_000]);
  });

  it("keeps the back-off while the retry pulls, and drops it once the container is created", () => {
    const failed = imagePullPlan({ containerStatuses: [errImagePull()] }, 0).status ?? {};
    const pulling = withContainer(failed, container({ waiting: { reason: "ContainerCreating", message: "Pulling" } }));
    expect(imagePullPlan(pulling, 10_000)).toEqual({ events: [] });
    const running = withContainer(
      failed,
      container({ running: { startedAt: "2026-01-01T00:00:00.000Z" } }, "docker://1"),
    );
    const plan = imagePullPlan(running, 11_000);
    expect(plan.status?.imagePullBackOff).toBeUndefined();
    expect(plan.retryAtMs).toBeUndefined();
  });

  it("changes nothing for a pod without failed pulls", () => {
    expect(imagePullPlan({}, 0)).toEqual({ events: [] });
    const running = container({ running: { startedAt: "2026-01-01T00:00:00.000Z" } }, "docker://1");
    expect(imagePullPlan({ containerStatuses: [running] }, 0)).toEqual({ events: [] });
  });
});

describe("hasImagePullError and awaitsImages", () => {
  it("see a failed pull not yet taken in, and containers never created", () => {
    expect(hasImagePullError({ containerStatuses: [errImagePull()] })).toBe(true);
    expect(hasImagePullError(imagePullPlan({ containerStatuses: [errImagePull()] }, 0).status ?? {})).toBe(false);
    expect(awaitsImages({}, ["web"])).toBe(true);
    const running = container({ running: { startedAt: "2026-01-01T00:00:00.000Z" } }, "docker://1");
    expect(awaitsImages({ containerStatuses: [running] }, ["web"])).toBe(false);
  });
});
