import { PassThrough } from "node:stream";
import { expect, it } from "vitest";
import { ManualClock } from "../../core/clock.js";
import { DockerProvider } from "./index.js";

/** The Engine clients of the provider's one host, replaced by stand-ins the test steers. */
function steered(provider: DockerProvider): { up: boolean; opened: number } {
  const state = { up: true, opened: 0 };
  const host = (provider as unknown as { hosts: Map<string, Record<string, unknown>> }).hosts.get("h");
  if (!host) throw new Error("no host");
  host.quick = {
    ping: async () => {
      if (!state.up) throw new Error("no answer");
    },
    info: async () => ({ NCPU: 1, MemTotal: 2 ** 30 }),
  };
  let listings = 0;
  host.docker = {
    getEvents: async () => {
      state.opened++;
      return new PassThrough();
    },
    // The first listing of the host's pods (the first watch's report) never answers: the host went silent then.
    listContainers: () => (++listings === 1 ? new Promise(() => {}) : Promise.resolve([])),
    listNetworks: async () => [],
  };
  return state;
}

it("opens the events stream anew when the Engine answers again, even if the last watch never ended", async () => {
  const provider = new DockerProvider({
    clock: new ManualClock(Date.now()),
    owner: "watch-test",
    hosts: [{ name: "h", host: "127.0.0.1", port: 1 }],
  });
  const engine = steered(provider);
  const settle = () => new Promise((resolve) => setTimeout(resolve, 20));
  await provider.listNodes();
  await settle();
  expect(engine.opened).toBe(1);
  engine.up = false;
  expect((await provider.listNodes())[0]?.ready).toBe(false);
  engine.up = true;
  expect((await provider.listNodes())[0]?.ready).toBe(true);
  await settle();
  expect(engine.opened).toBe(2);
  await provider.close();
});
