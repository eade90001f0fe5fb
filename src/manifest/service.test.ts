import { describe, expect, it } from "vitest";
import { serviceDoc, withField } from "./fixtures.js";
import { validateManifest } from "./validate.js";

function errorsOf(doc: unknown) {
  const result = validateManifest(doc);
  if (result.ok) throw new Error("expected validation errors");
  return result.errors;
}

function serviceOf(doc: unknown) {
  const result = validateManifest(doc);
  if (!result.ok) throw new Error(JSON.stringify(result.errors));
  if (result.manifest.kind !== "Service") throw new Error("expected a Service");
  return result.manifest;
}

describe("Service", () => {
  it("requires ports, except for headless and ExternalName services", () => {
    expect(errorsOf(withField(serviceDoc(), "spec.ports", undefined))).toEqual([
      { path: "spec.ports", message: "required" },
    ]);
    const headless = withField(withField(serviceDoc(), "spec.ports", undefined), "spec.clusterIP", "None");
    expect(serviceOf(headless).spec.clusterIP).toBe("None");
    const external = { type: "ExternalName", externalName: "db.example.com" };
    expect(serviceOf(withField(serviceDoc(), "spec", external)).spec.type).toBe("ExternalName");
  });

  it("requires externalName for ExternalName services", () => {
    expect(errorsOf(withField(serviceDoc(), "spec", { type: "ExternalName" }))).toEqual([
      { path: "spec.externalName", message: "required for type ExternalName" },
    ]);
  });

  it("allows headless only for ClusterIP", () => {
    const doc = withField(withField(serviceDoc(), "spec.clusterIP", "None"), "spec.type", "NodePort");
    expect(errorsOf(doc)).toEqual([
      { path: "spec.clusterIP", message: '"None" (headless) is only valid for type ClusterIP, not NodePort' },
    ]);
  });

  it("requires distinct names when there are several ports", () => {
    const ports = [{ port: 80 }, { port: 443, name: "https" }, { port: 8443, name: "https" }];
    expect(errorsOf(withField(serviceDoc(), "spec.ports", ports))).toEqual([
      { path: "spec.ports[0].name", message: "required when there is more than one port" },
      { path: "spec.ports[2].name", message: 'duplicate port name "https"' },
    ]);
  });

  it("refuses the same port twice for one protocol", () => {
    const ports = [
      { name: "dns", port: 53, protocol: "UDP" },
      { name: "dns-tcp", port: 53, protocol: "TCP" },
      { name: "again", port: 53 },
    ];
    expect(errorsOf(withField(serviceDoc(), "spec.ports", ports))).toEqual([
      { path: "spec.ports[2].port", message: "duplicate port 53/TCP" },
    ]);
  });

  it("validates port numbers and named target ports", () => {
    const ports = [
      { name: "a", port: 0 },
      { name: "b", port: 80, targetPort: 70000 },
      { name: "c", port: 81, targetPort: "Not_A_Name" },
      { name: "d", port: 82, targetPort: "metrics" },
    ];
    expect(errorsOf(withField(serviceDoc(), "spec.ports", ports)).map((error) => error.path)).toEqual([
      "spec.ports[0].port",
      "spec.ports[1].targetPort",
      "spec.ports[2].targetPort",
    ]);
  });

  it("allows nodePort only where there are node ports", () => {
    const ports = [{ port: 80, nodePort: 30080 }];
    expect(errorsOf(withField(serviceDoc(), "spec.ports", ports))).toEqual([
      { path: "spec.ports[0].nodePort", message: "may only be set when type is NodePort or LoadBalancer" },
    ]);
    expect(serviceOf(withField(withField(serviceDoc(), "spec.ports", ports), "spec.type", "NodePort")).spec.type).toBe(
      "NodePort",
    );
  });

  it("validates clusterIP", () => {
    expect(errorsOf(withField(serviceDoc(), "spec.clusterIP", "10.0.0.300"))[0]).toEqual({
      path: "spec.clusterIP",
      message: 'must be "None", empty or an IP address',
    });
  });

  it("accepts what kubectl get -o yaml prints", () => {
    const spec = {
      clusterIP: "10.96.12.7",
      clusterIPs: ["10.96.12.7"],
      internalTrafficPolicy: "Cluster",
      ipFamilies: ["IPv4"],
      ipFamilyPolicy: "SingleStack",
      ports: [{ name: "http", port: 80, protocol: "TCP", targetPort: 8080 }],
      selector: { app: "web" },
      sessionAffinity: "None",
      type: "ClusterIP",
    };
    const doc = { ...serviceDoc(), spec, status: { loadBalancer: {} } };
    // Kubernetes defaulted all of it already, so nothing is added.
    expect(serviceOf(doc).spec).toEqual(spec);
  });
});
