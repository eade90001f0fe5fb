import { createServer, request as httpRequest } from "node:http";
import type { AddressInfo } from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import { ManualClock } from "../../core/clock.js";
import { seededRng } from "../../core/rng.js";
import { SimulatedProvider } from "../simulated/index.js";
import { LogsNotFoundError, type NodeProvider, type PodRuntimeSpec, type ProviderEvent } from "../types.js";
import { RemoteProvider, RemoteProviderError } from "./client.js";
import { BATCH_CALLS, CALLS, MAX_START_BATCH, SCALING_CALLS, shareOwner } from "./protocol.js";
import { type ServedProvider, type ServeProviderOptions, serveProvider } from "./server.js";

const TOKEN = "contract-token";
const NODE_1 = "sim-default-1";
const NODE_2 = "sim-default-2";

/** Bounded wait for a condition that the other side of the wire makes true. */
async function until(what: string, check: () => boolean | Promise<boolean>, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting until ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

function simulated(clock: ManualClock): SimulatedProvider {
  return new SimulatedProvider({
    clock,
    rng: seededRng("remote-contract"),
    startLatencyMs: { min: 10, max: 10 },
    pools: [{ name: "default", count: 2, cpuMillis: 4000, memoryBytes: 8 * 2 ** 30, autoscale: { min: 2, max: 3 } }],
  });
}

function pod(id: string, nodeName: string, claim?: string): PodRuntimeSpec {
  return {
    podId: id,
    uid: `uid-${id}`,
    tenantId: "t1",
    namespace: "default",
    name: id,
    nodeName,
    spec: {
      containers: [{ name: "web", image: "nginx:1.27" }],
      ...(claim ? { volumes: [{ name: "data", persistentVolumeClaim: { claimName: claim } }] } : {}),
    },
  };
}

interface Harness {
  provider: NodeProvider;
  sim: SimulatedProvider;
  clock: ManualClock;
  events: ProviderEvent[];
  /** Resolves once every event the nodes emitted so far has reached `events`. */
  settle(): Promise<void>;
}

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

function direct(): Harness {
  const clock = new ManualClock(0);
  const sim = simulated(clock);
  const events: ProviderEvent[] = [];
  sim.subscribe((e) => events.push(e));
  cleanups.push(() => sim.close());
  return { provider: sim, sim, clock, events, settle: async () => {} };
}

async function serve(sim: SimulatedProvider, extra: Partial<ServeProviderOptions> = {}): Promise<ServedProvider> {
  const served = await serveProvider(sim, { port: 0, token: TOKEN, ...extra });
  cleanups.push(() => served.close());
  return served;
}

async function connect(url: string, extra: Partial<Parameters<typeof RemoteProvider.connect>[0]> = {}) {
  const provider = await RemoteProvider.connect({ url, token: TOKEN, callTimeoutMs: 10_000, ...extra });
  cleanups.push(() => provider.close());
  return provider;
}

/** The same nodes, served over HTTP and reached through a RemoteProvider, with its stream open before anything runs. */
async function remote(): Promise<Harness & { url: string; logs: string[] }> {
  const clock = new ManualClock(0);
  const sim = simulated(clock);
  cleanups.push(() => sim.close());
  const emitted: ProviderEvent[] = [];
  sim.subscribe((e) => emitted.push(e));
  const served = await serve(sim);
  const logs: string[] = [];
  const provider = await connect(served.url, { log: (message) => logs.push(message) });
  const events: ProviderEvent[] = [];
  provider.subscribe((e) => events.push(e));
  await until("the event stream is open", () => logs.includes("event stream connected"));
  // Events are taken from `events` as they are observed, so what arrived is counted apart.
  let arrived = 0;
  provider.subscribe(() => arrived++);
  return {
    provider,
    sim,
    clock,
    events,
    url: served.url,
    logs,
    settle: () => until("every emitted event arrived", () => arrived >= emitted.length),
  };
}

async function collect(chunks: AsyncIterable<string>): Promise<string[]> {
  const all: string[] = [];
  for await (const chunk of chunks) all.push(chunk);
  return all;
}

/** One sequence of calls; what each returned or threw, and the events it caused, in order. */
async function scenario(h: Harness): Promise<unknown[]> {
  const { provider, clock } = h;
  const observations: unknown[] = [];
  const step = async (label: string, run: () => Promise<unknown> | unknown) => {
    let value: unknown;
    try {
      value = await run();
    } catch (error) {
      const e = error as Error;
      value = { error: e.name, message: e.message, logsNotFound: error instanceof LogsNotFoundError };
    }
    await h.settle();
    observations.push({ label, value, events: h.events.splice(0) });
  };
  const tick = () => new Promise((resolve) => setImmediate(resolve));

  await step("listNodes", () => provider.listNodes());
  await step("pools", () => provider.scaling?.pools());
  await step("start p1", () => provider.startPod(pod("p1", NODE_1)));
  await step("start p2 with a claim", () => provider.startPod(pod("p2", NODE_2, "data")));
  await step("latency passes", () => clock.advance(10));
  await step("listPods", () => provider.listPods());
  await step("listPods on node 2", () => provider.listPods(NODE_2));
  await step("probe", () => provider.probe(NODE_1, "p1", "web", "readiness", { httpGet: { port: 80 } }));
  await step("probe a missing container", () => provider.probe(NODE_1, "p1", "nope", "liveness", {}));
  await step("logs", async () => collect(await provider.logs(NODE_1, "p1", "web")));
  await step("logs, previous run", async () => collect(await provider.logs(NODE_1, "p1", "web", { previous: true })));
  await step("logs, unknown pod", async () => collect(await provider.logs(NODE_1, "nope", "web")));
  const run1 = (await provider.listPods(NODE_1))[0]?.containers[0]?.containerID;
  await step("follow, then kill: the follow ends with the run", async () => {
    const following = collect(await provider.logs(NODE_1, "p1", "web", { follow: true }));
    await tick();
    await provider.killContainer(NODE_1, "p1", "web", run1);
    return following;
  });
  await step("restart another run: nothing", () => provider.restartContainer(NODE_1, "p1", "web", "other-run"));
  await step("restart the run", () => provider.restartContainer(NODE_1, "p1", "web", run1));
  await step("restart latency passes", () => clock.advance(10));
  await step("logs, previous run", async () => collect(await provider.logs(NODE_1, "p1", "web", { previous: true })));
  await step("follow, then abort: the follow ends", async () => {
    const abort = new AbortController();
    const following = collect(await provider.logs(NODE_1, "p1", "web", { follow: true, signal: abort.signal }));
    await tick();
    abort.abort();
    return following;
  });
  await step("start p1 again: no-op, its state reported", () => provider.startPod(pod("p1", NODE_1)));
  const claim = { tenantId: "t1", namespace: "default", claimName: "data" };
  await step("remove a volume in use", () => provider.removeVolume?.(NODE_2, claim));
  await step("stop p2", () => provider.stopPod(NODE_2, "p2", { gracePeriodSeconds: 1 }));
  await step("stop p2 again: no-op", () => provider.stopPod(NODE_2, "p2"));
  await step("remove the volume", () => provider.removeVolume?.(NODE_2, claim));
  await step("start on an unknown node", () => provider.startPod(pod("p3", "sim-nowhere")));
  await step("add a node", () => provider.scaling?.addNode("default"));
  await step("pools after adding", () => provider.scaling?.pools());
  await step("add beyond the max", () => provider.scaling?.addNode("default"));
  await step("listNodes", () => provider.listNodes());
  await step("remove the node", () => provider.scaling?.removeNode("sim-default-3"));
  await step("remove below the min", () => provider.scaling?.removeNode(NODE_1));
  await step("listPods", () => provider.listPods());
  return observations;
}

describe("RemoteProvider against serveProvider", () => {
  it("observes exactly what the served provider shows in process, call for call and event for event", async () => {
    const expected = await scenario(direct());
    const r = await remote();
    const actual = await scenario(r);
    expect(actual).toEqual(expected);

    // The scenario is not vacuous: the things it is about did happen, and crossed the wire.
    const text = JSON.stringify(actual);
    expect(text).toContain('"phase":"Running"');
    expect(text).toContain('"exitCode":137');
    expect(text).toContain('"logsNotFound":true');
    expect(text).toContain('"type":"podGone"');
    expect(text).toContain('"type":"nodeGone"');
    expect(text).toContain("simulated pool default is at its max of 3 nodes");
    expect(text).toContain("started nginx:1.27 (run 2)");
    expect(r.provider.name).toBe("remote");
    expect((r.provider as RemoteProvider).remoteName).toBe("simulated");
    await expect(r.provider.logs(NODE_1, "p1", "web", { previous: true, tailLines: 0 })).resolves.toBeDefined();
    await expect(r.provider.logs(NODE_1, "gone", "web")).rejects.toBeInstanceOf(LogsNotFoundError);
    await expect(r.provider.startPod(pod("p9", "sim-nowhere"))).rejects.toBeInstanceOf(RemoteProviderError);
  });

  it("starts a pod once however often, and however concurrently, it is asked to", async () => {
    const r = await remote();
    await Promise.all([r.provider.startPod(pod("p1", NODE_1)), r.provider.startPod(pod("p1", NODE_1))]);
    r.clock.advance(10);
    const running = await r.provider.listPods();
    expect(running).toHaveLength(1);
    expect(running[0]).toMatchObject({ phase: "Running", containers: [{ containerID: "simulated://p1-web-1" }] });
    await r.provider.startPod(pod("p1", NODE_1));
    r.clock.advance(1_000);
    expect(await r.provider.listPods()).toEqual(running);
    await r.settle();
    // Each start after the first only reports the pod again; it never goes back to Pending.
    const states = r.events.map((e) => (e.type === "pod" ? e.pod.phase : e.type));
    expect(states.filter((s) => s === "Pending")).toHaveLength(2);
    expect(states.slice(states.indexOf("Running"))).toEqual(["Running", "Running"]);
  });

  it("completes 2,000 concurrent calls, and streams every event they cause", async () => {
    const r = await remote();
    const ids = Array.from({ length: 2_000 }, (_, i) => `p${i}`);
    await Promise.all(ids.map((id, i) => r.provider.startPod(pod(id, i % 2 ? NODE_1 : NODE_2))));
    expect((await r.sim.listPods()).map((p) => p.podId).sort()).toEqual([...ids].sort());
    await r.settle();
    const seen = new Set(r.events.flatMap((e) => (e.type === "pod" ? [e.pod.podId] : [])));
    expect(seen.size).toBe(2_000);
  });

  it("sends a burst of starts in a few requests, each start answering for itself", async () => {
    const clock = new ManualClock(0);
    const sim = simulated(clock);
    cleanups.push(() => sim.close());
    const served = await serve(sim);
    // A pass-through in front of the node process, counting the start requests that cross it.
    const paths: string[] = [];
    const counter = createServer((req, res) => {
      paths.push(req.url ?? "");
      const target = new URL(served.url);
      const forward = httpRequest(
        { host: target.hostname, port: target.port, path: req.url, method: req.method, headers: req.headers },
        (answer) => {
          res.writeHead(answer.statusCode ?? 502, answer.headers);
          answer.pipe(res);
        },
      );
      req.pipe(forward);
    });
    await new Promise<void>((resolve) => counter.listen(0, "127.0.0.1", resolve));
    cleanups.push(() => new Promise<void>((resolve) => counter.close(() => resolve())));
    const provider = await connect(`http://127.0.0.1:${(counter.address() as AddressInfo).port}`);

    const ids = Array.from({ length: 1_200 }, (_, i) => `p${i}`);
    // Every tenth asks for a node that does not exist: it fails alone, the others of its batch start.
    const outcomes = await Promise.allSettled(
      ids.map((id, i) => provider.startPod(pod(id, i % 10 === 9 ? "sim-nowhere" : i % 2 ? NODE_1 : NODE_2))),
    );
    const failed = outcomes.flatMap((o, i) => (o.status === "rejected" ? [i] : []));
    expect(failed).toEqual(ids.flatMap((_, i) => (i % 10 === 9 ? [i] : [])));
    for (const i of failed) {
      expect((outcomes[i] as PromiseRejectedResult).reason).toBeInstanceOf(RemoteProviderError);
    }
    expect((await sim.listPods()).map((p) => p.podId).sort()).toEqual(ids.filter((_, i) => i % 10 !== 9).sort());
    // The first two go at once, each alone; the rest wait for them and go MAX_START_BATCH at a time.
    const starts = paths.filter((p) => p === "/v1/call/startPods");
    expect(starts).toHaveLength(2 + Math.ceil((ids.length - 2) / MAX_START_BATCH));
  });

  it("refuses a start batch that is not an array of at most MAX_START_BATCH pods", async () => {
    const sim = simulated(new ManualClock(0));
    cleanups.push(() => sim.close());
    const served = await serve(sim);
    const tooMany = Array.from({ length: MAX_START_BATCH + 1 }, (_, i) => pod(`p${i}`, NODE_1));
    for (const body of [JSON.stringify([{ podId: "p1" }]), JSON.stringify([tooMany])]) {
      const res = await fetch(`${served.url}/v1/call/startPods`, {
        method: "POST",
        headers: { authorization: `Bearer ${TOKEN}` },
        body,
      });
      expect(res.status).toBe(400);
      expect(await res.json()).toMatchObject({ error: { name: "BadRequest" } });
    }
    expect(await sim.listPods()).toEqual([]);
  });

  it("refuses every route without the right bearer token", async () => {
    const sim = simulated(new ManualClock(0));
    cleanups.push(() => sim.close());
    const served = await serve(sim);
    const routes = [
      ["GET", "/v1/info"],
      ["GET", "/v1/events"],
      ["POST", "/v1/logs"],
      ...[...Object.keys(CALLS), ...Object.keys(SCALING_CALLS), ...Object.keys(BATCH_CALLS)].map((m) => [
        "POST",
        `/v1/call/${m}`,
      ]),
    ] as const;
    const wrong = [undefined, "Bearer wrong", `Bearer ${TOKEN}x`, `Bearer ${TOKEN.slice(1)}`, `Basic ${TOKEN}`, TOKEN];
    for (const [method, path] of routes) {
      for (const authorization of wrong) {
        const res = await fetch(`${served.url}${path}`, {
          method,
          headers: authorization ? { authorization } : {},
          ...(method === "POST" ? { body: "[]" } : {}),
        });
        expect({ path, authorization, status: res.status }).toEqual({ path, authorization, status: 401 });
        expect(await res.json()).toMatchObject({ error: { name: "Unauthorized" } });
      }
      // The right token gets past the check on every one of these routes.
      const abort = new AbortController();
      const res = await fetch(`${served.url}${path}`, {
        method,
        headers: { authorization: `Bearer ${TOKEN}` },
        ...(method === "POST" ? { body: "[]" } : {}),
        signal: abort.signal,
      });
      expect({ path, status: res.status }).not.toEqual({ path, status: 401 });
      abort.abort();
    }
    await expect(RemoteProvider.connect({ url: served.url, token: "wrong" })).rejects.toThrow(/refused the token/);
  });

  it("answers a malformed call with 400 and an unknown one with 404; reads null as an argument left out", async () => {
    const sim = simulated(new ManualClock(0));
    cleanups.push(() => sim.close());
    const served = await serve(sim);
    const post = (path: string, body: string) =>
      fetch(`${served.url}${path}`, { method: "POST", headers: { authorization: `Bearer ${TOKEN}` }, body });
    expect((await post("/v1/call/listPods", "{")).status).toBe(400);
    expect((await post("/v1/call/listPods", '{"a":1}')).status).toBe(400);
    expect((await post("/v1/call/listPods", '["a","b"]')).status).toBe(400);
    expect((await post("/v1/call/close", "[]")).status).toBe(404);
    expect((await post("/v1/call/subscribe", "[]")).status).toBe(404);
    expect((await post("/v1/call/constructor", "[]")).status).toBe(404);
    // JSON has no undefined: a null argument means one left out (all nodes), not a node named null.
    await sim.startPod(pod("p1", NODE_1));
    const all = await post("/v1/call/listPods", "[null]");
    expect(((await all.json()) as { podId: string }[]).map((p) => p.podId)).toEqual(["p1"]);
  });

  it("drops an event stream that is not read, rather than buffering for it without bound", async () => {
    const sim = simulated(new ManualClock(0));
    cleanups.push(() => sim.close());
    const served = await serve(sim, { maxEventBufferBytes: 64 * 1024 });
    let closed = false;
    let readBytes = 0;
    const unread = await new Promise<import("node:http").IncomingMessage>((resolve, reject) => {
      const req = httpRequest(`${served.url}/v1/events`, { headers: { authorization: `Bearer ${TOKEN}` } }, (res) => {
        // Not read for now: the kernel's buffers fill, then the server's.
        res.pause();
        res.on("data", (chunk: Buffer) => {
          readBytes += chunk.length;
        });
        res.on("error", () => {});
        res.on("close", () => {
          closed = true;
        });
        resolve(res);
      });
      req.once("error", reject);
      req.end();
    });
    const sentBytes = { total: 0 };
    sim.subscribe((e) => {
      sentBytes.total += JSON.stringify(e).length + 1;
    });
    // About 50 MB of events, far beyond what socket buffers hold, in turns so the server can write.
    for (let turn = 0; turn < 2_000; turn++) {
      for (let i = 0; i < 100; i++) sim.setNodeReady(NODE_1, i % 2 !== 0);
      await new Promise((resolve) => setImmediate(resolve));
    }
    unread.resume();
    // Dropped: what was buffered arrives, then the stream ends. Kept: it would stay open with all 50 MB for it.
    await until("the unread stream ends", () => closed, 20_000);
    expect(sentBytes.total).toBeGreaterThan(40 * 2 ** 20);
    expect(readBytes).toBeLessThan(sentBytes.total / 2);
  });

  it("reopens an event stream gone silent, and keeps one that heartbeats", async () => {
    const sim = simulated(new ManualClock(0));
    cleanups.push(() => sim.close());
    const silent = await serve(sim, { heartbeatMs: 3_600_000 });
    const silentLogs: string[] = [];
    const a = await connect(silent.url, { streamIdleMs: 300, log: (m) => silentLogs.push(m) });
    a.subscribe(() => {});
    await until("a silent stream is taken for dead and reopened", () =>
      silentLogs.includes("event stream reconnected; events meanwhile were missed"),
    );

    const beating = await serveProvider(sim, { port: 0, token: TOKEN, heartbeatMs: 50 });
    cleanups.push(() => beating.close());
    const beatingLogs: string[] = [];
    const b = await connect(beating.url, { streamIdleMs: 2_000, log: (m) => beatingLogs.push(m) });
    b.subscribe(() => {});
    await until("the stream is open", () => beatingLogs.includes("event stream connected"));
    await new Promise((resolve) => setTimeout(resolve, 3_000));
    expect(beatingLogs).toEqual(["event stream connected"]);
  });

  it("closes the stream when the last listener leaves, and opens it again for a new one", async () => {
    const sim = simulated(new ManualClock(0));
    cleanups.push(() => sim.close());
    const served = await serve(sim);
    const logs: string[] = [];
    const provider = await connect(served.url, { log: (m) => logs.push(m) });
    const first: ProviderEvent[] = [];
    const unsubscribe = provider.subscribe((e) => first.push(e));
    await until("the stream is open", () => logs.includes("event stream connected"));
    unsubscribe();
    await new Promise((resolve) => setTimeout(resolve, 200));
    const second: ProviderEvent[] = [];
    provider.subscribe((e) => second.push(e));
    await until("a new stream is open", () => logs.includes("event stream reconnected; events meanwhile were missed"));
    await provider.startPod(pod("p1", NODE_1));
    await until("the new listener hears of the pod", () => second.length === 1);
    expect(first).toEqual([]);
  });

  it("deals each node's pod events to one of the streams that share them, and every event to the others", async () => {
    const clock = new ManualClock(0);
    const sim = simulated(clock);
    cleanups.push(() => sim.close());
    const served = await serve(sim);
    const heard = async (share: boolean) => {
      const logs: string[] = [];
      const provider = await connect(served.url, { sharePodEvents: share, log: (m) => logs.push(m) });
      const events: ProviderEvent[] = [];
      provider.subscribe((e) => events.push(e));
      await until("the event stream is open", () => logs.includes("event stream connected"));
      return { provider, events };
    };
    // Sharing streams are numbered from 1 in the order they opened; a node's is `shareOwner` of them.
    const a = await heard(true);
    const b = await heard(true);
    const all = await heard(false);
    const podIds = (events: ProviderEvent[]) => events.flatMap((e) => (e.type === "pod" ? [e.pod.podId] : []));
    const started = [] as string[];
    for (let i = 0; i < 6; i++) {
      const node = i % 2 === 0 ? NODE_1 : NODE_2;
      await all.provider.startPod(pod(`p${i}`, node));
      started.push(`p${i}`);
    }
    clock.advance(10);
    await until("the stream that hears all has every start", () => new Set(podIds(all.events)).size === 6);
    await until(
      "the sharing streams have theirs",
      () => new Set([...podIds(a.events), ...podIds(b.events)]).size === 6,
    );
    for (const [i, id] of started.entries()) {
      const owner = shareOwner(i % 2 === 0 ? NODE_1 : NODE_2, [1, 2]) === 1 ? a : b;
      const other = owner === a ? b : a;
      expect(podIds(owner.events)).toContain(id);
      expect(podIds(other.events)).not.toContain(id);
    }
    // Node events go to every stream.
    await all.provider.scaling?.addNode("default");
    await until("every stream hears the new node", () =>
      [a, b, all].every((h) => h.events.some((e) => e.type === "node" && e.node.name === "sim-default-3")),
    );
    // A sharing stream that goes: the one left hears every pod event.
    await a.provider.close();
    await until("the server lets the closed stream go", async () => {
      const [fromB, fromAll] = [b.events.length, all.events.length];
      await all.provider.startPod(pod("p0", NODE_1));
      await all.provider.startPod(pod("p1", NODE_2));
      await until("the stream that hears all has both", () => all.events.length >= fromAll + 2);
      // The pod events go out in one turn, to every stream at once: what b missed, it will not get.
      await new Promise((resolve) => setTimeout(resolve, 20));
      const late = podIds(b.events.slice(fromB));
      return late.includes("p0") && late.includes("p1");
    });
  });
});
