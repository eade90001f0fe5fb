import { createHash, type Hash } from "node:crypto";
import type { Clock } from "../core/clock.js";
import { canonicalJson } from "../core/hash.js";
import type { Store } from "../db/types.js";
import type { Handler, QueueName, WorkQueue } from "../jobs/queue.js";

/** Every Store operation that writes: these, with their arguments and answers, make up the trace. */
const STORE_WRITES = new Set([
  "createTenant",
  "setTenantQuota",
  "createApiKey",
  "ensureNamespace",
  "createObject",
  "updateObject",
  "updateObjectStatus",
  "deleteObject",
  "createPod",
  "createPods",
  "updatePodStatus",
  "updatePodStatuses",
  "markPodDeleting",
  "bindPod",
  "bindPods",
  "deletePod",
  "upsertNode",
  "updateNode",
  "deleteNode",
  "recordEvent",
  "addOutbox",
  "ackOutbox",
]);

/**
 * Writes that change nothing the checkers or the metrics read: heartbeats (a node
 * re-registered as it was, or only its heartbeat stamped), the outbox, events.
 * After such writes alone the run need not be looked at again.
 */
function changesState(method: string, args: unknown[]): boolean {
  if (method === "upsertNode" || method === "addOutbox" || method === "ackOutbox" || method === "recordEvent") {
    return false;
  }
  if (method === "updateNode") {
    const change = (args[1] ?? {}) as Record<string, unknown>;
    return Object.keys(change).some((key) => key !== "lastHeartbeatAt" && change[key] !== undefined);
  }
  return true;
}

/**
 * What the run did, as counters and (when enabled) a SHA-256 over every Store
 * write and every job, each with its virtual time, arguments and answer — ids,
 * resource versions and timestamps included. Two runs of one seed must give the
 * same digest; a planted `Math.random`, `randomUUID` or wall-clock default makes
 * them differ. A checker: it records, it never steers.
 */
export class Trace {
  /**
   * Store calls allowed within one instant of virtual time. A bug can make promise work feed itself
   * forever without ever yielding to the host loop (job → write → job …); past this budget every store
   * call throws, which starves the loop, and the run stops as a livelock instead of hanging.
   */
  callBudget = Number.POSITIVE_INFINITY;
  /** Set once the budget was exceeded at some instant. */
  overBudget = false;
  private budgetStart = 0;
  storeCalls = 0;
  storeWrites = 0;
  /** Writes that may change what the checkers and the metrics see (not heartbeats, outbox rows or events). */
  stateWrites = 0;
  jobs = 0;
  jobErrors = 0;
  private readonly hash: Hash | undefined;

  constructor(
    private readonly clock: Clock,
    options: { hash: boolean; onLine?: (line: string) => void },
  ) {
    this.hash = options.hash ? createHash("sha256") : undefined;
    this.onLine = options.onLine;
  }

  private readonly onLine: ((line: string) => void) | undefined;

  get hashing(): boolean {
    return this.hash !== undefined;
  }

  record(line: string): void {
    if (!this.hash) return;
    const stamped = `${this.clock.now()} ${line}\n`;
    this.hash.update(stamped);
    this.onLine?.(stamped);
  }

  /** A new instant of virtual time: its budget starts afresh. */
  newInstant(): void {
    this.budgetStart = this.storeCalls;
  }

  /** Counts one store call; throws once the instant's budget is spent. */
  call(): void {
    this.storeCalls++;
    if (this.storeCalls - this.budgetStart > this.callBudget) {
      this.overBudget = true;
      throw new LivelockError(`more than ${this.callBudget} store calls at one instant of virtual time`);
    }
  }

  /** Store calls and jobs so far: unchanged across a yield means nothing ran. */
  activity(): number {
    return this.storeCalls + this.jobs;
  }

  digest(): string | undefined {
    return this.hash?.copy().digest("hex");
  }
}

export class LivelockError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "LivelockError";
  }
}

/** The store, counted and traced; a transaction's operations are traced as well. */
export function tracedStore(store: Store, trace: Trace): Store {
  return wrapOps(store, trace);
}

function wrapOps<T extends object>(ops: T, trace: Trace): T {
  // One wrapper per method, made on first use: the store is called hundreds of thousands of times a run.
  const wrappers = new Map<PropertyKey, unknown>();
  return new Proxy(ops, {
    get(target, property) {
      const known = wrappers.get(property);
      if (known) return known;
      const value: unknown = Reflect.get(target, property, target);
      if (typeof value !== "function") return value;
      const wrapper = tracedMethod(target, String(property), value as (...args: unknown[]) => unknown, trace);
      wrappers.set(property, wrapper);
      return wrapper;
    },
  });
}

function tracedMethod<T extends object>(
  target: T,
  name: string,
  fn: (...args: unknown[]) => unknown,
  trace: Trace,
): (...args: never[]) => unknown {
  if (name === "transaction") {
    return (body: (tx: object) => Promise<unknown>) => {
      trace.call();
      return fn.call(target, (tx: object) => body(wrapOps(tx, trace)));
    };
  }
  if (!STORE_WRITES.has(name)) {
    return (...args: unknown[]) => {
      trace.call();
      return fn.apply(target, args);
    };
  }
  return (...args: unknown[]) => {
    trace.call();
    trace.storeWrites++;
    if (changesState(name, args)) trace.stateWrites++;
    const result = fn.apply(target, args) as Promise<unknown>;
    if (!trace.hashing) return result;
    const call = `${name} ${canonicalJson(args)}`;
    return result.then(
      (answer) => {
        trace.record(`${call} -> ${canonicalJson(answer ?? null)}`);
        return answer;
      },
      (error: unknown) => {
        trace.record(`${call} !! ${error instanceof Error ? `${error.name}: ${error.message}` : String(error)}`);
        throw error;
      },
    );
  };
}

/** The queue, with every job run counted and traced (queue, key, outcome) at its virtual time. */
export function tracedQueue(queue: WorkQueue, trace: Trace): WorkQueue {
  return {
    enqueue: (name, key, delayMs) => queue.enqueue(name, key, delayMs),
    close: () => queue.close(),
    register(name: QueueName, handler: Handler, options?: { concurrency?: number }) {
      queue.register(
        name,
        async (key) => {
          trace.jobs++;
          trace.record(`job ${name} ${key}`);
          try {
            const result = await handler(key);
            if (result?.requeueAfterMs !== undefined)
              trace.record(`job ${name} ${key} requeue ${result.requeueAfterMs}`);
            return result;
          } catch (error) {
            trace.jobErrors++;
            trace.record(`job ${name} ${key} failed ${error instanceof Error ? error.message : String(error)}`);
            throw error;
          }
        },
        options,
      );
    },
  };
}
