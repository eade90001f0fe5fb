import { describe, expect, it } from "vitest";
import type { PodRecord } from "../db/types.js";
import { ownedPods, podView } from "./views.js";

function record(n = 1, ownerUid = "rs-1"): PodRecord {
  return {
    id: `pod_${n}`,
    tenantId: "ten_1",
    namespace: "default",
    name: `web-${n}`,
    uid: `uid-${n}`,
    ownerKind: "ReplicaSet",
    ownerName: "web",
    ownerUid,
    labels: { app: "web" },
    annotations: {},
    templateHash: "h",
    spec: { containers: [{ name: "app", image: "web:1", ports: [{ name: "http", containerPort: 8080 }] }] },
    cpuMillis: 100,
    memoryBytes: 1024,
    nodeName: "n1",
    phase: "Running",
    ready: false,
    status: {},
    deletionRequestedAt: null,
    resourceVersion: "1",
    createdAt: 0,
    updatedAt: 0,
  };
}

describe("podView", () => {
  it("views a frozen record once: the same frozen view each time", () => {
    const pod = Object.freeze(record());
    const view = podView(pod);
    expect(podView(pod)).toBe(view);
    expect(Object.isFrozen(view)).toBe(true);
    expect(view).toMatchObject({ id: "pod_1", bound: true, ready: false, namedPorts: { http: 8080 } });
  });

  it("views a record that may change afresh each time", () => {
    const pod = record();
    expect(podView(pod).ready).toBe(false);
    pod.ready = true;
    pod.nodeName = null;
    expect(podView(pod)).toMatchObject({ ready: true, bound: false });
  });
});

describe("ownedPods", () => {
  /** A frozen record that counts how often its fields are read. */
  function watched(n: number, ownerUid: string, reads: Map<string, number>): PodRecord {
    const target = Object.freeze(record(n, ownerUid));
    return new Proxy(target, {
      get(t, key, receiver) {
        reads.set(t.id, (reads.get(t.id) ?? 0) + 1);
        return Reflect.get(t, key, receiver);
      },
    });
  }

  it("splits a listing into views of the owner's pods and the pods of an owner of that name before it", () => {
    const pods = [record(1), record(2, "rs-old"), record(3)].map((p) => Object.freeze(p));
    const { owned, strangers } = ownedPods(pods, "rs-1");
    expect(owned.map((v) => v.id)).toEqual(["pod_1", "pod_3"]);
    expect(strangers.map((p) => p.id)).toEqual(["pod_2"]);
    // An owner that is gone owns none of them.
    expect(ownedPods(pods, undefined).strangers).toHaveLength(3);
  });

  it("reads again only the records that changed since the owner's last look", () => {
    const reads = new Map<string, number>();
    const first = [watched(1, "rs-a", reads), watched(2, "rs-a", reads), watched(3, "rs-old", reads)];
    const looked = ownedPods(first, "rs-a");
    expect(reads.get("pod_1")).toBeGreaterThan(0);
    reads.clear();
    // The same records again: nothing is read, and the answer is the same.
    const again = ownedPods([...first], "rs-a");
    expect(reads.size).toBe(0);
    expect(again.owned).toEqual(looked.owned);
    expect(again.strangers).toEqual(looked.strangers);
    reads.clear();
    // One record replaced by a newer version of the pod: only it is read, and its new view is given.
    const changed = Object.freeze({ ...record(2, "rs-a"), ready: true });
    const second = ownedPods([first[0] as PodRecord, changed, first[2] as PodRecord], "rs-a");
    expect(reads.size).toBe(0);
    expect(second.owned.map((v) => [v.id, v.ready])).toEqual([
      ["pod_1", false],
      ["pod_2", true],
    ]);
    expect(second.strangers.map((p) => p.id)).toEqual(["pod_3"]);
  });

  it("finds the records of the last look when pods before them left or joined", () => {
    const reads = new Map<string, number>();
    const pods = [1, 2, 3, 4, 5, 6].map((n) => watched(n, "rs-d", reads));
    ownedPods(pods, "rs-d");
    reads.clear();
    const joined = Object.freeze(record(7, "rs-d"));
    // pod_1 and pod_3 left, pod_7 joined between pod_4 and pod_5.
    const next = [pods[1], pods[3], joined, pods[4], pods[5]] as PodRecord[];
    const look = ownedPods(next, "rs-d");
    expect(reads.size).toBe(0);
    expect(look.owned.map((v) => v.id)).toEqual(["pod_2", "pod_4", "pod_7", "pod_5", "pod_6"]);
  });

  it("reads records that may change every time", () => {
    const pod = record(1, "rs-b");
    expect(ownedPods([pod], "rs-b").owned[0]?.ready).toBe(false);
    pod.ready = true;
    expect(ownedPods([pod], "rs-b").owned[0]?.ready).toBe(true);
    pod.ownerUid = "rs-c";
    expect(ownedPods([pod], "rs-b")).toMatchObject({ owned: [], strangers: [pod] });
  });
});
