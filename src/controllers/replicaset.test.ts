import { describe, expect, it } from "vitest";
import { reconcileReplicaSet } from "./replicaset.js";
import { testPod } from "./testkit.js";
import type { ReplicaSetView } from "./types.js";

const rs: ReplicaSetView = {
  name: "web-abc",
  namespace: "default",
  uid: "uid-rs",
  generation: 1,
  labels: { "pod-template-hash": "abc" },
  annotations: {},
  status: {},
  createdAt: 0,
  spec: {
    replicas: 3,
    selector: { matchLabels: { app: "web" } },
    template: { metadata: { labels: { app: "web" } }, spec: { containers: [{ name: "web", image: "web:1" }] } },
  },
};

const ready = (id: string, over = {}) =>
  testPod({ id, name: id, phase: "Running", ready: true, readySinceMs: 0, ...over });
const kinds = (actions: ReturnType<typeof reconcileReplicaSet>) =>
  actions.filter((a) => a.type === "createPod" || a.type === "deletePod").map((a) => a.type);

describe("reconcileReplicaSet moves a pod replacement first", () => {
  it("creates a replacement for a pod marked to move, and keeps the marked pod meanwhile", () => {
    const actions = reconcileReplicaSet(rs, [ready("a"), ready("b"), ready("c", { moving: true })], 1_000);
    expect(kinds(actions)).toEqual(["createPod"]);
  });

  it("keeps the marked pod while its replacement is not yet available", () => {
    const pods = [ready("a"), ready("b"), ready("c", { moving: true }), testPod({ id: "d", name: "d" })];
    expect(kinds(reconcileReplicaSet(rs, pods, 1_000))).toEqual([]);
  });

  it("deletes the marked pod once the others are available without it", () => {
    const pods = [ready("a"), ready("b"), ready("c", { moving: true }), ready("d")];
    const actions = reconcileReplicaSet(rs, pods, 1_000);
    expect(actions).toContainEqual(expect.objectContaining({ type: "deletePod", podId: "c" }));
    expect(kinds(actions)).toEqual(["deletePod"]);
  });

  it("lets moved pods go one at a time as replacements become available, even when not all can be replaced", async () => {
    // Two marked, room (quota, capacity) for one replacement only: the first goes once it is available.
    const pods = [ready("a"), ready("b", { moving: true }), ready("c", { moving: true }), ready("d")];
    const actions = reconcileReplicaSet(rs, pods, 1_000);
    expect(actions.filter((a) => a.type === "deletePod")).toEqual([expect.objectContaining({ podId: "b" })]);
    // Then the one marked pod left is replaced in turn.
    const next = reconcileReplicaSet(rs, [ready("a"), ready("c", { moving: true }), ready("d")], 1_000);
    expect(kinds(next)).toEqual(["createPod"]);
  });
});
