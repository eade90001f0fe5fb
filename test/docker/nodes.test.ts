/**
 * The node engines of test/helpers/docker.ts share this machine's kernel with the first engine: a
 * node's start must leave the first engine able to run containers on its default bridge.
 */
import Docker from "dockerode";
import { afterAll, expect, it } from "vitest";
import {
  DOCKER_SOCKET,
  DockerNode,
  describeDocker,
  firstEngineBridge,
  isDockerReachable,
  linkAddresses,
  TEST_IMAGES,
  waitFor,
} from "../helpers/docker.js";

const reachable = await isDockerReachable();
// An index no other suite uses: suites run side by side.
const node = new DockerNode(14);

afterAll(async () => {
  await node.destroy();
});

/** Whether the first engine starts a container on its default bridge (a try may meet another node's start). */
async function startsOnDefaultBridge(docker: Docker): Promise<boolean> {
  const container = await docker.createContainer({
    Image: TEST_IMAGES[0],
    Cmd: ["true"],
    HostConfig: { NetworkMode: "bridge" },
  });
  try {
    await container.start();
    return true;
  } catch {
    return false;
  } finally {
    await container.remove({ force: true });
  }
}

describeDocker("a node engine beside the first engine", reachable, () => {
  it("leaves the first engine's default bridge in place, started anew on its own data", async () => {
    const bridge = await firstEngineBridge();
    expect(bridge).toBeDefined();
    if (!bridge) return;
    // The second start finds the default network of the first in its data: that is when dockerd deletes the bridge.
    await node.start();
    await node.stop();
    await node.start();
    // Other suites' nodes may be starting too; each puts the bridge back once it answers.
    expect(await waitFor(async () => (await linkAddresses(bridge.name))?.includes(bridge.cidr) ?? false, 30_000)).toBe(
      true,
    );
    const docker = new Docker({ socketPath: DOCKER_SOCKET });
    expect(await waitFor(() => startsOnDefaultBridge(docker), 30_000)).toBe(true);
  }, 180_000);
});
