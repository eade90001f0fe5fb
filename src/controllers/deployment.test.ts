import { describe, expect, it } from "vitest";
import { templateHash } from "../core/hash.js";
import { reconcileDeployment, TEMPLATE_HASH_LABEL } from "./deployment.js";
import type { Action, DeploymentView, PodView } from "./types.js";

const NOW = Date.UTC(2026, 0, 1);

function deployment(replicas: number, image = "web:1", over: Partial<DeploymentView["spec"]> = {}): DeploymentView {
  return {
    name: "web",
    namespace: "default",
    uid: "uid-web",
    generation: 1,
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

let seq = 0;
function pod(hash: string | null, over: Partial<PodView> = {}): PodView {
  seq++;
  return {
    id: `pod_${seq}`,
    name: `web-${seq}`,
    uid: `uid-${seq}`,
    labels: { app: "web" },
    templateHash: hash,
    phase: "Running",
    ready: true,
    bound: true,
    deleting: false,
    createdAt: NOW - 1000 + seq,
    namedPorts: {},
    restartCount: 0,
    crashLooping: false,
    ...over,
  };
}

const creates = (actions: Action[]) => actions.filter((a) => a.type === "createPod");
const deletes = (actions: Action[]) =>
  actions.filter((a) => a.type === "deletePod").map((a) => (a as { podId: string }).podId);
const hashOf = (d: DeploymentView) => templateHash(d.spec.template);

describe("reconcileDeployment", () => {
  it("creates the missing replicas, stamped with the template hash, requests summed", () => {
    const dep = deployment(3);
    const actions = reconcileDeployment(dep, [], NOW);
    const made = creates(actions);
    expect(made).toHaveLength(3);
    const draft = (made[0] as Extract<Action, { type: "createPod" }>).pod;
    expect(draft.labels).toEqual({ app: "web", [TEMPLATE_HASH_LABEL]: hashOf(dep) });
    expect(draft.generateName).toBe(`web-${hashOf(dep)}-`);
    expect(draft.owner).toEqual({ kind: "Deployment", name: "web", uid: "uid-web" });
    expect(draft.cpuMillis).toBe(100);
    expect(draft.memoryBytes).toBe(64 * 2 ** 20);
  });

  it("scales down by deleting the cheapest pods first (unready, then newest)", () => {
    const dep = deployment(1);
    const h = hashOf(dep);
    const oldReady = pod(h);
    const unready = pod(h, { ready: false });
    const newest = pod(h);
    const actions = reconcileDeployment(dep, [oldReady, unready, newest], NOW);
    expect(creates(actions)).toHaveLength(0);
    expect(deletes(actions)).toEqual([unready.id, newest.id]);
  });

  it("does nothing but report status when the pods match", () => {
    const dep = deployment(2);
    const pods = [pod(hashOf(dep)), pod(hashOf(dep))];
    const actions = reconcileDeployment(dep, pods, NOW);
    expect(actions.map((a) => a.type)).toEqual(["updateStatus"]);
    const status = (actions[0] as { status: Record<string, unknown> }).status;
    expect(status).toMatchObject({
      replicas: 2,
      readyReplicas: 2,
      updatedReplicas: 2,
      availableReplicas: 2,
      observedGeneration: 1,
    });
    const again = reconcileDeployment({ ...dep, status }, pods, NOW + 5000);
    expect(again).toEqual([]);
  });

  it("replaces pods of a changed template within maxSurge and maxUnavailable (25% each of 4: one up, one down)", () => {
    const oldDep = deployment(4, "web:1");
    const oldPods = [1, 2, 3, 4].map(() => pod(hashOf(oldDep)));
    const newDep = deployment(4, "web:2");
    const step1 = reconcileDeployment(newDep, oldPods, NOW);
    expect(creates(step1)).toHaveLength(1);
    expect(deletes(step1)).toHaveLength(1);
    // The new pod is not ready yet: no further old pod may go.
    const remaining = oldPods.filter((p) => !deletes(step1).includes(p.id));
    const fresh = pod(hashOf(newDep), { ready: false, phase: "Pending" });
    const step2 = reconcileDeployment(newDep, [...remaining, fresh], NOW);
    expect(creates(step2)).toHaveLength(1);
    expect(deletes(step2)).toHaveLength(0);
  });

  it("rolls a changed template to completion, never below 3 ready of 4", () => {
    const newDep = deployment(4, "web:2");
    let pods = [1, 2, 3, 4].map(() => pod(hashOf(deployment(4, "web:1"))));
    for (let round = 0; round < 20; round++) {
      const actions = reconcileDeployment(newDep, pods, NOW);
      const gone = deletes(actions);
      pods = pods.filter((p) => !gone.includes(p.id));
      expect(pods.filter((p) => p.ready).length).toBeGreaterThanOrEqual(3);
      expect(pods.length + creates(actions).length).toBeLessThanOrEqual(5);
      // New pods become ready before the next round.
      pods.push(...creates(actions).map(() => pod(hashOf(newDep))));
    }
    expect(pods).toHaveLength(4);
    expect(pods.every((p) => p.templateHash === hashOf(newDep))).toBe(true);
  });

  it("Recreate stops every old pod before starting new ones", () => {
    const newDep = deployment(2, "web:2", { strategy: { type: "Recreate" } });
    const old = [pod("old"), pod("old")];
    const step1 = reconcileDeployment(newDep, old, NOW);
    expect(deletes(step1)).toHaveLength(2);
    expect(creates(step1)).toHaveLength(0);
    const stopping = old.map((p) => ({ ...p, deleting: true }));
    expect(creates(reconcileDeployment(newDep, stopping, NOW))).toHaveLength(0);
    expect(creates(reconcileDeployment(newDep, [], NOW))).toHaveLength(2);
  });

  it("replaces failed pods", () => {
    const dep = deployment(1);
    const failed = pod(hashOf(dep), { phase: "Failed", ready: false });
    const actions = reconcileDeployment(dep, [failed], NOW);
    expect(deletes(actions)).toEqual([failed.id]);
    expect(creates(actions)).toHaveLength(1);
  });
});
