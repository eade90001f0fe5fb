import { describe, expect, it } from "vitest";
import type { PodRecord } from "../db/types.js";
import { podView } from "./views.js";

function record(): PodRecord {
  return {
    id: "pod_1",
    tenantId: "ten_1",
    namespace: "default",
    name: "web-1",
    uid: "uid-1",
    ownerKind: "ReplicaSet",
    ownerName: "web",
    ownerUid: "rs-1",
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
