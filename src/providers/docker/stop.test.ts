/**
 * A graceful stop on a real Engine, as the kubelet does it: the preStop hook,
 * then SIGTERM, then SIGKILL only for what still runs when the grace period is
 * over. What happened is read from the Engine's own event stream.
 */
import { randomBytes } from "node:crypto";
import Docker from "dockerode";
import { afterAll, expect, it } from "vitest";
import {
  DOCKER_SOCKET,
  describeDocker,
  isDockerReachable,
  removeOwned,
  waitFor,
} from "../../../test/helpers/docker.js";
import { systemClock } from "../../core/clock.js";
import type { Json, PodRuntimeSpec, ProviderEvent } from "../types.js";
import { DockerProvider, LABELS, tenantNetworkName } from "./index.js";

const NODE = "docker-main";
const run = randomBytes(4).toString("hex");
const owner = `test-${run}`;
const tenant = `ts${run}`;
const reachable = await isDockerReachable();

function podSpec(id: string, command: string, lifecycle?: Json): PodRuntimeSpec {
  return {
    podId: `${id}-${run}`,
    uid: `uid-${id}`,
    tenantId: tenant,
    namespace: "default",
    name: id,
    nodeName: NODE,
    spec: {
      containers: [
        {
          name: "app",
          image: "kubernease-test/web:1",
          command: ["/bin/sh", "-c", command],
          ...(lifecycle ? { lifecycle } : {}),
        },
      ],
    },
    env: {},
  };
}

interface EngineEvent {
  Action: string;
  timeNano: number;
  Actor: { Attributes: Record<string, string> };
}

describeDocker("DockerProvider stops pods gracefully", reachable, () => {
  const docker = new Docker({ socketPath: DOCKER_SOCKET });
  const provider = new DockerProvider({
    clock: systemClock,
    owner,
    hosts: [{ name: NODE, socketPath: DOCKER_SOCKET }],
  });
  const seen: ProviderEvent[] = [];
  provider.subscribe((e) => seen.push(e));

  afterAll(async () => {
    await provider.close();
    await removeOwned(docker, owner);
    await docker
      .getNetwork(tenantNetworkName(tenant))
      .remove()
      .catch(() => {});
  });

  async function startAndWait(spec: PodRuntimeSpec): Promise<string> {
    await provider.startPod(spec);
    const up = await waitFor(async () => {
      const latest = seen.filter((e) => e.type === "pod" && e.pod.podId === spec.podId).at(-1);
      return latest?.type === "pod" && latest.pod.containers.every((c) => "running" in c.state);
    }, 60_000);
    expect(up).toBe(true);
    const [app] = await docker.listContainers({
      filters: JSON.stringify({ label: [`${LABELS.pod}=${spec.podId}`, `${LABELS.role}=app`] }),
    });
    return app?.Id as string;
  }

  /** The Engine's events of one container between two times (seconds), in order. */
  async function eventsOf(id: string, since: number, until: number): Promise<EngineEvent[]> {
    const stream = (await docker.getEvents({
      since,
      until,
      filters: JSON.stringify({ container: [id] }),
    })) as unknown as NodeJS.ReadableStream;
    let text = "";
    for await (const chunk of stream) text += chunk.toString();
    return text
      .split("\n")
      .filter((l) => l.trim() !== "")
      .map((l) => JSON.parse(l) as EngineEvent);
  }

  it("runs the preStop hook, then SIGTERM; a container that exits on it is not killed", async () => {
    const preStop = { exec: { command: ["/bin/sh", "-c", "echo draining > /tmp/prestop"] } };
    const spec = podSpec("polite", "trap 'exit 0' TERM; while true; do sleep 0.1; done", { preStop });
    const id = await startAndWait(spec);
    const since = Math.floor(Date.now() / 1000) - 1;
    await provider.stopPod(NODE, spec.podId, { gracePeriodSeconds: 20, preStop: { app: preStop } });
    const events = await eventsOf(id, since, Math.ceil(Date.now() / 1000) + 1);
    const actions = events.map((e) =>
      e.Action === "kill"
        ? `kill ${e.Actor.Attributes.signal}`
        : e.Action === "die"
          ? `die ${e.Actor.Attributes.exitCode}`
          : e.Action,
    );
    const hook = actions.findIndex((a) => a.startsWith("exec_start") && a.includes("/tmp/prestop"));
    const term = actions.indexOf("kill 15");
    expect(hook).toBeGreaterThanOrEqual(0);
    expect(term).toBeGreaterThan(hook);
    expect(actions.slice(term)).toContain("die 0");
    expect(actions).not.toContain("kill 9");
    expect(
      await docker.listContainers({ all: true, filters: JSON.stringify({ label: [`${LABELS.pod}=${spec.podId}`] }) }),
    ).toEqual([]);
  }, 120_000);

  it("kills a container that ignores SIGTERM once the grace period is over, not before", async () => {
    const spec = podSpec("stubborn", "trap '' TERM; while true; do sleep 0.1; done");
    const id = await startAndWait(spec);
    const since = Math.floor(Date.now() / 1000) - 1;
    await provider.stopPod(NODE, spec.podId, { gracePeriodSeconds: 2 });
    const events = await eventsOf(id, since, Math.ceil(Date.now() / 1000) + 1);
    const term = events.find((e) => e.Action === "kill" && e.Actor.Attributes.signal === "15");
    const kill = events.find((e) => e.Action === "kill" && e.Actor.Attributes.signal === "9");
    const die = events.find((e) => e.Action === "die");
    expect(term && kill && die).toBeTruthy();
    expect(die?.Actor.Attributes.exitCode).toBe("137");
    // The grace period is counted in whole seconds by the Engine.
    expect(((kill?.timeNano ?? 0) - (term?.timeNano ?? 0)) / 1e6).toBeGreaterThanOrEqual(1_900);
  }, 120_000);
});
