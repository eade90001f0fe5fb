/**
 * A `NodeProvider` whose nodes live in another process — `kubernease nodes --simulated`, served by
 * `serveProvider` — so that several workers share them, as they share a Docker host.
 *
 * Calls go over keep-alive connections (many at once, one call per connection at a time, so a slow
 * call never holds up another), each bounded by a timeout: an unreachable or hung node process makes
 * a call reject with `ProviderUnreachableError`, never hang. Events arrive on one stream, opened at
 * the first `subscribe`, reopened with a bounded back-off whenever it breaks. Events missed while it
 * is down are not replayed, and nothing stands in for them: the control plane is level-triggered and
 * re-lists what it needs.
 */
import { type Dispatcher, Pool } from "undici";
import { type Clock, systemClock } from "../../core/clock.js";
import type {
  ClaimVolumeRef,
  Json,
  LogOptions,
  NodePoolShape,
  NodeProvider,
  NodeScaling,
  ObservedPod,
  PodRuntimeSpec,
  ProbeKind,
  ProbeResult,
  ProviderEvent,
  ProviderNode,
  StopOptions,
} from "../types.js";
import {
  type CallName,
  DEFAULT_HEARTBEAT_MS,
  fromWire,
  LineSplitter,
  MAX_START_BATCH,
  type ProviderInfo,
  ProviderUnreachableError,
  RemoteProviderError,
  SHARE_POD_EVENTS,
} from "./protocol.js";

export { ProviderUnreachableError, RemoteProviderError } from "./protocol.js";

export interface RemoteProviderOptions {
  /** The node process, e.g. `http://127.0.0.1:7070`. */
  url: string;
  token: string;
  /** Timeouts and back-offs; the system clock when absent. */
  clock?: Clock;
  /** How long one call may take, queueing included (a graceful `stopPod` gets its grace period on top). */
  callTimeoutMs?: number;
  /** Keep-alive connections for calls: how many calls run at once; more wait their turn. */
  connections?: number;
  /** The event stream's reconnect back-off: from `minMs`, doubling per failed attempt, up to `maxMs`. */
  reconnectMs?: { minMs: number; maxMs: number };
  /** An event stream silent this long (no event, no heartbeat) is taken for dead and reopened. */
  streamIdleMs?: number;
  /**
   * Hear only this process's share of pod events (protocol.ts): each node's go to one of the
   * processes asking so, as each node has one kubelet. For workers that record observations
   * themselves (`ControlPlaneOptions.observations: "local"`), so each is recorded once.
   */
  sharePodEvents?: boolean;
  /** How long `connect` waits for the node process to answer (it may be starting too). */
  connectTimeoutMs?: number;
  log?: (message: string, fields?: Record<string, unknown>) => void;
}

const DEFAULT_CALL_TIMEOUT_MS = 30_000;
/** Enough for the ~200 calls a worker has in flight at once, with room for a second worker's share. */
const DEFAULT_CONNECTIONS = 256;
const DEFAULT_RECONNECT = { minMs: 100, maxMs: 5_000 };
/** Three heartbeats missed. */
const DEFAULT_STREAM_IDLE_MS = 3 * DEFAULT_HEARTBEAT_MS;
const DEFAULT_CONNECT_TIMEOUT_MS = 30_000;
const MAX_CONNECT_ATTEMPTS = 1_000;
/** An event or a log chunk is far smaller; a longer line is a broken peer. */
const MAX_LINE_CHARS = 16 * 2 ** 20;
/** Event and log streams at once (each holds a connection while it lasts), apart from the calls' connections. */
const STREAM_CONNECTIONS = 64;

/** Batches of starts under way at once; starts asked for meanwhile wait and go together. */
const START_BATCHES_AT_ONCE = 2;

interface WaitingStart {
  pod: PodRuntimeSpec;
  resolve: () => void;
  reject: (error: unknown) => void;
}

export class RemoteProvider implements NodeProvider {
  readonly name = "remote";
  /** Starts asked for together go in `startPods` calls, two at a time. */
  readonly concurrentStarts = 2 * MAX_START_BATCH;
  /** Present when the served provider scales. */
  readonly scaling: NodeScaling | undefined;
  /** Present when the served provider keeps claim volumes. */
  readonly removeVolume?: (nodeName: string, claim: ClaimVolumeRef) => Promise<boolean>;
  /** The served provider's own name (`simulated`). */
  readonly remoteName: string;

  private readonly clock: Clock;
  private readonly headers: Record<string, string>;
  private readonly callTimeoutMs: number;
  private readonly listeners = new Set<(event: ProviderEvent) => void>();
  private closed = false;
  private streamRunning = false;
  /** A stream was open before: one opened now follows a gap in which events were missed. */
  private streamWasOpen = false;
  private streamAbort: AbortController | undefined;
  private wakeBackoff: (() => void) | undefined;
  private pools: NodePoolShape[];
  private poolsRefresh: Promise<void> | undefined;
  private poolsStale = false;
  /** Starts asked for and not yet sent, and batches of them under way (see `startPod`). */
  private readonly waitingStarts: WaitingStart[] = [];
  private startBatchesUnderWay = 0;

  /**
   * Asks the node process what it serves (whether it scales, its pools) — once, here — and returns a
   * provider for it. Waits up to `connectTimeoutMs` for a process that is not up yet; a wrong token
   * fails at once.
   */
  static async connect(options: RemoteProviderOptions): Promise<RemoteProvider> {
    const clock = options.clock ?? systemClock;
    const pools = createPools(options);
    const deadlineMs = clock.now() + (options.connectTimeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS);
    const backoff = options.reconnectMs ?? DEFAULT_RECONNECT;
    const timeoutMs = Math.min(options.callTimeoutMs ?? DEFAULT_CALL_TIMEOUT_MS, 10_000);
    // Bounded in time by the deadline (and in count, for a clock that does not move).
    for (let attempt = 0; attempt < MAX_CONNECT_ATTEMPTS; attempt++) {
      try {
        const info = (await request(pools.calls, clock, headersOf(options.token), "GET", "/v1/info", undefined, {
          what: "info",
          timeoutMs,
          url: options.url,
        })) as ProviderInfo;
        return new RemoteProvider(options, info, pools);
      } catch (error) {
        const waitMs = Math.min(backoff.maxMs, backoff.minMs * 2 ** Math.min(attempt, 20));
        if (!(error instanceof ProviderUnreachableError) || clock.now() + waitMs > deadlineMs) {
          await Promise.all([pools.calls.destroy(), pools.streams.destroy()]);
          throw error instanceof RemoteProviderError && error.name === "Unauthorized"
            ? new RemoteProviderError("Unauthorized", `the node process at ${options.url} refused the token`)
            : error;
        }
        await new Promise<void>((resolve) => clock.setTimer(waitMs, resolve));
      }
    }
    await Promise.all([pools.calls.destroy(), pools.streams.destroy()]);
    throw new ProviderUnreachableError(
      `the node process at ${options.url} did not answer in ${MAX_CONNECT_ATTEMPTS} tries`,
    );
  }

  private constructor(
    private readonly options: RemoteProviderOptions,
    info: ProviderInfo,
    private readonly connections: { calls: Pool; streams: Pool },
  ) {
    this.clock = options.clock ?? systemClock;
    this.headers = headersOf(options.token);
    this.callTimeoutMs = options.callTimeoutMs ?? DEFAULT_CALL_TIMEOUT_MS;
    this.remoteName = info.name;
    this.pools = info.pools ?? [];
    if (info.volumes) {
      this.removeVolume = (nodeName, claim) => this.call("removeVolume", [nodeName, claim]) as Promise<boolean>;
    }
    this.scaling = info.pools
      ? {
          pools: () => structuredClone(this.pools),
          addNode: async (pool) => {
            const node = (await this.call("addNode", [pool])) as ProviderNode;
            await this.refreshPools();
            return node;
          },
          removeNode: async (name) => {
            await this.call("removeNode", [name]);
            await this.refreshPools();
          },
        }
      : undefined;
  }

  async listNodes(): Promise<ProviderNode[]> {
    return (await this.call("listNodes", [])) as ProviderNode[];
  }

  /**
   * Starts go out together: one goes at once when none is under way; those asked for meanwhile wait
   * for a batch under way to end and then go in one `startPods` call (`MAX_START_BATCH` at most, two
   * batches at once). Alone, a start costs what its own call would; in a burst of thousands, a round
   * trip carries hundreds. Each start still answers for itself.
   */
  startPod(pod: PodRuntimeSpec): Promise<void> {
    if (this.closed) return Promise.reject(new Error("the remote provider is closed"));
    return new Promise<void>((resolve, reject) => {
      this.waitingStarts.push({ pod, resolve, reject });
      this.sendStarts();
    });
  }

  private sendStarts(): void {
    while (this.waitingStarts.length > 0 && this.startBatchesUnderWay < START_BATCHES_AT_ONCE) {
      const batch = this.waitingStarts.splice(0, MAX_START_BATCH);
      this.startBatchesUnderWay++;
      void this.startBatch(batch).finally(() => {
        this.startBatchesUnderWay--;
        this.sendStarts();
      });
    }
  }

  private async startBatch(batch: WaitingStart[]): Promise<void> {
    let outcomes: unknown;
    try {
      outcomes = await this.call("startPods", [batch.map((start) => start.pod)]);
    } catch (error) {
      for (const start of batch) start.reject(error);
      return;
    }
    batch.forEach((start, i) => {
      const outcome = Array.isArray(outcomes) ? outcomes[i] : undefined;
      if (outcome === null) start.resolve();
      else start.reject(fromWire(outcome, 500));
    });
  }

  async stopPod(nodeName: string, podId: string, options?: StopOptions): Promise<void> {
    // A graceful stop may take its whole grace period before it answers.
    const graceMs = (options?.gracePeriodSeconds ?? 0) * 1000;
    await this.call("stopPod", options ? [nodeName, podId, options] : [nodeName, podId], this.callTimeoutMs + graceMs);
  }

  async listPods(nodeName?: string): Promise<ObservedPod[]> {
    return (await this.call("listPods", nodeName === undefined ? [] : [nodeName])) as ObservedPod[];
  }

  async probe(
    nodeName: string,
    podId: string,
    containerName: string,
    kind: ProbeKind,
    probe: Json,
  ): Promise<ProbeResult> {
    return (await this.call("probe", [nodeName, podId, containerName, kind, probe])) as ProbeResult;
  }

  async killContainer(nodeName: string, podId: string, containerName: string, containerID?: string): Promise<void> {
    await this.call("killContainer", withOptional([nodeName, podId, containerName], containerID));
  }

  async restartContainer(nodeName: string, podId: string, containerName: string, containerID?: string): Promise<void> {
    await this.call("restartContainer", withOptional([nodeName, podId, containerName], containerID));
  }

  async logs(
    nodeName: string,
    podId: string,
    containerName: string,
    options: LogOptions = {},
  ): Promise<AsyncIterable<string>> {
    const { signal, ...wanted } = options;
    // Aborted already: what is there, without waiting for more, as a follow that ends at once.
    if (signal?.aborted) wanted.follow = false;
    const abort = new AbortController();
    const onAbort = () => abort.abort();
    signal?.addEventListener("abort", onAbort, { once: true });
    const cancelTimeout = this.clock.setTimer(this.callTimeoutMs, () => abort.abort());
    let response: Dispatcher.ResponseData;
    try {
      response = await this.connections.streams.request({
        method: "POST",
        path: "/v1/logs",
        headers: this.headers,
        body: JSON.stringify([nodeName, podId, containerName, wanted]),
        signal: abort.signal,
        headersTimeout: 0,
        bodyTimeout: 0,
      });
    } catch (error) {
      signal?.removeEventListener("abort", onAbort);
      throw unreachable("logs", this.options.url, error, abort.signal.aborted && !signal?.aborted, this.callTimeoutMs);
    } finally {
      // The timeout bounds the wait for an answer; a followed log then lasts as long as its run or `signal`.
      cancelTimeout();
    }
    if (response.statusCode !== 200) {
      signal?.removeEventListener("abort", onAbort);
      throw fromWire(await jsonOf(response.body), response.statusCode);
    }
    return readLogs(response.body, signal, onAbort, this.options.url);
  }

  subscribe(listener: (event: ProviderEvent) => void): () => void {
    this.listeners.add(listener);
    this.ensureStream();
    return () => {
      this.listeners.delete(listener);
      if (this.listeners.size === 0) this.streamAbort?.abort();
    };
  }

  async close(): Promise<void> {
    this.closed = true;
    this.listeners.clear();
    this.streamAbort?.abort();
    this.wakeBackoff?.();
    await Promise.all([this.connections.calls.destroy(), this.connections.streams.destroy()]);
  }

  private async call(method: CallName, args: unknown[], timeoutMs = this.callTimeoutMs): Promise<unknown> {
    if (this.closed) throw new Error("the remote provider is closed");
    return request(this.connections.calls, this.clock, this.headers, "POST", `/v1/call/${method}`, args, {
      what: method,
      timeoutMs,
      url: this.options.url,
    });
  }

  /**
   * The pools' shapes change as nodes come and go (the next node's zone); `scaling.pools()` answers at
   * once, from this copy, refreshed after each add or remove and on every node event. Calls that come
   * while a refresh runs are served by one more refresh after it, not one each.
   */
  private refreshPools(): Promise<void> {
    this.poolsStale = true;
    if (this.poolsRefresh) return this.poolsRefresh;
    const refresh = async () => {
      try {
        // Bounded: each pass takes in every change announced before it began.
        for (let pass = 0; pass < 3 && this.poolsStale && !this.closed; pass++) {
          this.poolsStale = false;
          this.pools = (await this.call("pools", [])) as NodePoolShape[];
        }
      } catch (error) {
        this.log("refreshing the node pools failed", { error: String(error) });
      } finally {
        this.poolsRefresh = undefined;
      }
    };
    this.poolsRefresh = refresh();
    return this.poolsRefresh;
  }

  private ensureStream(): void {
    if (this.streamRunning || this.closed) return;
    this.streamRunning = true;
    void this.runStream().finally(() => {
      this.streamRunning = false;
      // Someone subscribed again while the stream was winding down for want of listeners.
      if (!this.closed && this.listeners.size > 0) this.ensureStream();
    });
  }

  /**
   * Keeps one event stream open while anyone listens and the provider is open. Unbounded in count by
   * design (it lasts as long as the worker), bounded in rate: a pass that fails waits a back-off that
   * doubles up to `reconnectMs.maxMs`; one that had connected starts the back-off again from its floor.
   */
  private async runStream(): Promise<void> {
    const backoff = this.options.reconnectMs ?? DEFAULT_RECONNECT;
    let failures = 0;
    while (!this.closed && this.listeners.size > 0) {
      const connected = await this.streamOnce();
      if (this.closed || this.listeners.size === 0) return;
      failures = connected ? 0 : failures + 1;
      const waitMs = Math.min(backoff.maxMs, backoff.minMs * 2 ** Math.min(failures, 20));
      await new Promise<void>((resolve) => {
        const cancel = this.clock.setTimer(waitMs, () => {
          this.wakeBackoff = undefined;
          resolve();
        });
        this.wakeBackoff = () => {
          cancel();
          resolve();
        };
      });
    }
  }

  /** One event stream, read until it ends or breaks; whether it connected. */
  private async streamOnce(): Promise<boolean> {
    const abort = new AbortController();
    this.streamAbort = abort;
    const idleMs = this.options.streamIdleMs ?? DEFAULT_STREAM_IDLE_MS;
    let lastDataAtMs = this.clock.now();
    let connected = false;
    const cancelConnect = this.clock.setTimer(this.callTimeoutMs, () => abort.abort());
    // A silent stream is checked twice per idle period, so a dead one is noticed within 1.5 of them.
    let cancelIdle = () => {};
    const checkIdle = () => {
      if (this.clock.now() - lastDataAtMs > idleMs) abort.abort();
      else cancelIdle = this.clock.setTimer(idleMs / 2, checkIdle);
    };
    try {
      const response = await this.connections.streams.request({
        method: "GET",
        path: this.options.sharePodEvents ? `/v1/events?${SHARE_POD_EVENTS}` : "/v1/events",
        headers: this.headers,
        signal: abort.signal,
        headersTimeout: 0,
        bodyTimeout: 0,
      });
      cancelConnect();
      if (response.statusCode !== 200) {
        const error = fromWire(await jsonOf(response.body), response.statusCode);
        this.log("the node process refused the event stream", { status: response.statusCode, error: error.message });
        return false;
      }
      connected = true;
      const reconnect = this.streamWasOpen;
      this.streamWasOpen = true;
      this.log(reconnect ? "event stream reconnected; events meanwhile were missed" : "event stream connected", {
        url: this.options.url,
      });
      lastDataAtMs = this.clock.now();
      cancelIdle = this.clock.setTimer(idleMs / 2, checkIdle);
      response.body.setEncoding("utf8");
      const lines = new LineSplitter(MAX_LINE_CHARS);
      for await (const text of response.body as AsyncIterable<string>) {
        lastDataAtMs = this.clock.now();
        for (const line of lines.push(text)) {
          if (line !== "") this.emit(JSON.parse(line) as ProviderEvent);
        }
      }
      this.log("event stream ended", { url: this.options.url });
    } catch (error) {
      if (!this.closed && this.listeners.size > 0) {
        this.log("event stream broke", { url: this.options.url, error: String(error) });
      }
    } finally {
      cancelConnect();
      cancelIdle();
      if (this.streamAbort === abort) this.streamAbort = undefined;
    }
    return connected;
  }

  private emit(event: ProviderEvent): void {
    if (this.scaling && (event.type === "node" || event.type === "nodeGone")) void this.refreshPools();
    for (const listener of this.listeners) {
      try {
        listener(event);
      } catch (error) {
        // One listener's fault must not end the stream for the others.
        this.log("an event listener failed", { error: String(error) });
      }
    }
  }

  private log(message: string, fields: Record<string, unknown> = {}): void {
    this.options.log?.(message, fields);
  }
}

function createPools(options: RemoteProviderOptions): { calls: Pool; streams: Pool } {
  const origin = new URL(options.url).origin;
  // The client closes idle connections before the server would (65 s), so a reused one is never half-closed.
  const keepAlive = { keepAliveTimeout: 30_000, keepAliveMaxTimeout: 60_000, pipelining: 1 };
  return {
    calls: new Pool(origin, { ...keepAlive, connections: options.connections ?? DEFAULT_CONNECTIONS }),
    streams: new Pool(origin, { ...keepAlive, connections: STREAM_CONNECTIONS }),
  };
}

function headersOf(token: string): Record<string, string> {
  return { authorization: `Bearer ${token}`, "content-type": "application/json" };
}

/** Trailing optional arguments are left out rather than sent as null. */
function withOptional(args: unknown[], optional: unknown): unknown[] {
  return optional === undefined ? args : [...args, optional];
}

/** One call: the answer read whole, all of it within `timeoutMs`. */
async function request(
  pool: Pool,
  clock: Clock,
  headers: Record<string, string>,
  method: "GET" | "POST",
  path: string,
  args: unknown[] | undefined,
  call: { what: string; timeoutMs: number; url?: string },
): Promise<unknown> {
  const abort = new AbortController();
  const cancelTimeout = clock.setTimer(call.timeoutMs, () => abort.abort());
  let status: number;
  let body: unknown;
  try {
    const response = await pool.request({
      method,
      path,
      headers,
      ...(args ? { body: JSON.stringify(args) } : {}),
      signal: abort.signal,
      headersTimeout: 0,
      bodyTimeout: 0,
    });
    status = response.statusCode;
    body = await jsonOf(response.body);
  } catch (error) {
    throw unreachable(call.what, call.url ?? "", error, abort.signal.aborted, call.timeoutMs);
  } finally {
    cancelTimeout();
  }
  if (status !== 200) throw fromWire(body, status);
  return body ?? undefined;
}

async function jsonOf(body: { text(): Promise<string> }): Promise<unknown> {
  const text = await body.text();
  try {
    return text === "" ? null : JSON.parse(text);
  } catch {
    return null;
  }
}

function unreachable(what: string, url: string, error: unknown, timedOut: boolean, timeoutMs: number): Error {
  const where = url ? ` at ${url}` : "";
  if (timedOut)
    return new ProviderUnreachableError(`${what}: the node process${where} did not answer in ${timeoutMs} ms`);
  const reason = error instanceof Error ? error.message : String(error);
  return new ProviderUnreachableError(`${what}: the node process${where} could not be reached: ${reason}`, {
    cause: error,
  });
}

/** A log stream's chunks, as the server sent them; ends quietly when the caller's `signal` aborts it. */
async function* readLogs(
  body: Dispatcher.ResponseData["body"],
  signal: AbortSignal | undefined,
  onAbort: () => void,
  url: string,
): AsyncGenerator<string> {
  const lines = new LineSplitter(MAX_LINE_CHARS);
  body.setEncoding("utf8");
  try {
    for await (const text of body as AsyncIterable<string>) {
      for (const line of lines.push(text)) {
        if (line !== "") yield JSON.parse(line) as string;
      }
    }
  } catch (error) {
    if (signal?.aborted) return;
    throw unreachable("logs", url, error, false, 0);
  } finally {
    signal?.removeEventListener("abort", onAbort);
    // Left early (the reader stopped): the server sees the close and ends its follower.
    body.destroy();
  }
}
