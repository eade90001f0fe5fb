import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import { join, relative } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { configReferences } from "../../src/controllers/podConfig.js";
import { KINDS, parseDocuments } from "../../src/manifest/index.js";
import { createTestApi, type TestApi } from "../helpers/api.js";

const ROOT = fileURLToPath(new URL("../../../shared/corpus/kubernetes-examples", import.meta.url));
const present = existsSync(ROOT);
if (!present && process.env.CI === "true") throw new Error(`the corpus is missing at ${ROOT}; CI needs it`);

/** Every folder holding YAML, with its files: a folder's files belong together (a claim and the pod that mounts it). */
function folders(dir: string): { folder: string; files: string[] }[] {
  if (!present) return [];
  const entries = readdirSync(dir).sort();
  const files = entries.filter((e) => /\.ya?ml$/.test(e)).map((e) => join(dir, e));
  const below = entries.filter((e) => statSync(join(dir, e)).isDirectory()).flatMap((e) => folders(join(dir, e)));
  return [...(files.length ? [{ folder: relative(ROOT, dir) || ".", files }] : []), ...below];
}

let api: TestApi;
beforeAll(async () => {
  // Nodes big enough for the corpus' largest request (an inference server asking for 10 GiB).
  api = await createTestApi({ pools: [{ name: "big", count: 4, cpuMillis: 8000, memoryBytes: 32 * 2 ** 30 }] });
}, 60_000);
afterAll(() => api?.close());

const namespaceOf = (folder: string) =>
  `c-${folder.toLowerCase().replace(/[^a-z0-9]+/g, "-")}`.slice(0, 63).replace(/-+$/, "");

/**
 * Secrets and ConfigMaps a folder's pods refer to but do not ship (an access token the example's README asks you
 * to create, say) are created first, as their user would; without them the pods rightly wait in
 * CreateContainerConfigError.
 */
async function providePrerequisites(ns: string, files: string[]): Promise<void> {
  const docs = files.flatMap((file) => {
    const parsed = parseDocuments(readFileSync(file, "utf8"), "yaml");
    return parsed.ok ? (parsed.documents as any[]) : [];
  });
  const shipped = new Set(docs.map((d) => `${d.kind}/${d.metadata?.name}`));
  const keys = new Map<string, Set<string>>();
  for (const doc of docs) {
    const spec = doc.kind === "Pod" ? doc.spec : doc.spec?.template?.spec;
    if (!spec) continue;
    const refs = configReferences(spec);
    for (const [kind, names] of [
      ["Secret", refs.secrets],
      ["ConfigMap", refs.configMaps],
    ] as const) {
      for (const name of names)
        if (!shipped.has(`${kind}/${name}`)) keys.set(`${kind}/${name}`, keys.get(`${kind}/${name}`) ?? new Set());
    }
    for (const c of spec.containers ?? []) {
      for (const e of c.env ?? []) {
        const ref = e.valueFrom?.secretKeyRef ?? e.valueFrom?.configMapKeyRef;
        const kind = e.valueFrom?.secretKeyRef ? "Secret" : "ConfigMap";
        keys.get(`${kind}/${ref?.name}`)?.add(ref.key);
      }
    }
  }
  for (const [ref, names] of keys) {
    const [kind, name] = ref.split("/");
    const data = Object.fromEntries(
      [...names].map((k) => [k, kind === "Secret" ? btoa("placeholder") : "placeholder"]),
    );
    const doc = { apiVersion: "v1", kind, metadata: { name }, data };
    expect((await api.call("POST", `/v1/apply?namespace=${ns}`, { body: doc })).status).toBe(200);
  }
}

/** Every object and pod of the tenant in a namespace, by kind and name. */
async function everything(ns: string): Promise<string[]> {
  const objects = await Promise.all(
    KINDS.map((k) => api.store.listObjects({ kind: k.kind, tenantId: api.tenant.id, namespace: ns })),
  );
  const pods = await api.store.listPods({ tenantId: api.tenant.id, namespace: ns });
  return [...objects.flat().map((o) => `${o.kind}/${o.name}`), ...pods.map((p) => `Pod/${p.name}`)].sort();
}

async function reachedDesiredState(ns: string): Promise<string | true> {
  const get = async (path: string) => (await api.call("GET", `${path}`)).body.items as any[];
  for (const d of await get(`/apis/apps/v1/namespaces/${ns}/deployments`)) {
    if ((d.status?.availableReplicas ?? 0) !== d.spec.replicas) return `deployment ${d.metadata.name}`;
  }
  for (const s of await get(`/apis/apps/v1/namespaces/${ns}/statefulsets`)) {
    if ((s.status?.readyReplicas ?? 0) !== s.spec.replicas) return `statefulset ${s.metadata.name}`;
  }
  for (const rc of await get(`/api/v1/namespaces/${ns}/replicationcontrollers`)) {
    if ((rc.status?.readyReplicas ?? 0) !== rc.spec.replicas) return `replicationcontroller ${rc.metadata.name}`;
  }
  for (const pvc of await get(`/api/v1/namespaces/${ns}/persistentvolumeclaims`)) {
    if (pvc.status?.phase !== "Bound") return `claim ${pvc.metadata.name}`;
  }
  for (const pod of await get(`/api/v1/namespaces/${ns}/pods`)) {
    const ready = pod.status?.conditions?.some((c: any) => c.type === "Ready" && c.status === "True");
    if (pod.status?.phase !== "Running" || !ready) return `pod ${pod.metadata.name}`;
  }
  return true;
}

describe.skipIf(!present)(`the corpus on simulated nodes${present ? "" : " (corpus absent: skipped)"}`, () => {
  for (const { folder, files } of folders(ROOT)) {
    it(`${folder}: applies what it may, refuses the rest whole, and reaches its desired state`, async () => {
      const ns = namespaceOf(folder);
      await providePrerequisites(ns, files);
      for (const file of files) {
        const text = readFileSync(file, "utf8");
        const before = await everything(ns);
        const res = await api.call("POST", `/v1/apply?namespace=${ns}`, { body: text });
        const parsed = parseDocuments(text, "yaml");
        const kinds = parsed.ok ? (parsed.documents as { kind?: string }[]).map((d) => d.kind) : [];
        if (res.status === 200) {
          expect(res.body.results.map((r: { kind: string }) => r.kind)).toEqual(kinds);
          continue;
        }
        // Refused whole: the answer names each kind it will not take, and nothing of the file was written.
        expect(res.status, `${file}: ${res.text}`).toBe(422);
        expect(res.body.error.message).toMatch(/kind "[A-Za-z]+"|spec\.volumes/);
        expect(await everything(ns)).toEqual(before);
      }
      const state = await api
        .until(async () => {
          const result = await reachedDesiredState(ns);
          return result === true ? result : undefined;
        }, 60_000)
        .catch(async () => reachedDesiredState(ns));
      expect(state).toBe(true);
    }, 90_000);
  }

  it("refuses cassandra's StatefulSet for the capability it adds, at its field, writing nothing", async () => {
    const file = join(ROOT, "databases/cassandra/cassandra-statefulset.yaml");
    const res = await api.call("POST", "/v1/apply?namespace=isolated", { body: readFileSync(file, "utf8") });
    expect(res.status).toBe(422);
    expect(res.body.error.message).toContain(
      'document 0: spec.template.spec.containers[0].securityContext.capabilities.add[0]: adding capability "IPC_LOCK" is not allowed',
    );
    expect(await everything("isolated")).toEqual([]);
  });

  it("refuses operator kinds and kinds it does not run, naming each", async () => {
    const file = join(ROOT, "AI/vllm-deployment/hpa/prometheus-adapter.yaml");
    const res = await api.call("POST", "/v1/apply?namespace=refused", { body: readFileSync(file, "utf8") });
    expect(res.status).toBe(422);
    for (const kind of ["ClusterRole", "ClusterRoleBinding", "RoleBinding", "APIService"])
      expect(res.body.error.message).toContain(kind);
    expect(await api.store.listObjects({ kind: "Deployment", namespace: "refused" })).toEqual([]);
    expect(await api.store.listObjects({ kind: "ServiceAccount", namespace: "refused" })).toEqual([]);
  });
});
