import { describe, expect, it } from "vitest";
import { stringify } from "yaml";
import { deploymentDoc, serviceDoc, withField } from "./fixtures.js";
import { parseManifests } from "./manifests.js";

const yamlOf = (...docs: unknown[]) => docs.map((doc) => stringify(doc)).join("---\n");

describe("parseManifests", () => {
  it("returns every manifest of a valid file, defaulted", () => {
    const result = parseManifests(yamlOf(deploymentDoc(), serviceDoc()), "yaml");
    if (!result.ok) throw new Error(JSON.stringify(result.errors));
    expect(result.manifests.map((m) => m.kind)).toEqual(["Deployment", "Service"]);
    expect(result.manifests[0]?.kind === "Deployment" && result.manifests[0].spec.replicas).toBe(1);
  });

  it("reports all errors of all documents, each with its document index", () => {
    const text = yamlOf(
      withField(deploymentDoc(), "spec.template.spec.containers.0.imag", "x"),
      serviceDoc(),
      { apiVersion: "batch/v1", kind: "CronJob", metadata: { name: "db" } },
      withField(withField(serviceDoc(), "spec.ports", undefined), "metadata.name", "Bad"),
    );
    const result = parseManifests(text, "yaml");
    if (result.ok) throw new Error("expected errors");
    expect(result.errors.map(({ document, path }) => [document, path])).toEqual([
      [0, "spec.template.spec.containers[0].imag"],
      [2, "kind"],
      [3, "metadata.name"],
      [3, "spec.ports"],
    ]);
  });

  it("reports parse errors without validating anything", () => {
    const result = parseManifests(`${yamlOf(serviceDoc())}---\nkind: [\n`, "yaml");
    expect(result.ok).toBe(false);
    expect(!result.ok && result.errors[0]?.message).toMatch(/^line \d+:\d+:/);
  });

  it("reads JSON lists the way kubectl writes them", () => {
    const text = JSON.stringify({
      apiVersion: "v1",
      kind: "List",
      metadata: { resourceVersion: "" },
      items: [serviceDoc()],
    });
    const result = parseManifests(text, "json");
    expect(result.ok && result.manifests.map((m) => m.metadata.name)).toEqual(["web"]);
  });

  it("finds the error in the right document of a JSON array", () => {
    const text = JSON.stringify([serviceDoc(), withField(serviceDoc(), "spec.type", "Internal")]);
    const result = parseManifests(text, "json");
    expect(!result.ok && result.errors).toEqual([
      {
        path: "spec.type",
        message:
          'unsupported value "Internal"; supported values: "ClusterIP", "NodePort", "LoadBalancer", "ExternalName"',
        document: 1,
      },
    ]);
  });
});
