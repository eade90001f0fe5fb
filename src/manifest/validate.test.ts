import { describe, expect, it } from "vitest";
import { deploymentDoc, serviceDoc, withField } from "./fixtures.js";
import { type ExpandedManifest, SUPPORTED_KINDS } from "./kinds.js";
import { validateManifest } from "./validate.js";

function errorsOf(doc: unknown, index?: number) {
  const result = validateManifest(doc, index);
  if (result.ok) throw new Error("expected validation errors");
  return result.errors;
}

function manifestOf(doc: unknown): ExpandedManifest {
  const result = validateManifest(doc);
  if (!result.ok) throw new Error(JSON.stringify(result.errors));
  if (result.manifest.kind === "App") throw new Error("expected a Kubernetes kind");
  return result.manifest;
}

describe("validateManifest: kind and apiVersion", () => {
  it("accepts the fixtures", () => {
    expect(manifestOf(deploymentDoc()).kind).toBe("Deployment");
    expect(manifestOf(serviceDoc()).kind).toBe("Service");
  });

  it("refuses an unsupported kind with one error listing every supported one", () => {
    const doc = { apiVersion: "batch/v1", kind: "CronJob", metadata: { name: "db" }, spec: { bogus: true } };
    const supported = SUPPORTED_KINDS.map(({ kind, apiVersion }) => `${kind} (${apiVersion})`).join(", ");
    expect(errorsOf(doc)).toEqual([
      { path: "kind", message: `kind "CronJob" is not supported; supported kinds: ${supported}` },
    ]);
    expect(supported).toContain("StatefulSet (apps/v1), DaemonSet (apps/v1)");
    expect(supported).toContain("App (kubernease.dev/v1)");
  });

  it.each(["StorageClass", "PersistentVolume", "ClusterRole", "CustomResourceDefinition", "IngressClass"])(
    "refuses the cluster-scoped %s with one error saying it is the operator's",
    (kind) => {
      const doc = { apiVersion: "whatever/v1", kind, metadata: { name: "x" }, provisioner: "y", spec: { z: 1 } };
      expect(errorsOf(doc, 2)).toEqual([
        {
          path: "kind",
          message: `kind "${kind}" is cluster-scoped and belongs to the platform operator; tenants cannot apply it`,
          document: 2,
        },
      ]);
    },
  );

  it("accepts Namespace, the one cluster-scoped kind a tenant owns", () => {
    expect(manifestOf({ apiVersion: "v1", kind: "Namespace", metadata: { name: "shop" } }).kind).toBe("Namespace");
  });

  it("suggests the right spelling of a kind", () => {
    expect(errorsOf(withField(deploymentDoc(), "kind", "deployment"))[0]?.message).toContain(
      'did you mean "Deployment"?',
    );
    expect(errorsOf(withField(deploymentDoc(), "kind", "pvc"))[0]?.message).toContain(
      'did you mean "PersistentVolumeClaim"?',
    );
  });

  it("refuses a supported kind under another apiVersion, naming the right one", () => {
    expect(errorsOf(withField(deploymentDoc(), "apiVersion", "extensions/v1beta1"))).toEqual([
      {
        path: "apiVersion",
        message: 'apiVersion "extensions/v1beta1" is not supported for kind Deployment; use "apps/v1"',
      },
    ]);
    expect(errorsOf(withField(serviceDoc(), "apiVersion", "apps/v1"))[0]?.message).toContain('use "v1"');
  });

  it("requires kind and apiVersion", () => {
    expect(errorsOf({ metadata: { name: "x" } })).toEqual([
      { path: "kind", message: "required" },
      { path: "apiVersion", message: "required" },
    ]);
    expect(errorsOf(withField(deploymentDoc(), "apiVersion", undefined))).toEqual([
      { path: "apiVersion", message: "required" },
    ]);
    expect(errorsOf(withField(deploymentDoc(), "kind", 3))).toEqual([{ path: "kind", message: "must be a string" }]);
  });

  it("refuses a document that is not an object", () => {
    expect(errorsOf([1, 2], 4)).toEqual([{ path: "", message: "document must be an object", document: 4 }]);
  });

  it("tags every error with the document index when given", () => {
    const doc = withField(withField(deploymentDoc(), "spec.replicas", -1), "spec.paused", "no");
    const errors = errorsOf(doc, 7);
    expect(errors).toHaveLength(2);
    expect(errors.every((error) => error.document === 7)).toBe(true);
  });
});

describe("validateManifest: strict fields", () => {
  it("reports an unknown field at its own path", () => {
    const doc = withField(deploymentDoc(), "spec.template.spec.containers.0.imag", "nginx");
    expect(errorsOf(doc)).toEqual([{ path: "spec.template.spec.containers[0].imag", message: 'unknown field "imag"' }]);
  });

  it("reports every unknown field, at every level", () => {
    let doc = withField(deploymentDoc(), "spek", {});
    doc = withField(doc, "metadata.lables", {});
    doc = withField(doc, "spec.template.spec.containers.0.resources.request", {});
    expect(errorsOf(doc).map((error) => error.path)).toEqual(
      expect.arrayContaining(["spek", "metadata.lables", "spec.template.spec.containers[0].resources.request"]),
    );
  });

  it("says required for a missing field", () => {
    expect(errorsOf(withField(deploymentDoc(), "spec.template.spec.containers.0.image", undefined))).toEqual([
      { path: "spec.template.spec.containers[0].image", message: "required" },
    ]);
    expect(errorsOf(withField(deploymentDoc(), "spec.selector", undefined))).toContainEqual({
      path: "spec.selector",
      message: "required",
    });
  });

  it("requires integers where Kubernetes does", () => {
    expect(errorsOf(withField(deploymentDoc(), "spec.replicas", 1.5))).toEqual([
      { path: "spec.replicas", message: "must be an integer" },
    ]);
    expect(errorsOf(withField(deploymentDoc(), "spec.replicas", "3"))).toEqual([
      { path: "spec.replicas", message: "must be an integer" },
    ]);
  });

  it("names the supported values of an enum", () => {
    const doc = withField(deploymentDoc(), "spec.template.spec.restartPolicy", "Sometimes");
    expect(errorsOf(doc)).toEqual([
      {
        path: "spec.template.spec.restartPolicy",
        message: 'unsupported value "Sometimes"; supported values: "Always", "OnFailure", "Never"',
      },
    ]);
  });

  it("treats null fields as absent, as Kubernetes does", () => {
    let doc = withField(deploymentDoc(), "metadata.annotations", null);
    doc = withField(doc, "spec.template.metadata.creationTimestamp", null);
    expect(manifestOf(doc).metadata.annotations).toBeUndefined();
    expect(errorsOf(withField(deploymentDoc(), "spec.template.spec.containers.0.image", null))).toEqual([
      { path: "spec.template.spec.containers[0].image", message: "required" },
    ]);
  });

  it("reports __proto__ as an unknown field instead of following it", () => {
    const doc = JSON.parse(
      '{"apiVersion":"v1","kind":"Service","metadata":{"name":"a"},"spec":{"ports":[{"port":80}]},"__proto__":{"x":1}}',
    );
    expect(errorsOf(doc)).toEqual([{ path: "__proto__", message: 'unknown field "__proto__"' }]);
  });
});

describe("validateManifest: metadata", () => {
  it("requires a name", () => {
    expect(errorsOf(withField(deploymentDoc(), "metadata.name", undefined))).toEqual([
      { path: "metadata.name", message: "required" },
    ]);
    expect(errorsOf(withField(deploymentDoc(), "metadata.name", ""))).toEqual([
      { path: "metadata.name", message: "required" },
    ]);
  });

  it("takes DNS-1123 subdomains for Deployments and DNS-1035 labels for Services", () => {
    expect(manifestOf(withField(deploymentDoc(), "metadata.name", "web.v2")).metadata.name).toBe("web.v2");
    expect(errorsOf(withField(deploymentDoc(), "metadata.name", "Web"))[0]?.message).toContain("DNS-1123 subdomain");
    expect(errorsOf(withField(serviceDoc(), "metadata.name", "web.v2"))[0]?.message).toContain("DNS-1035 label");
    expect(errorsOf(withField(serviceDoc(), "metadata.name", "1web"))[0]?.message).toContain("DNS-1035 label");
    expect(errorsOf(withField(serviceDoc(), "metadata.name", "a".repeat(64)))[0]?.message).toBe(
      "must be no more than 63 characters",
    );
  });

  it("validates the namespace as a DNS-1123 label", () => {
    expect(errorsOf(withField(deploymentDoc(), "metadata.namespace", "my_ns"))[0]).toMatchObject({
      path: "metadata.namespace",
    });
  });

  it("validates label keys and values", () => {
    const labels = { "app.kubernetes.io/name": "web", "example.com/": "x", good: "-bad", "Upper/x": "v" };
    const errors = errorsOf(withField(deploymentDoc(), "metadata.labels", labels));
    expect(errors.map((error) => error.path).sort()).toEqual([
      "metadata.labels.good",
      'metadata.labels["Upper/x"]',
      'metadata.labels["example.com/"]',
    ]);
  });

  it("requires label values to be strings", () => {
    expect(errorsOf(withField(deploymentDoc(), "metadata.labels.version", 2))).toEqual([
      { path: "metadata.labels.version", message: "must be a string" },
    ]);
  });

  it("accepts any annotation value up to 256 KiB in total", () => {
    const ok = withField(deploymentDoc(), "metadata.annotations", {
      "kubectl.kubernetes.io/last-applied-configuration": "{}\n",
    });
    expect(manifestOf(ok).metadata.annotations).toBeDefined();
    const big = withField(deploymentDoc(), "metadata.annotations", { note: "x".repeat(256 * 1024) });
    expect(errorsOf(big)[0]).toMatchObject({ path: "metadata.annotations" });
  });

  it("accepts and drops server-owned fields that clients send back", () => {
    const meta = {
      name: "web",
      uid: "0b3c",
      resourceVersion: "42",
      generation: 3,
      creationTimestamp: "2024-01-01T00:00:00Z",
      managedFields: [{ manager: "kubectl" }],
      finalizers: ["example.com/guard"],
      generateName: "web-",
    };
    const manifest = manifestOf({ ...deploymentDoc(), metadata: meta, status: { replicas: 3 } });
    expect(manifest.metadata).toEqual({
      name: "web",
      resourceVersion: "42",
      finalizers: ["example.com/guard"],
      generateName: "web-",
    });
    expect(manifest).not.toHaveProperty("status");
  });
});
