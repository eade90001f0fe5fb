/**
 * The node engines of test/helpers/docker.ts share this machine's kernel with the first engine: a
 * node's start must leave the first engine able to run containers on its default bridge.
 */
import Docker from "dockerode";
import { afterAll, expect, it } from "vitest";
import {
  bridgeAddresses,
  DOCKER_SOCKET,
  DockerNode,
  describeDocker,
  FIRST_ENGINE_BRIDGE,
  isDockerReachable,
  TEST_IMAGES,
} from "../helpers/docker.js";

const reachable = await isDockerReachable();
// An index no other suite uses: suites run side by side.
const node = new DockerNode(14);

afterAll(async () => {
  await node.destroy();
});

describeDocker("a node engine beside the first engine", reachable, () => {
  it("leaves the first engine's default bridge as it was, started anew on its own data", async () => {
    const before = await bridgeAddresses(FIRST_ENGINE_BRIDGE);
    expect(before?.length).toBeGreaterThan(0);
    // The second start finds the default network of the first in its data: that is when dockerd deletes docker0.
    await node.start();
    await node.stop();
    await node.start();
    expect(await bridgeAddresses(FIRST_ENGINE_BRIDGE)).toEqual(before);
    const docker = new Docker({ socketPath: DOCKER_SOCKET });
    const container = await docker.createContainer({
      Image: TEST_IMAGES[0],
      Cmd: ["true"],
      HostConfig: { AutoRemove: false, NetworkMode: "bridge" },
      Labels: { "kubernease.test": "nodes" },
    });
    try {
      await container.start();
      const { State } = await container.inspect();
      expect(State.Error).toBe("");
    } finally {
      await container.remove({ force: true });
    }
  }, 120_000);
});
