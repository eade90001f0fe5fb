/**
 * The wire between `RemoteProvider` (client.ts) and `serveProvider` (server.ts): a `NodeProvider`
 * spoken over HTTP/1.1 with keep-alive, so that several workers share one set of nodes.
 *
 * - `GET  /v1/info` — the served provider's name, whether it scales and its pools, whether it keeps volumes.
 * - `POST /v1/call/<method>` — body: the method's arguments as a JSON array; answer: its result as JSON
 *   (`null` for none). Methods: `CALLS` below, `pools`, `addNode`, `removeNode` of `scaling`, and
 *   `startPods` (`BATCH_CALLS`), many starts in one request.
 * - `POST /v1/logs` — body: `[node, pod, container, options]`; answer: NDJSON, one JSON string per chunk,
 *   so chunk boundaries (which end at line ends) survive the trip exactly.
 * - `GET  /v1/events` — NDJSON, one `ProviderEvent` per line; an empty line is a heartbeat. With
 *   `?share=pods`, the stream shares pod events with the other streams that ask so: each node's pod
 *   events go to one of them (`sharesPodEvents`), so workers record each observation once. Node events,
 *   and every event of a stream that does not share, go to all.
 *
 * Every route wants `Authorization: Bearer <token>`. A failure answers `{ error: { name, message } }`
 * with a status: 401 no or wrong token, 400 a malformed request, 404 an unknown route or `LogsNotFoundError`,
 * 500 any other error the provider raised (its name and message kept, so the caller sees what it would see
 * in process).
 */
import { LogsNotFoundError, type NodePoolShape } from "../types.js";

/** The `NodeProvider` methods called as plain request/answer, with how many arguments each takes at most. */
export const CALLS = {
  listNodes: 0,
  startPod: 1,
  stopPod: 3,
  listPods: 1,
  probe: 5,
  killContainer: 4,
  restartContainer: 4,
  removeVolume: 2,
} as const;

/**
 * Calls of the wire alone, each standing for many provider calls: `startPods` takes an array of pod
 * specs and answers, per pod and in order, `null` (started) or the `WireError` its start raised.
 */
export const BATCH_CALLS = { startPods: 1 } as const;

/** Pods one `startPods` call carries at most. */
export const MAX_START_BATCH = 500;

/** The `NodeScaling` methods, present when the served provider scales. */
export const SCALING_CALLS = { pools: 0, addNode: 1, removeNode: 1 } as const;

/** How often the server writes an empty line on an idle event stream, so a client can tell silence from death. */
export const DEFAULT_HEARTBEAT_MS = 10_000;

export type CallName = keyof typeof CALLS | keyof typeof SCALING_CALLS | keyof typeof BATCH_CALLS;

export interface ProviderInfo {
  /** The served provider's own name (`simulated`). */
  name: string;
  /** Present when the served provider scales: its pools as they are now. */
  pools?: NodePoolShape[];
  /** Whether it implements `removeVolume`. */
  volumes: boolean;
}

export interface WireError {
  error: { name: string; message: string };
}

/** An error the served provider raised, other than `LogsNotFoundError`: its name and message, as raised. */
export class RemoteProviderError extends Error {
  constructor(name: string, message: string) {
    super(message);
    this.name = name;
  }
}

/** The node process could not be reached or did not answer in time: nothing is known of the call's outcome. */
export class ProviderUnreachableError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = "ProviderUnreachableError";
  }
}

/** The status an error of the served provider travels with. */
export function statusOf(error: unknown): number {
  return error instanceof LogsNotFoundError ? 404 : 500;
}

export function toWire(error: unknown): WireError {
  if (error instanceof Error) return { error: { name: error.name, message: error.message } };
  return { error: { name: "Error", message: String(error) } };
}

/** The error as the caller would have seen it in process: `LogsNotFoundError` by class, the rest by name and message. */
export function fromWire(body: unknown, status: number): Error {
  const error = (body as Partial<WireError> | null)?.error;
  const name = typeof error?.name === "string" ? error.name : "Error";
  const message = typeof error?.message === "string" ? error.message : `the node process answered ${status}`;
  if (name === "LogsNotFoundError") return new LogsNotFoundError(message);
  return new RemoteProviderError(name, message);
}

/**
 * Splits NDJSON as it arrives: `push` takes a piece of text and returns the complete lines in it,
 * keeping the unfinished end for the next piece. A line longer than `maxLineChars` throws: a peer
 * that never ends its line must not grow the buffer without bound.
 */
export class LineSplitter {
  private rest = "";

  constructor(private readonly maxLineChars: number) {}

  push(text: string): string[] {
    const joined = this.rest + text;
    const lines = joined.split("\n");
    this.rest = lines.pop() ?? "";
    if (this.rest.length > this.maxLineChars) {
      throw new Error(`a line of more than ${this.maxLineChars} characters came from the node process`);
    }
    return lines;
  }
}

/** The query of an event stream that shares pod events with the other streams asking so. */
export const SHARE_POD_EVENTS = "share=pods";

/**
 * Which of the sharing streams (by their ids) hears a node's pod events: rendezvous hashing, the
 * stream whose weight for the node is highest. A stream that joins takes about 1/n of the nodes,
 * each from whichever stream had it, and one that leaves gives up only its own: the other nodes
 * keep their stream, so what a worker holds of them stays the newest report. (A modulo of the count
 * would move most nodes at each change.) Undefined when no stream shares.
 */
export function shareOwner<T extends number>(nodeName: string, streamIds: readonly T[]): T | undefined {
  let owner: T | undefined;
  let best = -1;
  for (const id of streamIds) {
    const weight = weightOf(id, nodeName);
    if (weight > best || (weight === best && owner !== undefined && id < owner)) {
      best = weight;
      owner = id;
    }
  }
  return owner;
}

/** FNV-1a over the stream's id and the node's name, then murmur3's finaliser: a 32-bit weight, evenly spread. */
function weightOf(streamId: number, nodeName: string): number {
  let h = 0x811c9dc5 ^ streamId;
  h = Math.imul(h, 0x01000193);
  for (let i = 0; i < nodeName.length; i++) {
    h ^= nodeName.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}
