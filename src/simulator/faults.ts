import type { ObjectRef } from "../db/types.js";
import { evictNodePods } from "../jobs/drain.js";
import type { ImageBehaviour } from "../providers/simulated/index.js";
import { POOL_LABEL, type ProviderNode } from "../providers/types.js";
import { applyManifests, scaleWorkload } from "./apply.js";
import { formatDurationMs } from "./duration.js";
import type { NodeTarget, TimelineAction, TimelineEvent } from "./scenario.js";
import { matchesWorkload, WORKLOAD_KINDS } from "./workloads.js";
import { type World, ZONE_LABEL } from "./world.js";

/** What one timeline event did, in words, for the report's timeline. */
export interface Applied {
  what: string;
  /** False when the event could not find what it names (no such node, no such workload): reported, not fatal. */
  ok: boolean;
}

/**
 * Fault injection and scenario changes, through the simulated provider's test
 * controls and the simulator's applier. Every random choice (which node is
 * "random") comes from the `faults` fork of the seed, so adding a fault never
 * shifts the draws of the provider or the workers. Remembers what it crashed,
 * which the checkers read as data.
 */
export class FaultInjector {
  readonly crashedNodes = new Set<string>();
  /** Heals and restores due later (a partition's `for:`), reported when they happen. */
  readonly followUps: { atMs: number; what: string }[] = [];
  /** Per node (`*`: every node), the number of the latest slow-pull window. */
  private readonly pullWindows = new Map<string, number>();

  constructor(private readonly world: World) {}

  async apply(event: TimelineEvent): Promise<Applied> {
    const action = event.action;
    switch (action.type) {
      case "crashNode":
        return this.crashNode(action.node);
      case "crashZone":
        return this.crashZone(action.zone);
      case "partitionNode":
        return this.partition(action.node, action.forMs);
      case "crashLoopImage":
        return this.crashLoop(action);
      case "drainNode":
        return this.drain(action.node);
      case "slowImagePulls":
        return this.slowPulls(action);
      case "apply":
        return this.applySets(action);
      case "scale":
        return this.scale(action.workload, action.replicas);
      case "addNodes": {
        const names = this.world.addNodes(action.pool, action.count);
        return { what: `add ${names.length} node(s) to pool ${action.pool}: ${names.join(", ")}`, ok: true };
      }
    }
  }

  private async liveNodes(): Promise<ProviderNode[]> {
    const nodes = await this.world.provider.listNodes();
    return nodes.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  }

  /** The node a target names, among the provider's nodes now (`ready` ones only when asked). */
  private async pick(target: NodeTarget, readyOnly: boolean): Promise<string | undefined> {
    const nodes = (await this.liveNodes()).filter((n) => !readyOnly || n.ready);
    if (target === "random") return nodes[this.world.rng.faults.int(nodes.length)]?.name;
    if ("name" in target) return nodes.find((n) => n.name === target.name)?.name;
    if (target.index !== undefined) return nodes.find((n) => n.name === `sim-${target.pool}-${target.index}`)?.name;
    const inPool = nodes.filter((n) => n.labels[POOL_LABEL] === target.pool);
    return inPool[this.world.rng.faults.int(inPool.length)]?.name;
  }

  private async crashNode(target: NodeTarget): Promise<Applied> {
    const name = await this.pick(target, false);
    if (!name) return { what: `crash node ${describe(target)}: no such node is up; nothing crashed`, ok: false };
    this.crash(name);
    return { what: `crash node ${name}`, ok: true };
  }

  private async crashZone(zone: string): Promise<Applied> {
    const names = (await this.liveNodes()).filter((n) => n.labels[ZONE_LABEL] === zone).map((n) => n.name);
    for (const name of names) this.crash(name);
    if (names.length === 0) return { what: `crash zone ${zone}: no node is up in it`, ok: false };
    return { what: `crash zone ${zone}: ${names.join(", ")}`, ok: true };
  }

  /** The node and everything on it are gone; the provider confirms it (a terminated machine). */
  private crash(name: string): void {
    this.crashedNodes.add(name);
    this.world.provider.removeNode(name);
  }

  private async partition(target: NodeTarget, forMs: number | undefined): Promise<Applied> {
    const name = await this.pick(target, true);
    if (!name) return { what: `partition node ${describe(target)}: no such node is reachable`, ok: false };
    this.world.provider.setNodeReady(name, false);
    if (forMs !== undefined) {
      this.world.clock.setTimer(forMs, () => {
        this.followUps.push({ atMs: this.world.elapsedMs(), what: `partition of ${name} heals` });
        this.world.provider.setNodeReady(name, true);
      });
    }
    return { what: `partition node ${name}${forMs !== undefined ? ` for ${forMs / 1000}s` : ""}`, ok: true };
  }

  private crashLoop(action: Extract<TimelineAction, { type: "crashLoopImage" }>): Applied {
    const { image, afterMs, forMs } = action;
    const before = this.world.imageBehaviour(image);
    const looping: ImageBehaviour = { ...before, crashAfterMs: afterMs };
    this.world.setImageBehaviour(image, looping);
    if (forMs !== undefined) {
      this.world.clock.setTimer(forMs, () => {
        this.followUps.push({ atMs: this.world.elapsedMs(), what: `image ${image} stops crashing` });
        this.world.setImageBehaviour(image, before);
      });
    }
    return { what: `image ${image} crash-loops (each run exits after ${afterMs / 1000}s)`, ok: true };
  }

  /**
   * The operator's drain (`POST /v1/admin/nodes/{name}/drain`): cordon, then evict every pod
   * through the production eviction path, honouring PodDisruptionBudgets. Pods a budget cannot
   * spare yet stay, as one drain call leaves them; the node stays cordoned to the end of the run.
   */
  private async drain(target: NodeTarget): Promise<Applied> {
    const name = await this.pick(target, false);
    const what = `drain node ${name ?? describe(target)}`;
    if (!name) return { what: `${what}: no such node is up`, ok: false };
    const { store, clock } = this.world;
    const node = await store.updateNode(name, { unschedulable: true }, clock.now());
    if (!node) return { what: `${what}: the platform has not registered it`, ok: false };
    const { evicted, blocked } = await evictNodePods({ store, clock }, name);
    this.world.controlPlane.kick();
    const held = blocked.length > 0 ? `; ${blocked.length} kept by disruption budgets` : "";
    return { what: `${what}: cordoned, ${evicted.length} pod(s) evicted${held}`, ok: true };
  }

  /** Image pulls on a node (every node without `node`) take `pullMs` for the window; a pull under way runs its course. */
  private async slowPulls(action: Extract<TimelineAction, { type: "slowImagePulls" }>): Promise<Applied> {
    const { pullMs, forMs } = action;
    const name = action.node === undefined ? undefined : await this.pick(action.node, false);
    if (action.node !== undefined && name === undefined) {
      return { what: `slow image pulls on ${describe(action.node)}: no such node is up`, ok: false };
    }
    const where = name === undefined ? "every node" : name;
    const key = name ?? "*";
    // A later window on the same node replaces this one: this one's end then leaves it alone.
    const window = (this.pullWindows.get(key) ?? 0) + 1;
    this.pullWindows.set(key, window);
    this.world.provider.setImagePullMs(name, pullMs);
    if (forMs !== undefined) {
      this.world.clock.setTimer(forMs, () => {
        if (this.pullWindows.get(key) !== window) return;
        this.followUps.push({ atMs: this.world.elapsedMs(), what: `image pulls on ${where} are fast again` });
        this.world.provider.setImagePullMs(name, undefined);
      });
    }
    const lasting = forMs !== undefined ? ` for ${formatDurationMs(forMs)}` : "";
    return { what: `image pulls on ${where} take ${formatDurationMs(pullMs)}${lasting}`, ok: true };
  }

  private async applySets(action: Extract<TimelineAction, { type: "apply" }>): Promise<Applied> {
    const parts: string[] = [];
    for (const set of action.sets) {
      const results = await applyManifests(this.world.applyDeps(), set.manifests);
      const changed = results.filter((r) => r.outcome !== "unchanged");
      parts.push(
        `${set.source}: ${changed.map((r) => `${r.ref.kind}/${r.ref.name} ${r.outcome}`).join(", ") || "unchanged"}`,
      );
    }
    return { what: `apply ${parts.join("; ")}`, ok: true };
  }

  private async scale(workload: string, replicas: number): Promise<Applied> {
    const ref = await this.resolve(workload);
    if (!ref) return { what: `scale ${workload}: no such workload`, ok: false };
    const done = await scaleWorkload(this.world.applyDeps(), ref, replicas);
    return { what: `scale ${ref.kind}/${ref.name} to ${replicas}`, ok: done };
  }

  private async resolve(workload: string): Promise<ObjectRef | undefined> {
    for (const kind of WORKLOAD_KINDS) {
      const found = (await this.world.store.listObjects({ kind, tenantId: this.world.tenantId })).find((o) =>
        matchesWorkload(workload, o),
      );
      if (found) return found;
    }
    return undefined;
  }
}

function describe(target: NodeTarget): string {
  if (target === "random") return "(random)";
  if ("name" in target) return target.name;
  return target.index !== undefined ? `${target.pool}#${target.index}` : `(random in pool ${target.pool})`;
}
