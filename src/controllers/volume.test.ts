import { describe, expect, it } from "vitest";
import { placementFor, reconcileClaim, type VolumeView } from "./volume.js";

const claim = {
  name: "data-db-0",
  namespace: "default",
  uid: "c1",
  spec: { storageClassName: "local", accessModes: ["ReadWriteOnce"], resources: { requests: { storage: "1Gi" } } },
  status: {},
};

describe("claims and volumes", () => {
  it("provisions a volume for a new claim and reports the claim Bound", () => {
    const actions = reconcileClaim(claim, undefined);
    expect(actions[0]).toMatchObject({
      type: "provisionVolume",
      name: "pvc-c1",
      spec: {
        capacityBytes: 2 ** 30,
        storageClassName: "local",
        claimUid: "c1",
        nodeName: null,
        persistentVolumeReclaimPolicy: "Delete",
      },
    });
    expect(actions[1]).toEqual({
      type: "updateStatus",
      status: { phase: "Bound", volumeName: "pvc-c1", accessModes: ["ReadWriteOnce"], capacity: { storage: "1Gi" } },
    });
    const bound = { ...claim, status: (actions[1] as { status: Record<string, unknown> }).status };
    expect(reconcileClaim(bound, { name: "pvc-c1", spec: { storageClassName: "local", claimUid: "c1" } })).toEqual([]);
  });

  it("keeps a local volume's pod on its node, and lets a network volume follow once no other pod holds it", () => {
    const local: VolumeView = { name: "v", spec: { storageClassName: "local", claimUid: "c", nodeName: "n1" } };
    expect(placementFor(local, [])).toEqual({ node: "n1" });
    expect(placementFor({ ...local, spec: { ...local.spec, nodeName: null } }, [])).toEqual({});
    const network: VolumeView = { name: "v", spec: { storageClassName: "network", claimUid: "c", nodeName: "n1" } };
    expect(placementFor(network, [])).toEqual({});
    expect(placementFor(network, [{ nodeName: "n2", deleting: false }])).toEqual({ node: "n2" });
    expect(placementFor(network, [{ nodeName: "n1", deleting: true }])).toMatchObject({
      blocked: expect.stringContaining("stopping pod"),
    });
  });
});
