import { randomBytes } from "node:crypto";
import Docker from "dockerode";
import { afterAll, beforeAll, expect, it } from "vitest";
import {
  DOCKER_SOCKET,
  describeDocker,
  isDockerReachable,
  removeOwned,
  waitFor,
} from "../../../test/helpers/docker.js";
import { systemClock } from "../../core/clock.js";
import type { PodRuntimeSpec, ProviderEvent } from "../types.js";
import { DockerProvider, LABELS, tenantNetworkName } from "./index.js";
import { claimVolumeName } from "./spec.js";

/** Claims' volumes removed with the claim, and tenant networks removed with their last pod, on a real Engine. */
const NODE = "docker-main";
const WEB = "kubernease-test/web:1";
const run = randomBytes(4).toString("hex");
const owner = `vol-${run}`;
const tenant = `tv${run}`;
const reachable = await isDockerReachable();

function podSpec(id: string, options: { tenant?: string; claim?: string } = {}): PodRuntimeSpec {
  const claim = options.claim;
  return {
    podId: `${id}-${run}`,
    uid: `uid-${id}`,
    tenantId: options.tenant ?? tenant,
    namespace: "default",
    name: id,
    nodeName: NODE,
    spec: {
      containers: [
        {
          name: "web",
          image: WEB,
          resources: { limits: { cpu: "100m", memory: "32Mi" } },
          ...(claim ? { volumeMounts: [{ name: "data", mountPath: "/data" }] } : {}),
        },
      ],
      ...(claim ? { volumes: [{ name: "data", persistentVolumeClaim: { claimName: claim } }] } : {}),
    },
  };
}

describeDocker("claims' volumes and tenant networks on a real engine", reachable, () => {
  const docker = new Docker({ socketPath: DOCKER_SOCKET });
  const events: ProviderEvent[] = [];
  let provider: DockerProvider;
  const tenants = [tenant, `tw${run}`];

  const volumeExists = (name: string) =>
    docker
      .getVolume(name)
      .inspect()
      .then(
        () => true,
        () => false,
      );
  const networkExists = async (tenantId: string) => {
    const name = tenantNetworkName(tenantId);
    const list = await docker.listNetworks({ filters: JSON.stringify({ name: [name] }) });
    return list.some((n) => n.Name === name);
  };
  const running = (podId: string) =>
    waitFor(
      async () =>
        events.some(
          (e) =>
            e.type === "pod" &&
            e.pod.podId === podId &&
            e.pod.phase === "Running" &&
            e.pod.containers.every((c) => "running" in c.state),
        ),
      20_000,
    );

  beforeAll(() => {
    provider = new DockerProvider({ clock: systemClock, owner, hosts: [{ name: NODE, socketPath: DOCKER_SOCKET }] });
    provider.subscribe((e) => events.push(e));
  });

  afterAll(async () => {
    await provider?.close();
    await removeOwned(docker, owner);
    await docker
      .getVolume(claimVolumeName({ tenantId: tenant, namespace: "default", claimName: "foreign" }))
      .remove()
      .catch(() => {});
    for (const t of tenants) {
      await docker
        .getNetwork(tenantNetworkName(t))
        .remove()
        .catch(() => {});
    }
  }, 120_000);

  it("removes a claim's volume once no pod mounts it, never while one does; idempotent; only ours", async () => {
    const claim = { tenantId: tenant, namespace: "default", claimName: "data" };
    const name = claimVolumeName(claim);
    const pod = podSpec("db", { claim: "data" });
    await provider.startPod(pod);
    expect(await running(pod.podId)).toBe(true);
    const info = await docker.getVolume(name).inspect();
    expect(info.Labels?.[LABELS.owner]).toBe(owner);

    // In use: not forced, the caller is told to come back.
    expect(await provider.removeVolume(NODE, claim)).toBe(false);
    expect(await volumeExists(name)).toBe(true);

    await provider.stopPod(NODE, pod.podId);
    expect(await provider.removeVolume(NODE, claim)).toBe(true);
    expect(await volumeExists(name)).toBe(false);
    expect(await provider.removeVolume(NODE, claim)).toBe(true);
    expect(await provider.removeVolume("no-such-node", claim)).toBe(true);

    // A volume of that name that is not ours (another platform sharing the Engine) stays.
    const foreign = { tenantId: tenant, namespace: "default", claimName: "foreign" };
    await docker.createVolume({ Name: claimVolumeName(foreign), Labels: { [LABELS.owner]: `someone-else-${run}` } });
    expect(await provider.removeVolume(NODE, foreign)).toBe(true);
    expect(await volumeExists(claimVolumeName(foreign))).toBe(true);
  }, 180_000);

  it("removes a tenant's network with its last pod on the host, and makes it again for the next", async () => {
    const [one, two] = [podSpec("one"), podSpec("two")];
    await provider.startPod(one);
    await provider.startPod(two);
    expect(await running(one.podId)).toBe(true);
    expect(await running(two.podId)).toBe(true);
    expect(await networkExists(tenant)).toBe(true);

    await provider.stopPod(NODE, one.podId);
    expect(await networkExists(tenant)).toBe(true);
    await provider.stopPod(NODE, two.podId);
    expect(await networkExists(tenant)).toBe(false);

    const three = podSpec("three");
    await provider.startPod(three);
    expect(await running(three.podId)).toBe(true);
    expect(await networkExists(tenant)).toBe(true);
    await provider.stopPod(NODE, three.podId);
    expect(await networkExists(tenant)).toBe(false);
  }, 180_000);

  it("never pulls the network from under a pod that starts while the tenant's last pod stops", async () => {
    const other = tenants[1] as string;
    // Bounded: two rounds of one stop racing one start, each start must end Running.
    for (let round = 0; round < 2; round++) {
      const leaving = podSpec(`leave${round}`, { tenant: other });
      const coming = podSpec(`come${round}`, { tenant: other });
      await provider.startPod(leaving);
      expect(await running(leaving.podId)).toBe(true);
      // The start begins as the stop reports the last pod gone: just when the stop looks at the network.
      let started: Promise<unknown> | undefined;
      const unsubscribe = provider.subscribe((e) => {
        if (e.type === "podGone" && e.podId === leaving.podId)
          started ??= provider.startPod(coming).catch((error: unknown) => error);
      });
      await provider.stopPod(NODE, leaving.podId);
      unsubscribe();
      expect(await started).toBeUndefined();
      expect(await running(coming.podId)).toBe(true);
      expect(await networkExists(other)).toBe(true);
      await provider.stopPod(NODE, coming.podId);
    }
    expect(await networkExists(other)).toBe(false);
  }, 180_000);
});
