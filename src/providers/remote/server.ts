/**
 * Serves a `NodeProvider` over HTTP (see protocol.ts for the routes), so that nodes of one process
 * — `kubernease nodes --simulated` — are shared by every worker, as a Docker host is.
 *
 * Each call runs the provider's own method, so what holds in process holds over the wire: every
 * action is idempotent (a pod that runs already is not started twice), whichever worker asks, and
 * however often. Events go to every subscriber's stream (pod events to one of the streams that
 * share them, by node: see protocol.ts); one that does not read is dropped once
 * `maxEventBufferBytes` wait for it, rather than buffered without bound: its client reconnects and
 * re-lists (the control plane is level-triggered).
 */
import { createHash, timingSafeEqual } from "node:crypto";
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { type Clock, systemClock } from "../../core/clock.js";
import type { LogOptions, NodeProvider, PodRuntimeSpec, ProviderEvent } from "../types.js";
import {
  BATCH_CALLS,
  CALLS,
  DEFAULT_HEARTBEAT_MS,
  MAX_START_BATCH,
  type ProviderInfo,
  SCALING_CALLS,
  SHARE_POD_EVENTS,
  shareOwner,
  statusOf,
  toWire,
} from "./protocol.js";

export interface ServeProviderOptions {
  /** Where to listen; 127.0.0.1 unless told otherwise, so nothing outside the machine reaches it by accident. */
  host?: string;
  /** 0: any free port (the answer's `url` says which). */
  port: number;
  /** The bearer token every request must carry. */
  token: string;
  /** Heartbeats on event streams; the system clock when absent. */
  clock?: Clock;
  /** An empty line on every event stream this often, so a client can tell a silent server from a dead one. */
  heartbeatMs?: number;
  /** What may wait unsent for one event stream before it is dropped. */
  maxEventBufferBytes?: number;
  /** Event streams at once; more are refused (503). */
  maxEventStreams?: number;
  /** A request body larger than this is refused (413). */
  maxBodyBytes?: number;
}

export interface ServedProvider {
  url: string;
  /** Ends every stream and connection and stops listening; the provider itself stays open (its owner closes it). */
  close(): Promise<void>;
}

const DEFAULT_MAX_EVENT_BUFFER_BYTES = 32 * 2 ** 20;
const DEFAULT_MAX_EVENT_STREAMS = 256;
/** Nodes whose stream is remembered at once; beyond, the memory starts over (each answer is cheap to find again). */
const MAX_KNOWN_OWNERS = 100_000;
const DEFAULT_MAX_BODY_BYTES = 8 * 2 ** 20;
/** Longer than any client's keep-alive, so the client, not the server, closes an idle connection (no race on reuse). */
const KEEP_ALIVE_MS = 65_000;

class HttpError extends Error {
  constructor(
    readonly status: number,
    name: string,
    message: string,
  ) {
    super(message);
    this.name = name;
  }
}

const digest = (text: string) => createHash("sha256").update(text).digest();

/** Compares digests, which have one length, so neither the token's length nor its content leaks through timing. */
function authorized(req: IncomingMessage, expected: Buffer): boolean {
  const header = req.headers.authorization ?? "";
  const match = /^Bearer (.+)$/.exec(header);
  return match !== null && timingSafeEqual(digest(match[1] as string), expected);
}

export async function serveProvider(provider: NodeProvider, options: ServeProviderOptions): Promise<ServedProvider> {
  if (!options.token) throw new Error("serving a provider needs a token");
  const expected = digest(options.token);
  const clock = options.clock ?? systemClock;
  const heartbeatMs = options.heartbeatMs ?? DEFAULT_HEARTBEAT_MS;
  const maxBuffered = options.maxEventBufferBytes ?? DEFAULT_MAX_EVENT_BUFFER_BYTES;
  const maxStreams = options.maxEventStreams ?? DEFAULT_MAX_EVENT_STREAMS;
  const maxBodyBytes = options.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES;
  const streams = new Set<ServerResponse>();
  const logStreams = new Set<AbortController>();

  /** The streams sharing pod events, each with an id of its own: a node's go to one of them (`shareOwner`). */
  const sharing = new Map<number, ServerResponse>();
  const sharingIds = new Map<ServerResponse, number>();
  let lastSharingId = 0;
  /** Each node's stream while the sharing streams stay the same; forgotten when they change or the node goes. */
  const owners = new Map<string, ServerResponse>();
  const shareOf = (nodeName: string): ServerResponse | undefined => {
    let owner = owners.get(nodeName);
    if (owner === undefined) {
      owner = sharing.get(shareOwner(nodeName, [...sharing.keys()]) ?? 0);
      if (owner === undefined) return undefined;
      if (owners.size >= MAX_KNOWN_OWNERS) owners.clear();
      owners.set(nodeName, owner);
    }
    return owner;
  };

  // One subscription for every stream: each event is serialised once, however many workers listen.
  const unsubscribe = provider.subscribe((event: ProviderEvent) => {
    if (event.type === "nodeGone") owners.delete(event.nodeName);
    if (streams.size === 0) return;
    const line = `${JSON.stringify(event)}\n`;
    const nodeName = event.type === "pod" ? event.pod.nodeName : event.type === "podGone" ? event.nodeName : undefined;
    if (nodeName === undefined || sharing.size === 0) {
      for (const res of streams) send(res, line);
      return;
    }
    for (const res of streams) if (!sharingIds.has(res)) send(res, line);
    // Its stream dropped (it stopped reading): the node's next stream hears it instead.
    let owner = shareOf(nodeName);
    while (owner !== undefined && !send(owner, line)) owner = shareOf(nodeName);
  });

  /** Writes the line; false when the stream does not read and was dropped instead. */
  function send(res: ServerResponse, line: string): boolean {
    if (res.writableLength > maxBuffered) {
      // It does not read: dropped, not buffered without bound. Its client reconnects and re-lists.
      drop(res);
      res.destroy();
      return false;
    }
    // Events emitted in one turn go out in one write.
    if (res.writableCorked === 0) {
      res.cork();
      process.nextTick(() => res.uncork());
    }
    res.write(line);
    return true;
  }

  function heartbeat(): void {
    for (const res of streams) send(res, "\n");
    cancelHeartbeat = clock.setTimer(heartbeatMs, heartbeat);
  }
  let cancelHeartbeat = clock.setTimer(heartbeatMs, heartbeat);

  async function route(req: IncomingMessage, res: ServerResponse): Promise<void> {
    if (!authorized(req, expected)) throw new HttpError(401, "Unauthorized", "a valid bearer token is required");
    const path = new URL(req.url ?? "/", "http://x").pathname;
    if (req.method === "GET" && path === "/v1/info") return answer(res, 200, info(provider));
    if (req.method === "GET" && path === "/v1/events") return openEvents(req, res);
    if (req.method !== "POST") throw new HttpError(404, "NotFound", `no route ${req.method} ${path}`);
    if (path === "/v1/logs") return streamLogs(res, await readArgs(req, 4, maxBodyBytes));
    const call = /^\/v1\/call\/(\w+)$/.exec(path)?.[1];
    const invoke = call === undefined ? undefined : invoker(provider, call);
    if (!invoke) throw new HttpError(404, "NotFound", `no route POST ${path}`);
    const args = await readArgs(req, invoke.arity, maxBodyBytes);
    const result = await invoke.run(args);
    answer(res, 200, result ?? null);
  }

  function openEvents(req: IncomingMessage, res: ServerResponse): void {
    if (streams.size >= maxStreams) throw new HttpError(503, "TooManyStreams", `at most ${maxStreams} event streams`);
    res.writeHead(200, { "content-type": "application/x-ndjson", "cache-control": "no-store" });
    res.flushHeaders();
    streams.add(res);
    if (new URL(req.url ?? "/", "http://x").search === `?${SHARE_POD_EVENTS}`) {
      lastSharingId++;
      sharing.set(lastSharingId, res);
      sharingIds.set(res, lastSharingId);
      owners.clear();
    }
    const dropThis = () => drop(res);
    req.on("close", dropThis);
    res.on("close", dropThis);
    res.on("error", dropThis);
  }

  /** A stream gone: its share of the nodes goes to the streams left. */
  function drop(res: ServerResponse): void {
    streams.delete(res);
    const id = sharingIds.get(res);
    if (id === undefined) return;
    sharing.delete(id);
    sharingIds.delete(res);
    owners.clear();
  }

  async function streamLogs(res: ServerResponse, args: unknown[]): Promise<void> {
    const [nodeName, podId, containerName, wanted] = args as [string, string, string, LogOptions | undefined];
    const abort = new AbortController();
    // The client went away (even before the provider answered): the provider's follower ends.
    res.on("close", () => abort.abort());
    const options: LogOptions = { ...logOptions(wanted), signal: abort.signal };
    const chunks = await provider.logs(nodeName, podId, containerName, options);
    logStreams.add(abort);
    try {
      res.writeHead(200, { "content-type": "application/x-ndjson", "cache-control": "no-store" });
      res.flushHeaders();
      for await (const chunk of chunks) {
        if (abort.signal.aborted) break;
        if (!res.write(`${JSON.stringify(chunk)}\n`)) await drained(res);
      }
      res.end();
    } finally {
      logStreams.delete(abort);
    }
  }

  const server = createServer((req, res) => {
    route(req, res).catch((error: unknown) => {
      if (res.headersSent) {
        res.destroy();
        return;
      }
      const status = error instanceof HttpError ? error.status : statusOf(error);
      answer(res, status, toWire(error));
    });
  });
  server.keepAliveTimeout = KEEP_ALIVE_MS;
  server.headersTimeout = KEEP_ALIVE_MS + 1_000;
  // Event streams and followed logs last as long as they are read; the server never times them out itself.
  server.requestTimeout = 0;

  const host = options.host ?? "127.0.0.1";
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(options.port, host, () => {
      server.off("error", reject);
      resolve();
    });
  });
  const { port } = server.address() as AddressInfo;
  const shownHost = host.includes(":") ? `[${host}]` : host;
  return {
    url: `http://${shownHost}:${port}`,
    async close() {
      cancelHeartbeat();
      unsubscribe();
      for (const abort of logStreams) abort.abort();
      for (const res of streams) res.destroy();
      streams.clear();
      sharing.clear();
      sharingIds.clear();
      owners.clear();
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeAllConnections();
      await closed;
    },
  };
}

function info(provider: NodeProvider): ProviderInfo {
  return {
    name: provider.name,
    ...(provider.scaling ? { pools: provider.scaling.pools() } : {}),
    volumes: typeof provider.removeVolume === "function",
  };
}

/** The provider method a call names, with its arity; undefined for a name that is not one (or not provided). */
function invoker(
  provider: NodeProvider,
  name: string,
): { arity: number; run: (args: unknown[]) => Promise<unknown> } | undefined {
  if (Object.hasOwn(CALLS, name)) {
    const method = (provider as unknown as Record<string, unknown>)[name];
    if (typeof method !== "function") return undefined;
    return {
      arity: CALLS[name as keyof typeof CALLS],
      run: async (args) => (method as (...a: unknown[]) => unknown).apply(provider, args),
    };
  }
  if (name === "startPods") {
    return {
      arity: BATCH_CALLS.startPods,
      run: async ([pods]) => {
        if (!Array.isArray(pods) || pods.length > MAX_START_BATCH) {
          throw new HttpError(400, "BadRequest", `startPods takes an array of at most ${MAX_START_BATCH} pods`);
        }
        // Each start stands alone, as its own call would: one that fails does not hold up the others.
        const outcomes = await Promise.allSettled(pods.map((pod) => provider.startPod(pod as PodRuntimeSpec)));
        return outcomes.map((o) => (o.status === "fulfilled" ? null : toWire(o.reason)));
      },
    };
  }
  const scaling = provider.scaling;
  if (scaling && Object.hasOwn(SCALING_CALLS, name)) {
    const method = scaling[name as keyof typeof SCALING_CALLS] as (...a: unknown[]) => unknown;
    return {
      arity: SCALING_CALLS[name as keyof typeof SCALING_CALLS],
      run: async (args) => method.apply(scaling, args),
    };
  }
  return undefined;
}

/** Only what `LogOptions` means survives; the signal is the server's own. */
function logOptions(wanted: LogOptions | undefined): LogOptions {
  if (typeof wanted !== "object" || wanted === null) return {};
  return {
    ...(typeof wanted.tailLines === "number" ? { tailLines: wanted.tailLines } : {}),
    ...(wanted.follow === true ? { follow: true } : {}),
    ...(wanted.previous === true ? { previous: true } : {}),
  };
}

async function readArgs(req: IncomingMessage, arity: number, maxBodyBytes: number): Promise<unknown[]> {
  const parts: Buffer[] = [];
  let size = 0;
  for await (const part of req as AsyncIterable<Buffer>) {
    size += part.length;
    if (size > maxBodyBytes) throw new HttpError(413, "TooLarge", `a request body is at most ${maxBodyBytes} bytes`);
    parts.push(part);
  }
  let args: unknown;
  try {
    args = size === 0 ? [] : JSON.parse(Buffer.concat(parts).toString("utf8"));
  } catch {
    throw new HttpError(400, "BadRequest", "the body must be a JSON array of arguments");
  }
  if (!Array.isArray(args) || args.length > arity) {
    throw new HttpError(400, "BadRequest", `the body must be a JSON array of at most ${arity} arguments`);
  }
  // JSON has no `undefined`: an argument left out travels as null and is left out again here.
  return args.map((arg) => (arg === null ? undefined : arg));
}

function answer(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { "content-type": "application/json", "content-length": Buffer.byteLength(text) });
  res.end(text);
}

/** Resolves when the response may be written again, or when it is gone. */
function drained(res: ServerResponse): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      res.off("drain", done);
      res.off("close", done);
      resolve();
    };
    res.on("drain", done);
    res.on("close", done);
  });
}
