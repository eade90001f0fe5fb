import { describe, expect, it } from "vitest";
import { deploymentStatus } from "./deploymentStatus.js";
import {
  checkQuota,
  fitsQuota,
  formatBytesQuantity,
  formatCpuQuantity,
  type QuotaObject,
  quotaAllowance,
  quotaMessage,
  steadyState,
  ZERO_USAGE,
} from "./quota.js";
import { reconcileReplicaSet } from "./replicaset.js";
import { testPod } from "./testkit.js";
import type { DeploymentView, ReplicaSetView } from "./types.js";

const Mi = 2 ** 20;
const Gi = 2 ** 30;

const podSpec = (requests?: { cpu?: string; memory?: string }) => ({
  containers: [{ name: "app", image: "app:1", ...(requests ? { resources: { requests } } : {}) }],
});
const template = (requests?: { cpu?: string; memory?: string }) => ({ spec: podSpec(requests) });
const claimTemplate = (name: string, storage: string) => ({
  metadata: { name },
  spec: { accessModes: ["ReadWriteOnce"], resources: { requests: { storage } } },
});
const claim = (name: string, storage: string, namespace = "default"): QuotaObject => ({
  kind: "PersistentVolumeClaim",
  namespace,
  name,
  spec: { resources: { requests: { storage } } },
});
const obj = (kind: string, name: string, spec: Record<string, unknown>, ownerKind?: string): QuotaObject => ({
  kind,
  namespace: "default",
  name,
  spec,
  ...(ownerKind ? { ownerKind } : {}),
});

describe("steadyState counts what each kind keeps running and claims", () => {
  const small = { cpu: "250m", memory: "128Mi" };
  it.each([
    [
      "a Deployment: replicas × the template's requests",
      [obj("Deployment", "web", { replicas: 3, template: template(small) })],
      { pods: 3, cpuMillis: 750, memoryBytes: 384 * Mi, storageBytes: 0 },
    ],
    [
      "a Deployment without replicas: one",
      [obj("Deployment", "web", { template: template(small) })],
      { pods: 1, cpuMillis: 250, memoryBytes: 128 * Mi, storageBytes: 0 },
    ],
    [
      "a Deployment scaled to zero: nothing",
      [obj("Deployment", "web", { replicas: 0, template: template(small) })],
      ZERO_USAGE,
    ],
    [
      "pods without requests count against pods only",
      [obj("Deployment", "web", { replicas: 4, template: template() })],
      { pods: 4, cpuMillis: 0, memoryBytes: 0, storageBytes: 0 },
    ],
    [
      "a standalone ReplicaSet and ReplicationController",
      [
        obj("ReplicaSet", "rs", { replicas: 2, template: template(small) }),
        obj("ReplicationController", "rc", { replicas: 1, template: template(small) }),
      ],
      { pods: 3, cpuMillis: 750, memoryBytes: 384 * Mi, storageBytes: 0 },
    ],
    [
      "a Deployment's own ReplicaSets are counted through the Deployment, not again",
      [
        obj("Deployment", "web", { replicas: 2, template: template(small) }),
        obj("ReplicaSet", "web-abc", { replicas: 3, template: template(small) }, "Deployment"),
      ],
      { pods: 2, cpuMillis: 500, memoryBytes: 256 * Mi, storageBytes: 0 },
    ],
    [
      "a bare Pod",
      [obj("Pod", "one", podSpec({ cpu: "1", memory: "1Gi" }))],
      { pods: 1, cpuMillis: 1000, memoryBytes: Gi, storageBytes: 0 },
    ],
    [
      "init containers as Kubernetes counts them: the larger of the init peak and the regular sum",
      [
        obj("Pod", "init", {
          initContainers: [{ name: "setup", image: "x", resources: { requests: { cpu: "2" } } }],
          containers: [{ name: "app", image: "x", resources: { requests: { cpu: "500m" } } }],
        }),
      ],
      { pods: 1, cpuMillis: 2000, memoryBytes: 0, storageBytes: 0 },
    ],
    [
      "a claim: its storage request",
      [claim("data", "10Gi")],
      { pods: 0, cpuMillis: 0, memoryBytes: 0, storageBytes: 10 * Gi },
    ],
    [
      "a StatefulSet: replicas × requests, and replicas × each claim template's storage",
      [
        obj("StatefulSet", "db", {
          replicas: 3,
          template: template(small),
          volumeClaimTemplates: [claimTemplate("data", "10Gi"), claimTemplate("logs", "1Gi")],
        }),
      ],
      { pods: 3, cpuMillis: 750, memoryBytes: 384 * Mi, storageBytes: 33 * Gi },
    ],
    [
      "DaemonSets are the operator's and count as nothing",
      [obj("DaemonSet", "agent", { template: template(small) })],
      ZERO_USAGE,
    ],
    [
      "Services and ConfigMaps count as nothing",
      [obj("Service", "web", { ports: [] }), obj("ConfigMap", "conf", { data: {} })],
      ZERO_USAGE,
    ],
  ])("%s", (_name, objects, expected) => {
    expect(steadyState(objects)).toEqual(expected);
  });

  it("counts a StatefulSet's claims once: made claims at their own size, the rest from the template", () => {
    const sts = obj("StatefulSet", "db", {
      replicas: 3,
      template: template(),
      volumeClaimTemplates: [claimTemplate("data", "10Gi")],
    });
    // Ordinals 0 and 1 have their claims already (one made larger); ordinal 2's is still to come.
    const made = [claim("data-db-0", "10Gi"), claim("data-db-1", "20Gi")];
    expect(steadyState([sts, ...made]).storageBytes).toBe(40 * Gi);
    expect(steadyState([sts]).storageBytes).toBe(30 * Gi);
  });

  it("keeps counting claims left behind by a scale-down, and never mixes namespaces or ordinals up", () => {
    const sts = obj("StatefulSet", "db", {
      replicas: 1,
      template: template(),
      volumeClaimTemplates: [claimTemplate("data", "10Gi")],
    });
    const claims = [claim("data-db-0", "10Gi"), claim("data-db-1", "10Gi"), claim("data-db-0", "5Gi", "other")];
    expect(steadyState([sts, ...claims]).storageBytes).toBe(25 * Gi);
  });

  it("starts a StatefulSet's claims at its first ordinal", () => {
    const sts = obj("StatefulSet", "db", {
      replicas: 2,
      ordinals: { start: 5 },
      template: template(),
      volumeClaimTemplates: [claimTemplate("data", "1Gi")],
    });
    expect(steadyState([sts, claim("data-db-0", "1Gi")]).storageBytes).toBe(3 * Gi);
    expect(steadyState([sts, claim("data-db-5", "1Gi")]).storageBytes).toBe(2 * Gi);
  });
});

describe("checkQuota", () => {
  const usage = (cpuMillis: number, pods = 1) => ({ ...ZERO_USAGE, cpuMillis, pods });

  it.each([
    ["within the quota", { cpuMillis: 8000 }, usage(4000), usage(8000), []],
    ["no limit set", {}, usage(4000), usage(80_000), []],
    [
      "raised over the quota",
      { cpuMillis: 8000 },
      usage(4000),
      usage(10_000),
      [{ resource: "cpu", hard: 8000, before: 4000, after: 10_000 }],
    ],
    ["lowered, though still over a quota lowered since", { cpuMillis: 2000 }, usage(4000), usage(3000), []],
    ["kept as it is over a lowered quota", { cpuMillis: 2000 }, usage(4000), usage(4000), []],
    [
      "every violated resource, in order",
      { cpuMillis: 1000, pods: 2 },
      usage(0, 0),
      usage(1500, 3),
      [
        { resource: "cpu", hard: 1000, before: 0, after: 1500 },
        { resource: "pods", hard: 2, before: 0, after: 3 },
      ],
    ],
  ])("%s", (_name, hard, before, after, expected) => {
    expect(checkQuota(hard, before, after)).toEqual(expected);
  });
});

describe("messages", () => {
  it("says what the change needs, what is used now and the limit, in quantities", () => {
    const message = quotaMessage([
      { resource: "cpu", hard: 8000, before: 4000, after: 10_000 },
      { resource: "memory", hard: 16 * Gi, before: 512 * Mi, after: 17 * Gi },
      { resource: "pods", hard: 10, before: 4, after: 12 },
    ]);
    expect(message).toBe(
      "exceeded quota: cpu: the steady state after this change needs 10 (now 4), the tenant's quota is 8; " +
        "memory: the steady state after this change needs 17Gi (now 512Mi), the tenant's quota is 16Gi; " +
        "pods: the steady state after this change needs 12 (now 4), the tenant's quota is 10",
    );
  });

  it.each([
    [0, "0"],
    [500, "500m"],
    [1500, "1500m"],
    [8000, "8"],
  ])("cpu %d millicores is %s", (millis, text) => expect(formatCpuQuantity(millis)).toBe(text));

  it.each([
    [0, "0"],
    [16 * Gi, "16Gi"],
    [1536 * Mi, "1536Mi"],
    [100e6, "100M"],
    [1000, "1k"],
    [1001, "1001"],
  ])("%d bytes is %s", (bytes, text) => expect(formatBytesQuantity(bytes)).toBe(text));
});

describe("a pod a controller is about to create", () => {
  const used = { pods: 3, cpuMillis: 3000, memoryBytes: 3 * Gi };

  it("fits while every limit leaves room for its requests and one more pod", () => {
    expect(fitsQuota({ cpuMillis: 4000, pods: 4 }, used, { cpuMillis: 1000, memoryBytes: 0 })).toEqual([]);
    expect(fitsQuota({ cpuMillis: 3500 }, used, { cpuMillis: 1000, memoryBytes: 0 })).toEqual([
      { resource: "cpu", hard: 3500, before: 3000, after: 4000 },
    ]);
    expect(fitsQuota({ pods: 3 }, used, { cpuMillis: 0, memoryBytes: 0 })).toEqual([
      { resource: "pods", hard: 3, before: 3, after: 4 },
    ]);
  });

  it("without requests is held only to pods, even when cpu is already over", () => {
    expect(fitsQuota({ cpuMillis: 1000, pods: 10 }, used, { cpuMillis: 0, memoryBytes: 0 })).toEqual([]);
  });

  it("lets a controller create as many as fit, and says why the rest cannot be", () => {
    const headroom = { hard: { cpuMillis: 5000 }, used };
    expect(quotaAllowance(headroom, { cpuMillis: 1000, memoryBytes: 0 }, 2, "web-")).toEqual({ allowed: 2 });
    expect(quotaAllowance(headroom, { cpuMillis: 1000, memoryBytes: 0 }, 5, "web-")).toEqual({
      allowed: 2,
      refusal: 'pods "web-" is forbidden: exceeded quota: requested: cpu=1, used: cpu=5, limited: cpu=5',
    });
    expect(quotaAllowance(undefined, { cpuMillis: 1000, memoryBytes: 0 }, 5, "web-")).toEqual({ allowed: 5 });
  });
});

describe("a ReplicaSet held to its tenant's quota", () => {
  const rs: ReplicaSetView = {
    name: "web-abc",
    namespace: "default",
    uid: "uid-rs",
    generation: 1,
    labels: { "pod-template-hash": "abc" },
    annotations: {},
    createdAt: 0,
    status: {},
    spec: {
      replicas: 3,
      selector: { matchLabels: { app: "web" } },
      template: { metadata: { labels: { app: "web" } }, spec: podSpec({ cpu: "1" }) },
    },
  };
  const running = (id: string) => testPod({ id, name: id, phase: "Running", ready: true, readySinceMs: 0 });
  const headroom = (cpuMillis: number) => ({ hard: { cpuMillis }, used: { pods: 1, cpuMillis: 1000, memoryBytes: 0 } });

  it("creates what fits, says FailedCreate with the numbers, marks itself ReplicaFailure and looks again", () => {
    const actions = reconcileReplicaSet(rs, [running("a")], 1_000, headroom(2000));
    expect(actions.filter((a) => a.type === "createPod")).toHaveLength(1);
    const message = 'pods "web-abc-" is forbidden: exceeded quota: requested: cpu=1, used: cpu=2, limited: cpu=2';
    expect(actions).toContainEqual({
      type: "recordEvent",
      eventType: "Warning",
      reason: "FailedCreate",
      message: `Error creating: ${message}`,
    });
    const status = actions.find((a) => a.type === "updateStatus");
    expect(status).toMatchObject({
      status: { conditions: [{ type: "ReplicaFailure", status: "True", reason: "FailedCreate", message }] },
    });
    expect(actions).toContainEqual({ type: "requeue", afterMs: 5_000 });
  });

  it("drops the condition once its pods could be created", () => {
    const failing = {
      ...rs,
      status: { conditions: [{ type: "ReplicaFailure", status: "True", reason: "FailedCreate", message: "x" }] },
    };
    const actions = reconcileReplicaSet(failing, [running("a")], 1_000, headroom(8000));
    expect(actions.filter((a) => a.type === "createPod")).toHaveLength(2);
    const status = actions.find((a) => a.type === "updateStatus");
    expect(status && status.type === "updateStatus" && status.status.conditions).toBeUndefined();
    expect(actions.some((a) => a.type === "recordEvent" && a.reason === "FailedCreate")).toBe(false);
  });
});

describe("a Deployment whose ReplicaSet is refused pods", () => {
  const dep: DeploymentView = {
    name: "web",
    namespace: "default",
    uid: "uid-dep",
    generation: 2,
    annotations: {},
    spec: { replicas: 2, selector: { matchLabels: { app: "web" } }, template: { spec: podSpec() } },
    status: {},
  };
  const counts = { replicas: 2, updated: 0, ready: 2, available: 2 };
  const progressing = {
    type: "Progressing" as const,
    status: "True" as const,
    reason: "ReplicaSetUpdated",
    message: "progressing",
    lastUpdateTime: "1970-01-01T00:00:00.000Z",
    lastTransitionTime: "1970-01-01T00:00:00.000Z",
  };
  const set = (conditions: unknown[]) => ({ name: "web-new", status: { conditions } }) as unknown as ReplicaSetView;
  const failing = { type: "ReplicaFailure", status: "True", reason: "FailedCreate", message: "no room" };

  it("copies the ReplicaSet's ReplicaFailure into its own conditions, and drops it once none has one", () => {
    const blocked = deploymentStatus(dep, counts, progressing, 1_000, [set([]), set([failing])]);
    expect(blocked.conditions).toContainEqual(
      expect.objectContaining({ type: "ReplicaFailure", status: "True", reason: "FailedCreate", message: "no room" }),
    );
    const cleared = deploymentStatus({ ...dep, status: blocked }, counts, progressing, 2_000, [set([])]);
    expect((cleared.conditions as { type: string }[]).map((c) => c.type)).toEqual(["Available", "Progressing"]);
  });
});
