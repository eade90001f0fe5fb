import { describe, expect, it } from "vitest";
import { daemonSetDoc, withField } from "./fixtures.js";
import { errorsOf, manifestOfKind } from "./testing.js";

const daemonSetOf = (doc: unknown) => manifestOfKind(doc, "DaemonSet");

describe("DaemonSet", () => {
  it("validates with Kubernetes' defaults", () => {
    const { spec } = daemonSetOf(daemonSetDoc());
    expect(spec.updateStrategy).toEqual({ type: "RollingUpdate", rollingUpdate: { maxUnavailable: 1, maxSurge: 0 } });
    expect(spec.revisionHistoryLimit).toBe(10);
    expect(spec.template.spec.restartPolicy).toBe("Always");
  });

  it("completes a partial rolling update and leaves OnDelete alone", () => {
    const surge = daemonSetOf(
      withField(daemonSetDoc(), "spec.updateStrategy.rollingUpdate", { maxSurge: "10%", maxUnavailable: 0 }),
    );
    expect(surge.spec.updateStrategy).toEqual({
      type: "RollingUpdate",
      rollingUpdate: { maxSurge: "10%", maxUnavailable: 0 },
    });
    const onDelete = daemonSetOf(withField(daemonSetDoc(), "spec.updateStrategy", { type: "OnDelete" }));
    expect(onDelete.spec.updateStrategy).toEqual({ type: "OnDelete" });
  });

  it("has no replicas: one pod per node", () => {
    expect(errorsOf(withField(daemonSetDoc(), "spec.replicas", 3))).toEqual([
      { path: "spec.replicas", message: 'unknown field "replicas"' },
    ]);
    expect(errorsOf(withField(daemonSetDoc(), "spec.updateStrategy.rollingUpdate.maxSurg", 1))).toEqual([
      { path: "spec.updateStrategy.rollingUpdate.maxSurg", message: 'unknown field "maxSurg"' },
    ]);
  });

  it("refuses a selector that does not match the template labels", () => {
    expect(errorsOf(withField(daemonSetDoc(), "spec.selector.matchLabels.app", "web"))).toEqual([
      { path: "spec.template.metadata.labels", message: "selector does not match template labels" },
    ]);
  });

  it("refuses an update that could never replace a pod", () => {
    const doc = withField(daemonSetDoc(), "spec.updateStrategy.rollingUpdate", { maxUnavailable: 0 });
    expect(errorsOf(doc)).toEqual([
      { path: "spec.updateStrategy.rollingUpdate.maxUnavailable", message: "may not be 0 when maxSurge is 0" },
    ]);
    expect(errorsOf(withField(daemonSetDoc(), "spec.updateStrategy", { type: "OnDelete", rollingUpdate: {} }))).toEqual(
      [{ path: "spec.updateStrategy.rollingUpdate", message: "may not be set when type is OnDelete" }],
    );
  });

  it("requires pods that restart", () => {
    expect(errorsOf(withField(daemonSetDoc(), "spec.template.spec.restartPolicy", "Never"))).toEqual([
      { path: "spec.template.spec.restartPolicy", message: 'must be "Always" for a DaemonSet' },
    ]);
  });
});
