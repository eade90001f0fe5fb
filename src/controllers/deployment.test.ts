import { describe, expect, it } from "vitest";
import { templateHash } from "../core/hash.js";
import { reconcileDeployment, TEMPLATE_HASH_LABEL } from "./deployment.js";
import { reconcileReplicaSet } from "./replicaset.js";
import { REVISION_ANNOTATION } from "./revision.js";
import { AUTO_ROLLBACK_ANNOTATION } from "./rollback.js";
import { testPod } from "./testkit.js";
import type { Action, DeploymentView, PodView, ReplicaSetView } from "./types.js";

const T0 = Date.UTC(2026, 0, 1);

function deployment(replicas: number, image = "web:1", over: Partial<DeploymentView["spec"]> = {}): DeploymentView {
  return {
    name: "web",
    namespace: "default",
    uid: "uid-web",
    generation: 1,
    annotations: {},
    status: {},
    spec: {
      replicas,
      selector: { matchLabels: { app: "web" } },
      template: {
        metadata: { labels: { app: "web" } },
        spec: { containers: [{ name: "web", image, resources: { requests: { cpu: "100m", memory: "64Mi" } } }] },
      },
      ...over,
    },
  };
}

/**
 * A tiny world the pure controllers act on: ReplicaSets and pods as plain data,
 * actions applied the way the workers apply them. New pods turn ready at the next
 * step unless `healthy` says otherwise. It checks nothing itself; tests do.
 */
class World {
  sets: ReplicaSetView[] = [];
  pods = new Map<string, PodView & { owner: string }>();
  now = T0;
  seq = 0;
  events: string[] = [];
  rolledBackTo?: number;

  constructor(
    public dep: DeploymentView,
    public healthy: (image: string) => boolean = () => true,
  ) {}

  podsOf = (rs: ReplicaSetView) => [...this.pods.values()].filter((p) => p.owner === rs.uid);

  step(): Action[] {
    this.now += 1000;
    // Pods come up (or not) and stopping pods go.
    for (const [id, pod] of this.pods) {
      if (pod.deleting) this.pods.delete(id);
      else if (!pod.ready && this.healthy(this.imageOf(pod)))
        this.pods.set(id, { ...pod, ready: true, phase: "Running", readySinceMs: this.now });
    }
    const actions = reconcileDeployment(this.dep, this.sets, this.podsOf, this.now);
    this.apply(actions);
    for (const rs of this.sets) {
      for (const a of reconcileReplicaSet(rs, this.podsOf(rs), this.now)) {
        if (a.type === "createPod") this.addPod(rs, a.pod.templateHash);
        if (a.type === "deletePod") this.markDeleting(a.podId);
        if (a.type === "updateStatus") rs.status = a.status;
      }
    }
    return actions;
  }

  run(steps: number, check: () => void = () => {}): void {
    for (let i = 0; i < steps; i++) {
      this.step();
      check();
    }
  }

  private apply(actions: Action[]): void {
    for (const a of actions) {
      if (a.type === "createReplicaSet") {
        const d = a.replicaSet;
        this.sets.push({
          ...d,
          namespace: "default",
          uid: `rs-${++this.seq}`,
          generation: 1,
          createdAt: this.now,
          status: {},
        });
      }
      if (a.type === "scaleReplicaSet") {
        const rs = this.sets.find((s) => s.name === a.name);
        if (rs) {
          rs.spec = { ...rs.spec, replicas: a.replicas };
          rs.annotations = { ...rs.annotations, ...a.annotations };
        }
      }
      if (a.type === "deleteReplicaSet") this.sets = this.sets.filter((s) => s.name !== a.name);
      if (a.type === "updateStatus") this.dep = { ...this.dep, status: a.status };
      if (a.type === "recordEvent") this.events.push(`${a.reason}: ${a.message}`);
      if (a.type === "rollback") {
        this.rolledBackTo = a.toRevision;
        this.dep = {
          ...this.dep,
          generation: this.dep.generation + 1,
          spec: { ...this.dep.spec, template: a.template },
        };
      }
    }
  }

  private addPod(rs: ReplicaSetView, hash: string): void {
    const id = `pod-${++this.seq}`;
    this.pods.set(id, {
      ...testPod({ id, name: `${rs.name}-${this.seq}`, templateHash: hash, createdAt: this.now }),
      owner: rs.uid,
      labels: { ...(rs.spec.template.metadata?.labels ?? {}) },
    });
  }

  private markDeleting(id: string): void {
    const pod = this.pods.get(id);
    if (pod) this.pods.set(id, { ...pod, deleting: true, ready: false });
  }

  imageOf(pod: PodView & { owner: string }): string {
    const containers = this.sets.find((s) => s.uid === pod.owner)?.spec.template.spec.containers as { image: string }[];
    return containers[0]?.image ?? "";
  }

  live = () => [...this.pods.values()].filter((p) => !p.deleting);
  ready = () => this.live().filter((p) => p.ready).length;
  images = () => new Set(this.live().map((p) => this.imageOf(p)));
  update(change: Partial<DeploymentView["spec"]>, annotations: Record<string, string> = {}): void {
    this.dep = {
      ...this.dep,
      generation: this.dep.generation + 1,
      annotations: { ...this.dep.annotations, ...annotations },
      spec: { ...this.dep.spec, ...change },
    };
  }
  setImage(image: string): void {
    const template = structuredClone(this.dep.spec.template);
    (template.spec.containers as { image: string }[])[0] = {
      ...(template.spec.containers as { image: string }[])[0],
      image,
    } as { image: string };
    this.update({ template });
  }
}

const types = (actions: Action[]) => actions.map((a) => a.type);

describe("reconcileDeployment", () => {
  it("creates the first ReplicaSet at revision 1, owned, labelled and selected by the template hash", () => {
    const dep = deployment(3);
    const actions = reconcileDeployment(dep, [], () => [], T0);
    const create = actions.find((a) => a.type === "createReplicaSet");
    if (create?.type !== "createReplicaSet") throw new Error("no ReplicaSet created");
    const hash = templateHash(dep.spec.template);
    expect(create.replicaSet).toMatchObject({
      name: `web-${hash}`,
      labels: { app: "web", [TEMPLATE_HASH_LABEL]: hash },
      annotations: { [REVISION_ANNOTATION]: "1" },
      owner: { kind: "Deployment", name: "web", uid: "uid-web" },
      spec: { replicas: 3, selector: { matchLabels: { app: "web", [TEMPLATE_HASH_LABEL]: hash } } },
    });
    expect(create.replicaSet.spec.template.metadata?.labels?.[TEMPLATE_HASH_LABEL]).toBe(hash);
  });

  it("converges to the replicas, reports status, then does nothing", () => {
    const world = new World(deployment(3));
    world.run(3);
    expect(world.ready()).toBe(3);
    expect(world.dep.status).toMatchObject({
      replicas: 3,
      updatedReplicas: 3,
      readyReplicas: 3,
      availableReplicas: 3,
      observedGeneration: 1,
    });
    const conditions = (world.dep.status.conditions as { type: string; status: string; reason: string }[]).map((c) => [
      c.type,
      c.status,
      c.reason,
    ]);
    expect(conditions).toEqual([
      ["Available", "True", "MinimumReplicasAvailable"],
      ["Progressing", "True", "NewReplicaSetAvailable"],
    ]);
    expect(types(world.step())).toEqual([]);
  });

  it("scales up and down through the ReplicaSet", () => {
    const world = new World(deployment(2));
    world.run(3);
    world.update({ replicas: 5 });
    world.run(3);
    expect(world.ready()).toBe(5);
    world.update({ replicas: 1 });
    world.run(3);
    expect(world.live()).toHaveLength(1);
    expect(world.sets).toHaveLength(1);
  });

  it("rolls 10 replicas to a new template within maxSurge and maxUnavailable (25%: ≤ 13 pods, ≥ 8 available)", () => {
    const world = new World(deployment(10, "web:1"));
    world.run(3);
    world.setImage("web:2");
    let maxPods = 0;
    let minReady = 10;
    world.run(30, () => {
      maxPods = Math.max(maxPods, world.live().length);
      minReady = Math.min(minReady, world.ready());
    });
    expect(maxPods).toBeLessThanOrEqual(13);
    expect(minReady).toBeGreaterThanOrEqual(8);
    expect(world.images()).toEqual(new Set(["web:2"]));
    expect(world.live()).toHaveLength(10);
    expect(world.sets.map((s) => [s.spec.replicas, s.annotations[REVISION_ANNOTATION]])).toEqual([
      [0, "1"],
      [10, "2"],
    ]);
    expect(world.events.some((e) => e.startsWith("ScalingReplicaSet: Scaled down replica set web-"))).toBe(true);
  });

  it("honours numeric bounds: maxSurge 0, maxUnavailable 1 replaces one pod at a time", () => {
    const world = new World(
      deployment(4, "web:1", {
        strategy: { type: "RollingUpdate", rollingUpdate: { maxSurge: 0, maxUnavailable: 1 } },
      }),
    );
    world.run(3);
    world.setImage("web:2");
    world.run(20, () => {
      expect(world.live().length).toBeLessThanOrEqual(4);
      expect(world.ready()).toBeGreaterThanOrEqual(3);
    });
    expect(world.images()).toEqual(new Set(["web:2"]));
  });

  it("Recreate stops every old pod before a new one starts", () => {
    const world = new World(deployment(3, "web:1", { strategy: { type: "Recreate" } }));
    world.run(3);
    world.setImage("web:2");
    world.run(10, () => expect(world.images().size).toBeLessThanOrEqual(1));
    expect(world.images()).toEqual(new Set(["web:2"]));
    expect(world.ready()).toBe(3);
  });

  it("counts a pod available only after minReadySeconds, and asks to look again then", () => {
    const dep = deployment(1, "web:1", { minReadySeconds: 30 });
    const world = new World(dep);
    world.run(2);
    expect(world.dep.status).toMatchObject({ readyReplicas: 1, availableReplicas: 0 });
    const requeue = world.step().find((a) => a.type === "requeue");
    expect(requeue?.type === "requeue" && requeue.afterMs).toBeLessThanOrEqual(30_000);
    world.now += 30_000;
    world.step();
    expect(world.dep.status).toMatchObject({ availableReplicas: 1 });
  });

  it("misses the progress deadline when new pods never get ready, and rolls back automatically with an event", () => {
    const world = new World(deployment(3, "web:1", { progressDeadlineSeconds: 10 }), (image) => image !== "web:bad");
    world.run(3);
    world.setImage("web:bad");
    world.run(20);
    expect(world.rolledBackTo).toBe(1);
    expect(
      world.events.some((e) =>
        e.startsWith("RolledBack: Rolled back to revision 1: the rollout missed its progress deadline"),
      ),
    ).toBe(true);
    world.run(10);
    expect(world.images()).toEqual(new Set(["web:1"]));
    expect(world.ready()).toBe(3);
    // The old template's ReplicaSet is the newest revision again.
    expect(world.sets.find((s) => s.spec.replicas === 3)?.annotations[REVISION_ANNOTATION]).toBe("3");
  });

  it("never rolls back with the opt-out annotation; reports ProgressDeadlineExceeded instead", () => {
    const world = new World(deployment(2, "web:1", { progressDeadlineSeconds: 5 }), (image) => image !== "web:bad");
    world.dep = { ...world.dep, annotations: { [AUTO_ROLLBACK_ANNOTATION]: "false" } };
    world.run(3);
    world.setImage("web:bad");
    world.run(15);
    expect(world.rolledBackTo).toBeUndefined();
    const progressing = (world.dep.status.conditions as { type: string; status: string; reason: string }[]).find(
      (c) => c.type === "Progressing",
    );
    expect(progressing).toMatchObject({ status: "False", reason: "ProgressDeadlineExceeded" });
  });

  it("rolls back when the new template's pods crash-loop", () => {
    const dep = deployment(2, "web:1");
    const world = new World(dep);
    world.run(3);
    world.setImage("web:crash");
    world.step();
    for (const [id, pod] of world.pods) {
      if (world.imageOf(pod) === "web:crash") world.pods.set(id, { ...pod, crashLooping: true, restartCount: 3 });
    }
    world.step();
    expect(world.rolledBackTo).toBe(1);
    expect(world.events.find((e) => e.startsWith("RolledBack"))).toMatch(/crash-looping \(3 restarts\)/);
  });

  it("paused: no rollout moves; resumed: it completes", () => {
    const world = new World(deployment(2, "web:1"));
    world.run(3);
    world.update({ paused: true });
    world.setImage("web:2");
    world.run(5);
    expect(world.images()).toEqual(new Set(["web:1"]));
    const progressing = (world.dep.status.conditions as { type: string; reason: string }[]).find(
      (c) => c.type === "Progressing",
    );
    expect(progressing?.reason).toBe("DeploymentPaused");
    world.update({ paused: false });
    world.run(10);
    expect(world.images()).toEqual(new Set(["web:2"]));
  });

  it("keeps at most revisionHistoryLimit old ReplicaSets", () => {
    const world = new World(deployment(1, "web:1", { revisionHistoryLimit: 2 }));
    world.run(3);
    for (let v = 1; v <= 5; v++) {
      world.setImage(`web:${v + 1}`);
      world.run(6);
    }
    expect(world.sets).toHaveLength(3);
    expect(world.sets.map((s) => s.annotations[REVISION_ANNOTATION])).toEqual(["4", "5", "6"]);
  });
});
