import { describe, expect, it } from "vitest";
import { stringify } from "yaml";
import { expandApp, expandAppChecked } from "./expand-app.js";
import { appDoc, serviceDoc, withField } from "./fixtures.js";
import { parseManifests } from "./manifests.js";
import { errorsOf, manifestOfKind } from "./testing.js";

const appOf = (doc: unknown) => manifestOfKind(doc, "App");

function fullApp() {
  let doc = withField(appDoc(), "metadata.namespace", "shop");
  doc = withField(doc, "metadata.labels", { team: "web" });
  doc = withField(doc, "spec.health", "/_health");
  doc = withField(doc, "spec.env", { MODE: "production", WORKERS: "4" });
  return withField(doc, "spec.domain", "shop.example.com");
}

describe("App", () => {
  it("validates with the platform's defaults", () => {
    expect(appOf(appDoc()).spec).toEqual({
      image: "registry.local/shop:1.4",
      port: 8080,
      replicas: 2,
      cpu: "100m",
      memory: "128Mi",
    });
  });

  it("validates strictly", () => {
    expect(errorsOf(withField(appDoc(), "spec.image", undefined))).toEqual([
      { path: "spec.image", message: "required" },
    ]);
    expect(errorsOf(withField(appDoc(), "spec.imagee", "x"))).toEqual([
      { path: "spec.imagee", message: 'unknown field "imagee"' },
    ]);
    expect(errorsOf(withField(appDoc(), "metadata.annotations", {}))[0]?.path).toBe("metadata.annotations");
    expect(errorsOf(withField(appDoc(), "spec.health", "_health"))[0]?.path).toBe("spec.health");
    expect(errorsOf(withField(appDoc(), "spec.env.PORT", 8080))[0]?.path).toBe("spec.env.PORT");
    expect(errorsOf(withField(appDoc(), "spec.domain", "https://shop.example.com"))[0]?.path).toBe("spec.domain");
    expect(errorsOf(withField(appDoc(), "spec.memory", "lots"))[0]?.path).toBe("spec.memory");
    expect(errorsOf(withField(appDoc(), "spec.port", 0))[0]?.path).toBe("spec.port");
  });
});

describe("expandApp", () => {
  it("makes a Deployment and a Service, defaulted like hand-written ones", () => {
    const manifests = expandApp(appOf(appDoc()));
    expect(manifests.map((m) => `${m.kind}/${m.metadata.name}`)).toEqual(["Deployment/shop", "Service/shop"]);
    const [deployment, service] = manifests;
    if (deployment?.kind !== "Deployment" || service?.kind !== "Service") throw new Error("unexpected kinds");
    const labels = { app: "shop", "app.kubernetes.io/managed-by": "kubernease-app" };
    expect(deployment.metadata.labels).toEqual(labels);
    expect(deployment.spec.replicas).toBe(2);
    expect(deployment.spec.selector).toEqual({ matchLabels: { app: "shop" } });
    expect(deployment.spec.template.metadata?.labels).toEqual(labels);
    expect(deployment.spec.strategy?.type).toBe("RollingUpdate");
    const [container] = deployment.spec.template.spec.containers;
    expect(container).toMatchObject({
      name: "shop",
      image: "registry.local/shop:1.4",
      imagePullPolicy: "IfNotPresent",
      ports: [{ name: "http", containerPort: 8080, protocol: "TCP" }],
      resources: { requests: { cpu: "100m", memory: "128Mi" }, limits: { memory: "128Mi" } },
    });
    expect(container).not.toHaveProperty("readinessProbe");
    expect(service.spec).toMatchObject({
      type: "ClusterIP",
      selector: { app: "shop" },
      ports: [{ name: "http", port: 80, targetPort: 8080, protocol: "TCP" }],
    });
  });

  it("turns health into readiness and liveness probes, env into variables, a domain into an Ingress", () => {
    const manifests = expandApp(appOf(fullApp()));
    expect(manifests.map((m) => `${m.kind}/${m.metadata.namespace}/${m.metadata.name}`)).toEqual([
      "Deployment/shop/shop",
      "Service/shop/shop",
      "Ingress/shop/shop",
    ]);
    const [deployment, , ingress] = manifests;
    if (deployment?.kind !== "Deployment" || ingress?.kind !== "Ingress") throw new Error("unexpected kinds");
    const container = deployment.spec.template.spec.containers[0];
    const probe = { httpGet: { path: "/_health", port: 8080, scheme: "HTTP" }, periodSeconds: 10, timeoutSeconds: 1 };
    expect(container?.readinessProbe).toMatchObject(probe);
    expect(container?.livenessProbe).toMatchObject(probe);
    expect(container?.env).toEqual([
      { name: "MODE", value: "production" },
      { name: "WORKERS", value: "4" },
    ]);
    expect(deployment.metadata.labels).toMatchObject({ team: "web", app: "shop" });
    expect(ingress.spec.rules).toEqual([
      {
        host: "shop.example.com",
        http: {
          paths: [{ path: "/", pathType: "Prefix", backend: { service: { name: "shop", port: { number: 80 } } } }],
        },
      },
    ]);
  });

  it("reports an expansion that does not validate at the App's spec, and expandApp throws on it", () => {
    // Only reachable by skipping validation: a validated App always expands cleanly.
    const unchecked = withField(appDoc(), "spec.replicas", -1) as Parameters<typeof expandApp>[0];
    expect(expandAppChecked(unchecked, 3)).toEqual({
      ok: false,
      errors: [
        {
          path: "spec",
          message: "expands into an invalid Deployment: spec.replicas: must be greater than or equal to 0",
          document: 3,
        },
      ],
    });
    expect(() => expandApp(unchecked)).toThrow(/expanded into invalid manifests/);
  });

  it("expands an App given without defaults", () => {
    const raw = appDoc() as Parameters<typeof expandApp>[0];
    expect(expandApp(raw)[0]?.kind === "Deployment" && expandApp(raw)[0]).toMatchObject({ spec: { replicas: 2 } });
  });
});

describe("parseManifests with Apps", () => {
  it("expands App documents in place", () => {
    const text = [serviceDoc(), fullApp(), withField(appDoc(), "metadata.name", "api")]
      .map((d) => stringify(d))
      .join("---\n");
    const result = parseManifests(text, "yaml");
    if (!result.ok) throw new Error(JSON.stringify(result.errors));
    expect(result.manifests.map((m) => `${m.kind}/${m.metadata.name}`)).toEqual([
      "Service/web",
      "Deployment/shop",
      "Service/shop",
      "Ingress/shop",
      "Deployment/api",
      "Service/api",
    ]);
  });

  it("reports an App's errors with its document index", () => {
    const text = [serviceDoc(), withField(appDoc(), "spec.replicas", -1)].map((d) => stringify(d)).join("---\n");
    const result = parseManifests(text, "yaml");
    expect(!result.ok && result.errors).toEqual([
      { path: "spec.replicas", message: "must be greater than or equal to 0", document: 1 },
    ]);
  });
});
