import { describe, expect, it } from "vitest";
import { podDoc, withField } from "./fixtures.js";
import { errorsOf, manifestOfKind } from "./testing.js";

const podOf = (doc: unknown) => manifestOfKind(doc, "Pod");

describe("Pod", () => {
  it("validates with the pod defaults", () => {
    const { spec } = podOf(podDoc());
    expect(spec.restartPolicy).toBe("Always");
    expect(spec.dnsPolicy).toBe("ClusterFirst");
    expect(spec.containers[0]).toMatchObject({
      imagePullPolicy: "IfNotPresent",
      ports: [{ containerPort: 8080, protocol: "TCP" }],
    });
  });

  it.each(["OnFailure", "Never"])("accepts restartPolicy %s: nothing replaces a bare pod", (policy) => {
    expect(podOf(withField(podDoc(), "spec.restartPolicy", policy)).spec.restartPolicy).toBe(policy);
  });

  it("refuses nodeName: the platform places pods", () => {
    expect(errorsOf(withField(podDoc(), "spec.nodeName", "node-1"))).toEqual([
      { path: "spec.nodeName", message: "nodeName cannot be set; the platform places pods" },
    ]);
  });

  it("reports unknown fields at their path and drops status", () => {
    expect(errorsOf(withField(podDoc(), "spec.containers.0.imag", "x"))).toEqual([
      { path: "spec.containers[0].imag", message: 'unknown field "imag"' },
    ]);
    expect(podOf(withField(podDoc(), "status", { phase: "Running" }))).not.toHaveProperty("status");
  });
});
