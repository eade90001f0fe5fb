import { randomBytes } from "node:crypto";
import { afterAll, beforeAll, expect, it } from "vitest";
import { systemClock } from "../../src/core/clock.js";
import { openStore } from "../../src/db/index.js";
import type { PodRecord } from "../../src/db/types.js";
import { DockerProvider, LABELS } from "../../src/providers/docker/index.js";
import { createTestApi, type TestApi } from "../helpers/api.js";
import { type DockerNode, describeDocker, isDockerReachable, removeOurs, startDockerNodes } from "../helpers/docker.js";

/**
 * A StatefulSet's claims on real Docker hosts (nodes 7 and 8, so this file runs beside the other
 * Docker end-to-end files): each replica writes a file into its claim's volume, and the file is still
 * there after its container is killed and restarted, after its pod is deleted and recreated by the
 * StatefulSet (pinned to the node that holds the volume), and after a rolling update to another image.
 * The file is read back over HTTP: the volume is mounted under the image's web root.
 */
const reachable = await isDockerReachable();
const owner = `e2e-sts-${randomBytes(4).toString("hex")}`;
const IMAGE = { one: "kubernease-test/web:1", two: "kubernease-test/web:2" };
const REPLICAS = 2;
/** Logic, not speed, is under test: generous. */
const WAIT_MS = 90_000;
/** A test waits for at most two rollouts. */
const TEST_MS = 2 * WAIT_MS + 30_000;

function statefulSet(image: string): string {
  return `apiVersion: v1
kind: Service
metadata: { name: db }
spec:
  clusterIP: None
  selector: { app: db }
  ports: [{ port: 8080, name: http }]
---
apiVersion: apps/v1
kind: StatefulSet
metadata: { name: db }
spec:
  serviceName: db
  replicas: ${REPLICAS}
  selector: { matchLabels: { app: db } }
  template:
    metadata: { labels: { app: db } }
    spec:
      containers:
        - name: web
          image: ${image}
          ports: [{ name: http, containerPort: 8080 }]
          resources: { requests: { cpu: 10m, memory: 16Mi } }
          volumeMounts: [{ name: data, mountPath: /www/data }]
          readinessProbe:
            httpGet: { path: /_health, port: http }
            periodSeconds: 1
            # Lenient: the machine may be loaded, and readiness is not what this file is about.
            timeoutSeconds: 5
            failureThreshold: 30
  volumeClaimTemplates:
    - metadata: { name: data }
      spec:
        accessModes: [ReadWriteOnce]
        storageClassName: local
        resources: { requests: { storage: 64Mi } }
`;
}

describeDocker("Docker end to end: a StatefulSet's volumes keep their data", reachable, () => {
  let nodes: DockerNode[] = [];
  let api: TestApi<DockerProvider>;

  beforeAll(async () => {
    nodes = await startDockerNodes(7, REPLICAS);
    const provider = new DockerProvider({
      clock: systemClock,
      owner,
      hosts: nodes.map((n) => ({ name: n.name, socketPath: n.socketPath })),
    });
    api = await createTestApi({
      provider,
      store: await openStore({ memory: true }),
      restartBackOff: { baseMs: 200, capMs: 1_000, resetAfterMs: 60_000 },
      controlPlane: { heartbeatMs: 500, nodeMonitorMs: 250, probeTickMs: 100 },
    });
  });

  afterAll(async () => {
    await api?.close();
    await removeOurs(nodes, owner);
    await Promise.all(nodes.map((n) => n.stop()));
  });

  const pods = async () =>
    (await api.store.listPods({ tenantId: api.tenant.id, namespace: "default" })).filter((p) => p.ownerName === "db");
  const pod = async (name: string) => (await pods()).find((p) => p.name === name && p.deletionRequestedAt === null);
  const image = (p: PodRecord) => (p.spec.containers as { image: string }[])[0]?.image;
  const restarts = (p: PodRecord) =>
    ((p.status.containerStatuses as { restartCount?: number }[] | undefined) ?? [])[0]?.restartCount ?? 0;
  const names = Array.from({ length: REPLICAS }, (_, i) => `db-${i}`);

  /** Every ordinal Ready on `image`, no pod deleting: the pods by name. */
  async function allReady(want: string): Promise<Map<string, PodRecord>> {
    return api.until(async () => {
      const all = await pods();
      const ok =
        all.length === REPLICAS &&
        all.every((p) => p.ready && p.deletionRequestedAt === null && image(p) === want) &&
        all;
      return ok && new Map(ok.map((p) => [p.name, p]));
    }, WAIT_MS);
  }

  function nodeOf(p: PodRecord): DockerNode {
    const node = nodes.find((n) => n.name === p.nodeName);
    if (!node) throw new Error(`pod ${p.name} is on no test node (${p.nodeName})`);
    return node;
  }

  async function containerOf(p: PodRecord, role: "sandbox" | "app") {
    const [found] = await nodeOf(p)
      .client()
      .listContainers({ filters: JSON.stringify({ label: [`${LABELS.pod}=${p.id}`, `${LABELS.role}=${role}`] }) });
    if (!found) throw new Error(`pod ${p.name} has no running ${role} container`);
    return found;
  }

  /** What the pod's web server answers for a path, on the port its node published. */
  async function httpGet(p: PodRecord, path: string): Promise<string> {
    const port = (await containerOf(p, "sandbox")).Ports.find((x) => x.PrivatePort === 8080)?.PublicPort;
    if (!port) throw new Error(`pod ${p.name} has no published port`);
    const response = await fetch(`http://127.0.0.1:${port}${path}`);
    return `${response.status} ${(await response.text()).trim()}`;
  }

  /** Runs a command in the pod's app container through its node's Engine; its exit code. */
  async function exec(p: PodRecord, command: string[]): Promise<number> {
    const app = await containerOf(p, "app");
    const run = await nodeOf(p).client().getContainer(app.Id).exec({ Cmd: command, AttachStdout: true });
    const stream = await run.start({ hijack: true, stdin: false });
    await new Promise((resolve) => {
      stream.on("end", resolve);
      stream.on("close", resolve);
      stream.resume();
    });
    return (await run.inspect()).ExitCode ?? -1;
  }

  /** The named volume the pod's app container mounts at the claim's mount path. */
  async function volumeOf(p: PodRecord): Promise<string> {
    const app = await containerOf(p, "app");
    const info = await nodeOf(p).client().getContainer(app.Id).inspect();
    const mount = info.Mounts.find((m) => m.Destination === "/www/data");
    if (mount?.Type !== "volume" || !mount.Name) throw new Error(`pod ${p.name} mounts no named volume at /www/data`);
    return mount.Name;
  }

  /** Each ordinal's claim's Docker volume, as first mounted. */
  const volumes = new Map<string, string>();
  /** Each ordinal's node, as first placed: its volume lives there for good. */
  const home = new Map<string, string>();
  const note = (name: string) => `200 written by ${name} before anything happened`;

  it(
    "runs each ordinal with its own claim's volume, and a file written there is served back",
    async () => {
      expect((await api.call("POST", "/v1/apply", { body: statefulSet(IMAGE.one) })).status).toBe(200);
      const ready = await allReady(IMAGE.one);
      for (const name of names) {
        const p = ready.get(name) as PodRecord;
        home.set(name, p.nodeName as string);
        expect(await httpGet(p, "/data/note")).toMatch(/^404/);
        expect(await exec(p, ["sh", "-c", `echo written by ${name} before anything happened > /www/data/note`])).toBe(
          0,
        );
        expect(await httpGet(p, "/data/note")).toBe(note(name));
        // The claim's volume is a named volume on the pod's node, and on no other.
        const volume = await volumeOf(p);
        volumes.set(name, volume);
        for (const node of nodes) {
          const held = ((await node.client().listVolumes()).Volumes ?? []).map((v) => v.Name);
          expect(held.includes(volume), `${name}'s volume ${volume} on ${node.name}`).toBe(node.name === p.nodeName);
        }
      }
    },
    TEST_MS,
  );

  it(
    "keeps the file when the container is killed and restarted in the same pod",
    async () => {
      const before = (await pod("db-0")) as PodRecord;
      const app = await containerOf(before, "app");
      await nodeOf(before).client().getContainer(app.Id).kill({ signal: "SIGKILL" });
      const after = await api.until(async () => {
        const p = await pod("db-0");
        return p && p.uid === before.uid && p.ready && restarts(p) > restarts(before) && p;
      }, WAIT_MS);
      expect((await containerOf(after, "app")).Id).not.toBe(app.Id);
      expect(await httpGet(after, "/data/note")).toBe(note("db-0"));
    },
    TEST_MS,
  );

  it(
    "keeps the file when the pod is deleted: the StatefulSet recreates it on the node that holds its volume",
    async () => {
      const before = (await pod("db-1")) as PodRecord;
      expect((await api.call("DELETE", "/api/v1/namespaces/default/pods/db-1")).status).toBe(200);
      const after = await api.until(async () => {
        const p = await pod("db-1");
        return p && p.uid !== before.uid && p.ready && p;
      }, WAIT_MS);
      expect(after.nodeName).toBe(home.get("db-1"));
      expect(await volumeOf(after)).toBe(volumes.get("db-1"));
      expect(await httpGet(after, "/data/note")).toBe(note("db-1"));
    },
    TEST_MS,
  );

  it(
    "keeps every file across a rolling update to another image, each ordinal on its own node",
    async () => {
      const before = await allReady(IMAGE.one);
      expect((await api.call("POST", "/v1/apply", { body: statefulSet(IMAGE.two) })).status).toBe(200);
      const after = await allReady(IMAGE.two);
      for (const name of names) {
        const p = after.get(name) as PodRecord;
        expect(p.uid).not.toBe(before.get(name)?.uid);
        expect(p.nodeName).toBe(home.get(name));
        expect(await volumeOf(p)).toBe(volumes.get(name));
        expect(await httpGet(p, "/index.html")).toBe("200 web 2");
        expect(await httpGet(p, "/data/note")).toBe(note(name));
      }
      // The pods' events (probe failures while a server starts among them) are scanned for node details by `call`.
      expect((await api.call("GET", "/api/v1/namespaces/default/events")).status).toBe(200);
    },
    TEST_MS,
  );
});
