import { describe, expect, it } from "vitest";
import { claimName, ordinalOf, reconcileStatefulSet } from "./statefulset.js";
import { testPod } from "./testkit.js";
import type { Action, PodView, StatefulSetView } from "./types.js";

const T0 = Date.UTC(2026, 0, 1);

function statefulSet(replicas: number, image = "db:1", over: Partial<StatefulSetView["spec"]> = {}): StatefulSetView {
  return {
    name: "db",
    namespace: "default",
    uid: "uid-db",
    generation: 1,
    status: {},
    spec: {
      replicas,
      serviceName: "db",
      selector: { matchLabels: { app: "db" } },
      template: { metadata: { labels: { app: "db" } }, spec: { containers: [{ name: "db", image }] } },
      volumeClaimTemplates: [
        {
          metadata: { name: "data" },
          spec: { accessModes: ["ReadWriteOnce"], resources: { requests: { storage: "1Gi" } } },
        },
      ],
      ...over,
    },
  };
}

/** Pods and claims as plain data; a created pod turns ready at the next step, a deleted one is gone then. */
class World {
  pods = new Map<string, PodView & { spec: Record<string, unknown> }>();
  claims = new Set<string>();
  log: string[] = [];
  now = T0;

  constructor(public sts: StatefulSetView) {}

  step(): Action[] {
    this.now += 1000;
    for (const [name, pod] of this.pods) {
      if (pod.deleting) this.pods.delete(name);
      else if (pod.phase === "Pending") this.pods.set(name, { ...pod, ready: true, phase: "Running" });
    }
    const actions = reconcileStatefulSet(this.sts, [...this.pods.values()], new Set(this.claims), this.now);
    for (const a of actions) {
      if (a.type === "createClaim") {
        expect(this.claims.has(a.claim.name)).toBe(false);
        this.claims.add(a.claim.name);
        this.log.push(`claim ${a.claim.name}`);
      }
      if (a.type === "deleteClaim") this.claims.delete(a.name);
      if (a.type === "createPod") {
        const name = a.pod.name as string;
        // Never two live pods for one ordinal: the name must be free.
        expect(this.pods.has(name)).toBe(false);
        const volumes = (a.pod.spec.volumes as { persistentVolumeClaim?: { claimName: string } }[]) ?? [];
        for (const v of volumes)
          if (v.persistentVolumeClaim) expect(this.claims.has(v.persistentVolumeClaim.claimName)).toBe(true);
        const fields = { id: `pod-${name}`, name, uid: `uid-${name}-${this.now}`, labels: a.pod.labels };
        const pod = testPod({ ...fields, templateHash: a.pod.templateHash, createdAt: this.now });
        this.pods.set(name, { ...pod, spec: a.pod.spec });
        this.log.push(`create ${name}`);
      }
      if (a.type === "deletePod") {
        const pod = [...this.pods.values()].find((p) => p.id === a.podId);
        if (pod) this.pods.set(pod.name, { ...pod, deleting: true, ready: false });
        this.log.push(`delete ${pod?.name}`);
      }
      if (a.type === "updateStatus") this.sts = { ...this.sts, status: a.status };
    }
    return actions;
  }

  run(steps: number): void {
    for (let i = 0; i < steps; i++) this.step();
  }

  update(change: Partial<StatefulSetView["spec"]>): void {
    this.sts = { ...this.sts, generation: this.sts.generation + 1, spec: { ...this.sts.spec, ...change } };
  }

  image(name: string): string | undefined {
    return (this.pods.get(name)?.spec.containers as { image: string }[] | undefined)?.[0]?.image;
  }
}

describe("reconcileStatefulSet", () => {
  it("names pods by ordinal and claims by template, set and ordinal", () => {
    expect(ordinalOf("db", "db-12")).toBe(12);
    expect(ordinalOf("db", "db-x")).toBeUndefined();
    expect(ordinalOf("db", "dbx-1")).toBeUndefined();
    expect(claimName("data", "db", 2)).toBe("data-db-2");
  });

  it("OrderedReady: creates 0, 1, 2 one at a time, each claim before its pod, with stable identity", () => {
    const world = new World(statefulSet(3));
    world.run(6);
    expect(world.log).toEqual([
      "claim data-db-0",
      "create db-0",
      "claim data-db-1",
      "create db-1",
      "claim data-db-2",
      "create db-2",
    ]);
    const pod = world.pods.get("db-1");
    expect(pod?.spec).toMatchObject({ hostname: "db-1", subdomain: "db" });
    expect(pod?.spec.volumes).toEqual([{ name: "data", persistentVolumeClaim: { claimName: "data-db-1" } }]);
    expect(pod?.labels).toMatchObject({
      app: "db",
      "statefulset.kubernetes.io/pod-name": "db-1",
      "apps.kubernetes.io/pod-index": "1",
    });
    expect(world.sts.status).toMatchObject({
      replicas: 3,
      readyReplicas: 3,
      updatedReplicas: 3,
      observedGeneration: 1,
    });
  });

  it("Parallel creates every ordinal at once", () => {
    const world = new World(statefulSet(3, "db:1", { podManagementPolicy: "Parallel" }));
    world.step();
    expect(world.log.filter((l) => l.startsWith("create"))).toEqual(["create db-0", "create db-1", "create db-2"]);
  });

  it("rolls a new template 2, 1, 0, one at a time, keeping each ordinal's claim", () => {
    const world = new World(statefulSet(3));
    world.run(6);
    const claims = new Set(world.claims);
    world.log = [];
    world.update({
      template: { metadata: { labels: { app: "db" } }, spec: { containers: [{ name: "db", image: "db:2" }] } },
    });
    world.run(12);
    expect(world.log).toEqual([
      "delete db-2",
      "create db-2",
      "delete db-1",
      "create db-1",
      "delete db-0",
      "create db-0",
    ]);
    expect(["db-0", "db-1", "db-2"].map((n) => world.image(n))).toEqual(["db:2", "db:2", "db:2"]);
    expect(world.claims).toEqual(claims);
    expect(world.sts.status).toMatchObject({
      updatedReplicas: 3,
      currentRevision: (world.sts.status as { updateRevision: string }).updateRevision,
    });
  });

  it("stops at the partition", () => {
    const world = new World(statefulSet(3));
    world.run(6);
    world.update({
      template: { metadata: { labels: { app: "db" } }, spec: { containers: [{ name: "db", image: "db:2" }] } },
      updateStrategy: { type: "RollingUpdate", rollingUpdate: { partition: 2 } },
    });
    world.run(10);
    expect(["db-0", "db-1", "db-2"].map((n) => world.image(n))).toEqual(["db:1", "db:1", "db:2"]);
  });

  it("scales down from the highest ordinal, one at a time; claims stay unless whenScaled is Delete", () => {
    const world = new World(statefulSet(3));
    world.run(6);
    world.log = [];
    world.update({ replicas: 1 });
    world.run(5);
    expect(world.log).toEqual(["delete db-2", "delete db-1"]);
    expect(world.claims).toEqual(new Set(["data-db-0", "data-db-1", "data-db-2"]));
    world.update({ persistentVolumeClaimRetentionPolicy: { whenScaled: "Delete" } });
    world.run(2);
    expect(world.claims).toEqual(new Set(["data-db-0"]));
  });

  it("a restarted ordinal gets its own claim back, not a new one", () => {
    const world = new World(statefulSet(2));
    world.run(4);
    const pod = world.pods.get("db-0");
    if (pod) world.pods.set("db-0", { ...pod, phase: "Failed", ready: false });
    world.log = [];
    world.run(3);
    expect(world.log).toEqual(["delete db-0", "create db-0"]);
    expect(world.pods.get("db-0")?.spec.volumes).toEqual([
      { name: "data", persistentVolumeClaim: { claimName: "data-db-0" } },
    ]);
  });
});
