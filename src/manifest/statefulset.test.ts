import { describe, expect, it } from "vitest";
import { statefulSetDoc, withField } from "./fixtures.js";
import { errorsOf, manifestOfKind } from "./testing.js";

const statefulSetOf = (doc: unknown) => manifestOfKind(doc, "StatefulSet");
const CLAIM = "spec.volumeClaimTemplates.0";
const MOUNT = "spec.template.spec.containers.0.volumeMounts";

describe("StatefulSet", () => {
  it("validates with Kubernetes' defaults", () => {
    const { spec } = statefulSetOf(statefulSetDoc());
    expect(spec.replicas).toBe(3);
    expect(spec.podManagementPolicy).toBe("OrderedReady");
    expect(spec.updateStrategy).toEqual({ type: "RollingUpdate", rollingUpdate: { partition: 0 } });
    expect(spec.revisionHistoryLimit).toBe(10);
    expect(spec.persistentVolumeClaimRetentionPolicy).toEqual({ whenDeleted: "Retain", whenScaled: "Retain" });
    expect(spec.volumeClaimTemplates?.[0]?.spec).toMatchObject({ storageClassName: "local", volumeMode: "Filesystem" });
    expect(spec.template.spec.restartPolicy).toBe("Always");
    expect(spec.template.spec.containers[0]?.imagePullPolicy).toBe("IfNotPresent");
  });

  it("defaults replicas to 1 and keeps what was given", () => {
    let doc = withField(statefulSetDoc(), "spec.replicas", undefined);
    doc = withField(doc, "spec.updateStrategy", { rollingUpdate: { partition: 2, maxUnavailable: "50%" } });
    doc = withField(doc, "spec.persistentVolumeClaimRetentionPolicy", { whenDeleted: "Delete" });
    doc = withField(doc, "spec.podManagementPolicy", "Parallel");
    const { spec } = statefulSetOf(doc);
    expect(spec.replicas).toBe(1);
    expect(spec.podManagementPolicy).toBe("Parallel");
    expect(spec.updateStrategy).toEqual({
      type: "RollingUpdate",
      rollingUpdate: { partition: 2, maxUnavailable: "50%" },
    });
    expect(spec.persistentVolumeClaimRetentionPolicy).toEqual({ whenDeleted: "Delete", whenScaled: "Retain" });
  });

  it("is idempotent to default twice", () => {
    const once = statefulSetOf(statefulSetDoc());
    expect(statefulSetOf(once)).toEqual(once);
  });

  it("reports an unknown field inside a claim template at its path", () => {
    const doc = withField(
      withField(statefulSetDoc(), `${CLAIM}.spec.resources.requests.storage`, undefined),
      `${CLAIM}.spec.resources.requests.storag`,
      "1Gi",
    );
    expect(errorsOf(doc)).toEqual([
      { path: "spec.volumeClaimTemplates[0].spec.resources.requests.storage", message: "required" },
      { path: "spec.volumeClaimTemplates[0].spec.resources.requests.storag", message: 'unknown field "storag"' },
    ]);
  });

  it("refuses a selector that does not match the template labels", () => {
    expect(errorsOf(withField(statefulSetDoc(), "spec.selector.matchLabels.app", "cache"))).toEqual([
      { path: "spec.template.metadata.labels", message: "selector does not match template labels" },
    ]);
    expect(errorsOf(withField(statefulSetDoc(), "spec.selector", {}))).toEqual([
      { path: "spec.selector", message: "must not be empty" },
    ]);
  });

  it("requires pods that restart", () => {
    expect(errorsOf(withField(statefulSetDoc(), "spec.template.spec.restartPolicy", "OnFailure"))).toEqual([
      { path: "spec.template.spec.restartPolicy", message: 'must be "Always" for a StatefulSet' },
    ]);
  });

  it("mounts a claim template or a pod volume by name, and nothing else", () => {
    let doc = withField(statefulSetDoc(), "spec.template.spec.volumes", [{ name: "tmp", emptyDir: {} }]);
    doc = withField(doc, MOUNT, [
      { name: "data", mountPath: "/data" },
      { name: "tmp", mountPath: "/tmp" },
    ]);
    expect(statefulSetOf(doc).spec.template.spec.containers[0]?.volumeMounts).toHaveLength(2);
    expect(errorsOf(withField(doc, `${MOUNT}.1.name`, "cache"))).toEqual([
      {
        path: "spec.template.spec.containers[0].volumeMounts[1].name",
        message: `volume "cache" is not defined in the pod's volumes or the volumeClaimTemplates`,
      },
    ]);
  });

  it("refuses two claim templates of the same name", () => {
    const claim = (statefulSetDoc().spec as { volumeClaimTemplates: unknown[] }).volumeClaimTemplates[0];
    const doc = withField(statefulSetDoc(), "spec.volumeClaimTemplates", [claim, claim]);
    expect(errorsOf(doc)).toEqual([
      { path: "spec.volumeClaimTemplates[1].metadata.name", message: 'duplicate volumeClaimTemplate name "data"' },
    ]);
  });

  it("takes claim templates only in the platform's storage classes", () => {
    expect(
      statefulSetOf(withField(statefulSetDoc(), `${CLAIM}.spec.storageClassName`, "network")).spec
        .volumeClaimTemplates?.[0]?.spec.storageClassName,
    ).toBe("network");
    expect(errorsOf(withField(statefulSetDoc(), `${CLAIM}.spec.storageClassName`, "fast"))).toEqual([
      {
        path: "spec.volumeClaimTemplates[0].spec.storageClassName",
        message: 'storage class "fast" does not exist; the platform\'s storage classes are "local" and "network"',
      },
    ]);
  });

  it("accepts claim templates as kubectl prints them, dropping their status", () => {
    const doc = withField(statefulSetDoc(), `${CLAIM}.apiVersion`, "v1");
    const claim = statefulSetOf(
      withField(withField(doc, `${CLAIM}.kind`, "PersistentVolumeClaim"), `${CLAIM}.status`, { phase: "Pending" }),
    ).spec.volumeClaimTemplates?.[0];
    expect(claim).not.toHaveProperty("status");
    expect(claim?.kind).toBe("PersistentVolumeClaim");
  });

  it("checks the update strategy", () => {
    expect(
      errorsOf(withField(statefulSetDoc(), "spec.updateStrategy", { type: "OnDelete", rollingUpdate: {} })),
    ).toEqual([{ path: "spec.updateStrategy.rollingUpdate", message: "may not be set when type is OnDelete" }]);
    expect(errorsOf(withField(statefulSetDoc(), "spec.updateStrategy.rollingUpdate.maxUnavailable", 0))).toEqual([
      { path: "spec.updateStrategy.rollingUpdate.maxUnavailable", message: "must be greater than 0" },
    ]);
    expect(errorsOf(withField(statefulSetDoc(), "spec.updateStrategy.rollingUpdate.partition", -1))[0]?.path).toBe(
      "spec.updateStrategy.rollingUpdate.partition",
    );
    const onDelete = statefulSetOf(withField(statefulSetDoc(), "spec.updateStrategy", { type: "OnDelete" }));
    expect(onDelete.spec.updateStrategy).toEqual({ type: "OnDelete" });
  });

  it("checks enums, ordinals and the service name", () => {
    expect(errorsOf(withField(statefulSetDoc(), "spec.podManagementPolicy", "Random"))[0]?.path).toBe(
      "spec.podManagementPolicy",
    );
    expect(
      errorsOf(withField(statefulSetDoc(), "spec.persistentVolumeClaimRetentionPolicy.whenScaled", "Keep"))[0]?.path,
    ).toBe("spec.persistentVolumeClaimRetentionPolicy.whenScaled");
    expect(errorsOf(withField(statefulSetDoc(), "spec.ordinals.start", -1))[0]?.path).toBe("spec.ordinals.start");
    expect(errorsOf(withField(statefulSetDoc(), "spec.serviceName", "DB"))[0]?.path).toBe("spec.serviceName");
    expect(statefulSetOf(withField(statefulSetDoc(), "spec.ordinals", { start: 1 })).spec.ordinals).toEqual({
      start: 1,
    });
  });
});
