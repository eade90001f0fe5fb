import { randomBytes } from "node:crypto";
import Docker from "dockerode";
import { afterAll, beforeAll, expect, it } from "vitest";
import {
  DOCKER_SOCKET,
  describeRegistry,
  isDockerReachable,
  isRegistryReachable,
  pushUniqueImage,
  REGISTRY,
  REGISTRY_AUTH,
  REGISTRY_AUTH_PASSWORD,
  REGISTRY_AUTH_USER,
  waitFor,
} from "../../../test/helpers/docker.js";
import { systemClock } from "../../core/clock.js";
import type { ObservedPod, PodRuntimeSpec, ProviderEvent } from "../types.js";
import { DockerProvider, LABELS } from "./index.js";

/**
 * Pulls on a real Engine from the real local registries (scripts/services.sh ensure_registry): the
 * open one, and the one with htpasswd auth that only the pod's credentials open. Every image here is
 * this run's own (a random layer on top of the test image), pushed and then removed locally, so each
 * pull is a real download and other tests' images are left alone.
 */
const NODE = "docker-registry-test";
const run = randomBytes(4).toString("hex");
const owner = `test-reg-${run}`;
const reachable = (await isDockerReachable()) && (await isRegistryReachable());
const UNAUTHORIZED = /unauthorized|no basic auth credentials|authentication required/i;

function podSpec(id: string, image: string, options: Partial<PodRuntimeSpec> & { policy?: string } = {}) {
  const { policy, ...rest } = options;
  return {
    podId: `${id}-${run}`,
    uid: `uid-${id}`,
    tenantId: `treg${run}`,
    namespace: "default",
    name: id,
    nodeName: NODE,
    spec: { containers: [{ name: "web", image, imagePullPolicy: policy ?? "IfNotPresent" }] },
    ...rest,
  } satisfies PodRuntimeSpec;
}

describeRegistry("DockerProvider pulls from local registries", reachable, () => {
  const docker = new Docker({ socketPath: DOCKER_SOCKET });
  const events: ProviderEvent[] = [];
  const pushed: string[] = [];
  let provider: DockerProvider;
  let openImage = "";
  let authImage = "";

  beforeAll(async () => {
    openImage = await pushUniqueImage(docker, REGISTRY, `kubernease-test/pull-${run}`);
    const credentials = { username: REGISTRY_AUTH_USER, password: REGISTRY_AUTH_PASSWORD };
    authImage = await pushUniqueImage(docker, REGISTRY_AUTH, `kubernease-test/private-${run}`, credentials);
    pushed.push(openImage, authImage);
    provider = new DockerProvider({ clock: systemClock, owner, hosts: [{ name: NODE, socketPath: DOCKER_SOCKET }] });
    provider.subscribe((event) => events.push(event));
  }, 120_000);

  afterAll(async () => {
    await provider?.close();
    const ours = await docker.listContainers({
      all: true,
      filters: JSON.stringify({ label: [`${LABELS.owner}=${owner}`] }),
    });
    await Promise.all(ours.map((c) => docker.getContainer(c.Id).remove({ force: true })));
    for (const image of pushed) {
      await docker
        .getImage(image)
        .remove({ force: true })
        .catch(() => {});
    }
  });

  const observations = (podId: string) =>
    events.flatMap((e) => (e.type === "pod" && e.pod.podId === podId ? [e.pod] : []));

  /** The latest observation of a pod that satisfies `check`, waiting for it (bounded). */
  async function observed(podId: string, check: (pod: ObservedPod) => boolean, timeoutMs = 60_000) {
    const ok = await waitFor(async () => {
      const latest = observations(podId).at(-1);
      return latest !== undefined && check(latest);
    }, timeoutMs);
    if (!ok)
      throw new Error(`no matching observation of ${podId}; last: ${JSON.stringify(observations(podId).at(-1))}`);
    return observations(podId).at(-1) as ObservedPod;
  }

  const started = (pod: ObservedPod) => pod.containers.every((c) => "running" in c.state || "terminated" in c.state);
  const waitingOf = (pod: ObservedPod) => {
    const state = pod.containers[0]?.state;
    return state && "waiting" in state ? state.waiting : undefined;
  };

  it("pulls an image not present from the open registry, reporting progress in bytes meanwhile", async () => {
    const pod = podSpec("open", openImage);
    await provider.startPod(pod);
    await observed(pod.podId, started);
    const progress = observations(pod.podId)
      .map(waitingOf)
      .filter((w) => w?.reason === "ContainerCreating" && w.message?.startsWith("Pulling image"));
    expect(progress.length).toBeGreaterThanOrEqual(1);
    expect(progress.map((w) => w?.message)).toContainEqual(
      expect.stringMatching(/^Pulling image ".+": [\d.]+ k?M?G?B of [\d.]+ k?M?G?B$/),
    );
    expect((await docker.getImage(openImage).inspect()).Id).toMatch(/^sha256:/);
  });

  it("pulls from the registry with auth with the pod's credentials", async () => {
    const registryAuth = [{ registry: REGISTRY_AUTH, username: REGISTRY_AUTH_USER, password: REGISTRY_AUTH_PASSWORD }];
    const pod = podSpec("auth", authImage, { registryAuth, policy: "Always" });
    await provider.startPod(pod);
    const pulled = await observed(pod.podId, started);
    expect(pulled.containers[0]?.image).toBe(authImage);
  });

  it("waits with ErrImagePull and the registry's message without credentials or with wrong ones", async () => {
    const none = podSpec("none", authImage, { policy: "Always" });
    const otherRegistry = [{ registry: REGISTRY, username: REGISTRY_AUTH_USER, password: REGISTRY_AUTH_PASSWORD }];
    const elsewhere = podSpec("elsewhere", authImage, { policy: "Always", registryAuth: otherRegistry });
    const wrongAuth = [{ registry: REGISTRY_AUTH, username: REGISTRY_AUTH_USER, password: "wrong" }];
    const wrong = podSpec("wrong", authImage, { policy: "Always", registryAuth: wrongAuth });
    for (const pod of [none, elsewhere, wrong]) {
      await provider.startPod(pod);
      const failed = await observed(pod.podId, (p) => waitingOf(p)?.reason === "ErrImagePull");
      expect(waitingOf(failed)?.message).toContain(`Failed to pull image "${authImage}": `);
      expect(waitingOf(failed)?.message).toMatch(UNAUTHORIZED);
      expect(failed.containers[0]?.containerID).toBeUndefined();
    }
  });

  it("never lets another tenant run an image pulled with this tenant's credentials without its own", async () => {
    // The "auth" test pulled `authImage` with credentials: it is on the Engine now.
    expect((await docker.getImage(authImage).inspect()).Id).toMatch(/^sha256:/);
    const intruder = podSpec("intruder", authImage, { tenantId: `tother${run}`, policy: "IfNotPresent" });
    await provider.startPod(intruder);
    const refused = await observed(intruder.podId, (p) => waitingOf(p)?.reason === "ErrImagePull");
    expect(waitingOf(refused)?.message).toMatch(UNAUTHORIZED);
    // The tenant whose credentials pulled it runs it as its policy says.
    const owned = podSpec("owned", authImage, { policy: "IfNotPresent" });
    await provider.startPod(owned);
    await observed(owned.podId, started);
  });

  it("never pulls with policy Never: ErrImageNeverPull while absent, runs what is present", async () => {
    const absent = `${REGISTRY}/kubernease-test/never-${run}:1`;
    const never = podSpec("never", absent, { policy: "Never" });
    await provider.startPod(never);
    const waiting = await observed(never.podId, (p) => waitingOf(p)?.reason === "ErrImageNeverPull");
    expect(waitingOf(waiting)?.message).toBe(`Container image "${absent}" is not present with pull policy of Never`);
    expect(observations(never.podId).some((p) => waitingOf(p)?.message?.startsWith("Pulling image"))).toBe(false);
    // The open registry's image was pulled by the first test: present, so Never runs it.
    const present = podSpec("present", openImage, { policy: "Never" });
    await provider.startPod(present);
    await observed(present.podId, started);
  });
});
