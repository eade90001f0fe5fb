import { readFileSync } from "node:fs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ADMIN_KEY, createTestApi, type TestApi } from "../helpers/api.js";

const WEB = readFileSync(new URL("../fixtures/web.yaml", import.meta.url), "utf8");
const [DEPLOYMENT, SERVICE] = WEB.split(/^---$/m) as [string, string];
const DEP = "/apis/apps/v1/namespaces/default/deployments";
const SVC = "/api/v1/namespaces/default/services";

let api: TestApi;
beforeAll(async () => {
  api = await createTestApi();
  expect((await api.call("POST", DEP, { body: DEPLOYMENT })).status).toBe(201);
  expect((await api.call("POST", SVC, { body: SERVICE })).status).toBe(201);
});
afterAll(() => api.close());

function expectStatus(res: { status: number; body: any }, code: number, reason: string) {
  expect(res.status).toBe(code);
  expect(res.body).toMatchObject({ kind: "Status", status: "Failure", code, reason });
  expect(res.body.error).toMatchObject({ message: expect.any(String), requestId: expect.stringMatching(/^req_/) });
}

describe("errors on the Kubernetes paths are Kubernetes Status objects with a 4xx", () => {
  it("bad YAML is 422 with the position", async () => {
    const res = await api.call("POST", DEP, { body: "apiVersion: apps/v1\nkind: [unclosed\n" });
    expectStatus(res, 422, "Invalid");
    expect(res.body.message).toMatch(/line \d+/i);
  });

  it("an unknown field is 422 naming its path", async () => {
    const res = await api.call("POST", DEP, { body: DEPLOYMENT.replace("image: nginx:1.27", "imag: nginx:1.27") });
    expectStatus(res, 422, "Invalid");
    const fields = res.body.details.causes.map((c: any) => c.field);
    expect(fields).toContain("spec.template.spec.containers[0].imag");
    expect(res.body.message).toContain("spec.template.spec.containers[0].imag");
  });

  it("an unsupported kind is 422 naming the kind and the supported ones; a cluster-scoped one names its owner", async () => {
    const res = await api.call("POST", "/v1/apply", {
      body: "apiVersion: autoscaling/v2\nkind: HorizontalPodAutoscaler\nmetadata:\n  name: web\nspec: {}\n",
    });
    expect(res.status).toBe(422);
    expect(res.body.error.message).toMatch(/HorizontalPodAutoscaler/);
    expect(res.body.error.message).toMatch(/Deployment/);
    expect(res.body.error.message).toMatch(/Service/);
    const cluster = await api.call("POST", "/v1/apply", {
      body: "apiVersion: storage.k8s.io/v1\nkind: StorageClass\nmetadata:\n  name: fast\nprovisioner: x\n",
    });
    expect(cluster.status).toBe(422);
    expect(cluster.body.error.message).toMatch(/StorageClass.*operator/);
  });

  it("a kind that does not belong to the path is 400", async () => {
    expectStatus(await api.call("POST", DEP, { body: SERVICE }), 400, "BadRequest");
  });

  it("a wrong content type is 415", async () => {
    expectStatus(
      await api.call("POST", DEP, { body: DEPLOYMENT, contentType: "text/plain" }),
      415,
      "UnsupportedMediaType",
    );
    const patch = await api.call("PATCH", `${DEP}/web`, {
      body: { spec: {} },
      contentType: "application/strategic-merge-patch+json",
    });
    expectStatus(patch, 415, "UnsupportedMediaType");
  });

  it("an oversized body is 413", async () => {
    const huge = `${DEPLOYMENT}\n# ${"x".repeat(1024 * 1024)}\n`;
    expectStatus(await api.call("POST", DEP, { body: huge }), 413, "RequestEntityTooLarge");
  });

  it("a YAML alias bomb is refused quickly with 422", async () => {
    const levels = ["a: &a [x, x, x, x, x, x, x, x, x]"];
    for (let i = 1; i < 9; i++) {
      const prev = String.fromCharCode(96 + i);
      const next = String.fromCharCode(97 + i);
      levels.push(`${next}: &${next} [${Array(9).fill(`*${prev}`).join(", ")}]`);
    }
    const res = await api.call("POST", "/v1/apply", { body: levels.join("\n") });
    expect(res.status).toBe(422);
    expect(res.body.error.message).toMatch(/alias/i);
  });

  it("a stale resourceVersion on PUT is 409 Conflict, and nothing changes", async () => {
    const current = (await api.call("GET", `${DEP}/web`)).body;
    const first = await api.call("PUT", `${DEP}/web`, { body: { ...current, spec: { ...current.spec, replicas: 3 } } });
    expect(first.status).toBe(200);
    const stale = await api.call("PUT", `${DEP}/web`, { body: { ...current, spec: { ...current.spec, replicas: 5 } } });
    expectStatus(stale, 409, "Conflict");
    expect((await api.call("GET", `${DEP}/web`)).body.spec.replicas).toBe(3);
  });

  it("creating what exists is 409 AlreadyExists; a missing object is 404 NotFound", async () => {
    expectStatus(await api.call("POST", DEP, { body: DEPLOYMENT }), 409, "AlreadyExists");
    expectStatus(await api.call("GET", `${DEP}/nope`), 404, "NotFound");
    expectStatus(await api.call("DELETE", `${SVC}/nope`), 404, "NotFound");
    expectStatus(
      await api.call("PUT", `${DEP}/nope`, { body: DEPLOYMENT.replace("name: web\n  labels", "name: nope\n  labels") }),
      404,
      "NotFound",
    );
  });

  it("reserved namespaces are refused; a namespace or name that disagrees with the path is 400", async () => {
    expectStatus(await api.call("GET", "/apis/apps/v1/namespaces/kube-system/deployments"), 403, "Forbidden");
    const otherNs = DEPLOYMENT.replace("name: web\n", "name: web\n  namespace: prod\n");
    expectStatus(await api.call("POST", DEP, { body: otherNs }), 400, "BadRequest");
    expectStatus(await api.call("PUT", `${DEP}/other`, { body: DEPLOYMENT }), 400, "BadRequest");
    const res = await api.call("POST", "/v1/apply", {
      body: DEPLOYMENT.replace("name: web\n", "name: web\n  namespace: kube-public\n"),
    });
    expect(res.status).toBe(403);
  });

  it("an invalid patch result is 422 with the field; a bad JSON patch is 422", async () => {
    const res = await api.call("PATCH", `${DEP}/web`, {
      body: { spec: { replicas: -1 } },
      contentType: "application/merge-patch+json",
    });
    expectStatus(res, 422, "Invalid");
    expect(res.body.message).toContain("spec.replicas");
    const bad = await api.call("PATCH", `${DEP}/web`, {
      body: [{ op: "remove", path: "/spec/nothing/here" }],
      contentType: "application/json-patch+json",
    });
    expectStatus(bad, 422, "Invalid");
  });

  it("scale refuses a negative count; a pod's spec cannot change in place", async () => {
    expectStatus(await api.call("PUT", `${DEP}/web/scale`, { body: { spec: { replicas: -2 } } }), 422, "Invalid");
    expectStatus(
      await api.call("PATCH", "/api/v1/namespaces/default/pods/whatever", {
        body: {},
        contentType: "application/merge-patch+json",
      }),
      405,
      "MethodNotAllowed",
    );
    expectStatus(await api.call("DELETE", "/api/v1/namespaces/default/pods/whatever"), 404, "NotFound");
  });

  it("a changed cluster IP is 422: the field is immutable", async () => {
    const current = (await api.call("GET", `${SVC}/web`)).body;
    const res = await api.call("PUT", `${SVC}/web`, {
      body: { ...current, spec: { ...current.spec, clusterIP: "10.96.0.99", clusterIPs: ["10.96.0.99"] } },
    });
    expectStatus(res, 422, "Invalid");
  });
});

describe("a failing apply writes nothing", () => {
  it("rolls back objects written before the failing one, in the same file", async () => {
    const current = (await api.call("GET", `${SVC}/web`)).body;
    const before = await api.store.listObjects({ kind: "Deployment", tenantId: api.tenant.id });
    const outboxBefore = (await api.store.peekOutbox(1000)).length;
    const file = [
      DEPLOYMENT.replace("name: web\n  labels", "name: fresh\n  labels"),
      SERVICE.replace("spec:\n", `spec:\n  clusterIP: 10.96.0.77\n`),
    ].join("\n---\n");
    expect(current.spec.clusterIP).not.toBe("10.96.0.77");
    const res = await api.call("POST", "/v1/apply?namespace=default", { body: file });
    expect(res.status).toBe(422);
    expect(await api.store.listObjects({ kind: "Deployment", tenantId: api.tenant.id })).toEqual(before);
    expect((await api.store.peekOutbox(1000)).length).toBeLessThanOrEqual(outboxBefore);
  });

  it("reports every invalid document with its index and writes none of the valid ones", async () => {
    const file = [
      DEPLOYMENT.replace("name: web\n  labels", "name: ok\n  labels"),
      "apiVersion: v1\nkind: Service\nmetadata:\n  name: x\nspec:\n  ports:\n  - port: 99999\n",
      "kind: CronJob\napiVersion: batch/v1\nmetadata:\n  name: p\n",
    ].join("\n---\n");
    const res = await api.call("POST", "/v1/apply", { body: file });
    expect(res.status).toBe(422);
    expect(res.body.error.message).toMatch(/document 1: spec\.ports\[0\]\.port/);
    expect(res.body.error.message).toMatch(/document 2: .*CronJob/);
    expect(
      await api.store.getObject({ tenantId: api.tenant.id, kind: "Deployment", namespace: "default", name: "ok" }),
    ).toBeUndefined();
  });
});

describe("tenants' pods never reach the node: refused at admission with the field, nothing written", () => {
  const privileged = DEPLOYMENT.replace("name: web\n  labels", "name: root\n  labels").replace(
    "          ports:",
    "          securityContext:\n            privileged: true\n          ports:",
  );
  const hostPathPod = {
    apiVersion: "v1",
    kind: "Pod",
    metadata: { name: "peek" },
    spec: {
      containers: [{ name: "c", image: "busybox", ports: [{ containerPort: 80, hostPort: 80 }] }],
      volumes: [{ name: "host", hostPath: { path: "/" } }],
    },
  };
  const deployments = () => api.store.listObjects({ kind: "Deployment", tenantId: api.tenant.id });
  const pods = () => api.store.listPods({ tenantId: api.tenant.id });

  it("a privileged container on create is 422 with the path as a FieldValueForbidden cause", async () => {
    const before = await deployments();
    const res = await api.call("POST", DEP, { body: privileged });
    expectStatus(res, 422, "Invalid");
    expect(res.body.details.causes).toEqual([
      {
        reason: "FieldValueForbidden",
        field: "spec.template.spec.containers[0].securityContext.privileged",
        message: "must not be true: a tenant's container never runs privileged",
      },
    ]);
    expect(res.body.message).toContain("spec.template.spec.containers[0].securityContext.privileged");
    expect(await deployments()).toEqual(before);
  });

  it("an apply with one bad document is refused whole, naming the document and each field", async () => {
    const before = { deployments: await deployments(), pods: await pods() };
    const file = [DEPLOYMENT.replace("name: web\n  labels", "name: fine\n  labels"), JSON.stringify(hostPathPod)].join(
      "\n---\n",
    );
    const res = await api.call("POST", "/v1/apply", { body: file });
    expect(res.status).toBe(422);
    expect(res.body.error.message).toContain("document 1: spec.volumes[0].hostPath: hostPath volumes are not allowed");
    expect(res.body.error.message).toContain("document 1: spec.containers[0].ports[0].hostPort");
    expect({ deployments: await deployments(), pods: await pods() }).toEqual(before);
  });

  it("a bare Pod with hostPort is 422; a patch that adds hostNetwork is 422 and the object is unchanged", async () => {
    const pod = await api.call("POST", "/api/v1/namespaces/default/pods", {
      body: { ...hostPathPod, spec: { ...hostPathPod.spec, volumes: [] } },
    });
    expectStatus(pod, 422, "Invalid");
    expect(pod.body.details.causes.map((c: { field: string }) => c.field)).toEqual([
      "spec.containers[0].ports[0].hostPort",
    ]);
    const before = (await api.call("GET", `${DEP}/web`)).body;
    const patch = await api.call("PATCH", `${DEP}/web`, {
      body: { spec: { template: { spec: { hostNetwork: true, hostPID: true } } } },
      contentType: "application/merge-patch+json",
    });
    expectStatus(patch, 422, "Invalid");
    expect(patch.body.details.causes.map((c: { field: string }) => c.field)).toEqual([
      "spec.template.spec.hostNetwork",
      "spec.template.spec.hostPID",
    ]);
    expect((await api.call("GET", `${DEP}/web`)).body).toEqual(before);
  });

  it("a patch that pins the pods to a node by name is 422 at the field, and the object is unchanged", async () => {
    const before = (await api.call("GET", `${DEP}/web`)).body;
    const patch = await api.call("PATCH", `${DEP}/web`, {
      body: { spec: { template: { spec: { nodeSelector: { "kubernetes.io/hostname": "node-1" } } } } },
      contentType: "application/merge-patch+json",
    });
    expectStatus(patch, 422, "Invalid");
    expect(patch.body.details.causes).toEqual([
      expect.objectContaining({
        field: 'spec.template.spec.nodeSelector["kubernetes.io/hostname"]',
        message: expect.stringContaining("tenants never see nodes"),
      }),
    ]);
    expect((await api.call("GET", `${DEP}/web`)).body).toEqual(before);
  });

  it("the operator's node agents (admin key, system tenant) may use hostPath and hostNetwork", async () => {
    const agent = {
      apiVersion: "apps/v1",
      kind: "DaemonSet",
      metadata: { name: "log-agent", namespace: "agents" },
      spec: {
        selector: { matchLabels: { app: "log-agent" } },
        template: {
          metadata: { labels: { app: "log-agent" } },
          spec: {
            hostNetwork: true,
            containers: [{ name: "agent", image: "busybox", volumeMounts: [{ name: "logs", mountPath: "/logs" }] }],
            volumes: [{ name: "logs", hostPath: { path: "/var/log" } }],
          },
        },
      },
    };
    const res = await api.call("POST", "/v1/apply?dryRun=true", { body: agent, key: ADMIN_KEY });
    expect(res.status, res.text).toBe(200);
    expect(res.body.results.map((r: { action: string }) => r.action)).toEqual(["created"]);
  });
});

describe("inputs that cost or break more than they look: a 4xx, quickly, and nothing written", () => {
  const CM = "/api/v1/namespaces/default/configmaps";

  it("a JSON patch that copies a value into itself until it is huge is 422 at the copy that outgrows the bounds", async () => {
    const copies = Array.from({ length: 40 }, () => ({ op: "copy", from: "/spec/a", path: "/spec/a/-" }));
    const res = await api.call("PATCH", `${DEP}/web`, {
      body: [{ op: "add", path: "/spec/a", value: ["x".repeat(1_000)] }, ...copies],
      contentType: "application/json-patch+json",
    });
    expectStatus(res, 422, "Invalid");
    expect(res.body.message).toMatch(/JSON patch operation \d+: YAML aliases expand|beyond/);
    expect(
      (
        await api.call("PATCH", `${DEP}/web`, {
          body: Array.from({ length: 1_001 }, () => ({ op: "test", path: "/kind", value: "Deployment" })),
          contentType: "application/json-patch+json",
        })
      ).status,
    ).toBe(422);
  });

  it("a patch nested deeper than a manifest may be is 422, and one touching __proto__ is 422", async () => {
    const deep = `{"metadata":{"labels":${'{"x":'.repeat(20_000)}1${"}".repeat(20_000)}}}`;
    const res = await api.call("PATCH", `${DEP}/web`, { body: deep, contentType: "application/merge-patch+json" });
    expectStatus(res, 422, "Invalid");
    expect(res.body.message).toContain("depth");
    const proto = await api.call("PATCH", `${DEP}/web`, {
      body: [{ op: "add", path: "/__proto__/x", value: 1 }],
      contentType: "application/json-patch+json",
    });
    expectStatus(proto, 422, "Invalid");
  });

  it("a NUL character or an unpaired surrogate in a value or key is 422 naming its field; in a path, 400", async () => {
    for (const [body, field] of [
      ['{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"nul"},"data":{"a":"x\\u0000y"}}', "data.a"],
      ['{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"nul"},"data":{"a":"\\ud800"}}', "data.a"],
      [
        '{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"nul","labels":{"k\\u0000":"v"}}}',
        "metadata.labels.k\u0000",
      ],
    ] as const) {
      const res = await api.call("POST", CM, { body, contentType: "application/json" });
      expectStatus(res, 422, "Invalid");
      expect(res.body.message).toContain(field);
    }
    expect((await api.call("GET", `${CM}/nul`)).status).toBe(404);
    expectStatus(await api.call("GET", `${CM}/a%00b`), 400, "BadRequest");
  });

  it("a dry run asked of a REST path, or spelt in a way not known, is 400 and writes nothing", async () => {
    const configMap = "apiVersion: v1\nkind: ConfigMap\nmetadata: { name: dry }\ndata: { a: '1' }\n";
    expectStatus(await api.call("POST", `${CM}?dryRun=All`, { body: configMap }), 400, "BadRequest");
    expectStatus(
      await api.call("PATCH", `${DEP}/web?dryRun=All`, {
        body: { spec: { replicas: 5 } },
        contentType: "application/merge-patch+json",
      }),
      400,
      "BadRequest",
    );
    expect((await api.call("POST", "/v1/apply?dryRun=yes", { body: configMap })).status).toBe(400);
    expect((await api.call("POST", "/v1/apply?survives=true", { body: configMap })).status).toBe(400);
    expect((await api.call("GET", `${CM}/dry`)).status).toBe(404);
    expect((await api.call("GET", `${DEP}/web`)).body.spec.replicas).not.toBe(5);
  });

  it("replicas beyond an int32 and a CPU beyond what the scheduler counts are 422", async () => {
    expectStatus(await api.call("PUT", `${DEP}/web/scale`, { body: { spec: { replicas: 1e15 } } }), 422, "Invalid");
    const res = await api.call("POST", "/api/v1/namespaces/default/pods", {
      body: "apiVersion: v1\nkind: Pod\nmetadata: { name: big }\nspec:\n  containers:\n    - name: c\n      image: nginx\n      resources: { requests: { cpu: '1e30' } }\n",
    });
    expectStatus(res, 422, "Invalid");
    expect(res.body.message).toContain("resources.requests.cpu");
  });
});

describe("immutable fields are refused as Kubernetes refuses them", () => {
  it("a workload's selector is 422 and unchanged", async () => {
    const before = (await api.call("GET", `${DEP}/web`)).body;
    const res = await api.call("PATCH", `${DEP}/web`, {
      body: {
        spec: {
          selector: { matchLabels: { app: "other" } },
          template: { metadata: { labels: { app: "other" } } },
        },
      },
      contentType: "application/merge-patch+json",
    });
    expectStatus(res, 422, "Invalid");
    expect(res.body.message).toContain("spec.selector: field is immutable");
    expect((await api.call("GET", `${DEP}/web`)).body.spec.selector).toEqual(before.spec.selector);
  });

  it("an immutable ConfigMap's data and its mark are 422; its labels may change", async () => {
    const CM = "/api/v1/namespaces/default/configmaps";
    const body = "apiVersion: v1\nkind: ConfigMap\nmetadata: { name: frozen }\nimmutable: true\ndata: { a: '1' }\n";
    expect((await api.call("POST", CM, { body })).status).toBe(201);
    const patch = (change: object) =>
      api.call("PATCH", `${CM}/frozen`, { body: change, contentType: "application/merge-patch+json" });
    expectStatus(await patch({ data: { a: "2" } }), 422, "Invalid");
    expectStatus(await patch({ immutable: false }), 422, "Invalid");
    expect((await patch({ metadata: { labels: { tier: "x" } } })).status).toBe(200);
    expect((await api.call("GET", `${CM}/frozen`)).body.data).toEqual({ a: "1" });
  });
});
