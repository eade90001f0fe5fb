import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type Docker from "dockerode";
import { afterAll, beforeAll, expect, it } from "vitest";
import { systemClock } from "../../src/core/clock.js";
import { type Rng, seededRng } from "../../src/core/rng.js";
import { DockerProvider, PAUSE_IMAGE } from "../../src/providers/docker/index.js";
import {
  appCreateOptions,
  containersOf,
  LABELS,
  type PodContainerSpec,
  sandboxCreateOptions,
  tenantNetworkName,
} from "../../src/providers/docker/spec.js";
import type { PodRuntimeSpec } from "../../src/providers/types.js";
import { createTestDatabase, describePostgres, isPostgresReachable } from "../helpers/db.js";
import {
  type DockerNode,
  describeDocker,
  isDockerReachable,
  removeOurs,
  startDockerNodes,
  waitFor,
} from "../helpers/docker.js";
import { httpsClient, type Served, serve } from "../helpers/serve.js";

/**
 * The control plane killed with `kill -9` in the middle of a rollout, then started again on the same
 * Postgres database: `kubernease serve --docker` as its own process over three extra dockerds (nodes
 * 4–6, so this file and docker.test.ts can run together). Once it has converged, the Engines hold
 * exactly one sandbox and one app container per pod the API knows, and nothing else: no duplicate,
 * no orphan. The kill comes at a different moment of each rollout, chosen from one seed.
 */
const SEED = process.env.KUBERNEASE_TEST_SEED ?? randomBytes(4).toString("hex");
const REPLICAS = 6;
const IMAGE = { one: "kubernease-test/web:1", two: "kubernease-test/web:2" };
/** Convergence is logic, not speed: generous. */
const CONVERGE_MS = 90_000;
/** A rollout to the moment of the kill, a restart and convergence, each bounded by `CONVERGE_MS`. */
const TEST_MS = 3 * CONVERGE_MS;
/** The platform names no owner, so everything it creates carries the default one. */
const OWNER = "kubernease";

const reachable = (await isDockerReachable()) && (await isPostgresReachable());

function deployment(image: string): string {
  return `apiVersion: apps/v1
kind: Deployment
metadata: { name: web }
spec:
  replicas: ${REPLICAS}
  selector: { matchLabels: { app: web } }
  template:
    metadata: { labels: { app: web } }
    spec:
      containers:
        - name: web
          image: ${image}
          ports: [{ name: http, containerPort: 8080 }]
          resources: { requests: { cpu: 10m, memory: 16Mi } }
          readinessProbe:
            httpGet: { path: /_health, port: http }
            periodSeconds: 1
            # Lenient: the machine may be loaded, and readiness is not what this file is about.
            timeoutSeconds: 5
            failureThreshold: 30
`;
}

interface EngineContainer {
  node: string;
  id: string;
  name: string;
  image: string;
  state: string;
  labels: Record<string, string>;
}

interface ApiPod {
  uid: string;
  name: string;
  image: string;
  ready: boolean;
  terminating: boolean;
}

describeDocker("kill -9 of the control plane mid-rollout, on three Docker hosts", reachable, () => {
  describePostgres("…with its desired state in Postgres", reachable, () => {
    let nodes: DockerNode[] = [];
    let database: Awaited<ReturnType<typeof createTestDatabase>> | undefined;
    const dataDir = mkdtempSync(join(tmpdir(), "kubernease-restart-"));
    let served: Served | undefined;
    let client: ReturnType<typeof httpsClient> | undefined;
    let tenantKey = "";
    const rng: Rng = seededRng(SEED);

    const known = async () => nodes.map((n) => ({ name: n.name, address: "127.0.0.1" }));

    async function start(): Promise<void> {
      const docker = nodes.map((n) => `${n.name}=unix://${n.socketPath}`).join(",");
      served = await serve(dataDir, { DATABASE_URL: database?.url ?? "" }, 90_000, [
        "--docker",
        docker,
        "--seed",
        `${SEED}-${rng.int(1_000_000)}`,
      ]);
      tenantKey ||= served.tenantKey ?? "";
      client = httpsClient(served.url, served.caPath, tenantKey, known);
    }

    async function crash(): Promise<void> {
      await client?.close();
      client = undefined;
      await served?.kill();
    }

    beforeAll(async () => {
      console.log(`seed ${SEED}; replay: KUBERNEASE_TEST_SEED=${SEED} npx vitest run test/e2e/docker.restart.test.ts`);
      nodes = await startDockerNodes(4, 3);
      await removeOurs(nodes, OWNER);
      database = await createTestDatabase();
      await start();
    });

    afterAll(async () => {
      await client?.close();
      await served?.stop();
      await removeOurs(nodes, OWNER);
      await Promise.all(nodes.map((n) => n.stop()));
      await database?.drop();
      rmSync(dataDir, { recursive: true, force: true });
    });

    const api = () => client as NonNullable<typeof client>;

    async function apiPods(): Promise<ApiPod[]> {
      const res = await api().call("GET", "/api/v1/namespaces/default/pods?labelSelector=app%3Dweb");
      expect(res.status).toBe(200);
      return (res.body.items as any[]).map((p) => ({
        uid: p.metadata.uid,
        name: p.metadata.name,
        image: p.spec.containers[0].image,
        ready: (p.status.conditions ?? []).some((c: any) => c.type === "Ready" && c.status === "True"),
        terminating: Boolean(p.metadata.deletionTimestamp),
      }));
    }

    const engineContainers = () => containersOn(nodes);

    /** The API and the Engines agree on `REPLICAS` ready pods of `image`, one sandbox and one app container each. */
    async function converged(image: string): Promise<boolean> {
      const pods = await apiPods();
      if (pods.length !== REPLICAS || !pods.every((p) => p.ready && !p.terminating && p.image === image)) return false;
      const dep = (await api().call("GET", "/apis/apps/v1/namespaces/default/deployments/web")).body;
      if (dep.status?.updatedReplicas !== REPLICAS || dep.status?.availableReplicas !== REPLICAS) return false;
      const containers = await engineContainers();
      return containers.length === 2 * REPLICAS && containers.every((c) => c.state === "running");
    }

    /** After convergence, the exact checks, each with its own message. */
    async function assertNoDuplicateNorOrphan(image: string): Promise<void> {
      const pods = await apiPods();
      expect(pods).toHaveLength(REPLICAS);
      expect(pods.filter((p) => p.ready && !p.terminating && p.image === image)).toHaveLength(REPLICAS);
      const uids = new Set(pods.map((p) => p.uid));
      const containers = await engineContainers();
      const orphans = containers.filter((c) => !uids.has(c.labels[LABELS.uid] ?? ""));
      expect(
        orphans.map((c) => `${c.node}/${c.name}`),
        "containers of pods the API does not know",
      ).toEqual([]);
      for (const pod of pods) {
        const mine = containers.filter((c) => c.labels[LABELS.uid] === pod.uid);
        const sandboxes = mine.filter((c) => c.labels[LABELS.role] === "sandbox");
        const apps = mine.filter((c) => c.labels[LABELS.role] === "app");
        expect(
          sandboxes.map((c) => c.state),
          `${pod.name}: one running sandbox`,
        ).toEqual(["running"]);
        expect(
          apps.map((c) => `${c.image} ${c.state}`),
          `${pod.name}: one running app container of ${image}`,
        ).toEqual([`${image} running`]);
        expect(new Set(mine.map((c) => c.node)).size, `${pod.name}: on one node`).toBe(1);
      }
      expect(containers).toHaveLength(2 * REPLICAS);
      // Every response the client reads is scanned for node details: the pods' events too.
      expect((await api().call("GET", "/api/v1/namespaces/default/events")).status).toBe(200);
    }

    /** What a failure needs to be understood: the pods, their containers, and the platform's log in a file. */
    async function report(what: string): Promise<void> {
      const containers = await engineContainers();
      const pods = await apiPods();
      const uids = new Set(pods.map((p) => p.uid));
      const orphans = containers.filter((c) => !uids.has(c.labels[LABELS.uid] ?? ""));
      const lines = pods.map((p) => {
        const mine = containers.filter((c) => c.labels[LABELS.uid] === p.uid);
        const runs = mine.map((c) => `${c.labels[LABELS.role]}:${c.state}@${c.node}`).join(" ");
        return `${p.name} ${p.image} ready=${p.ready} terminating=${p.terminating} ${runs}`;
      });
      const file = join(tmpdir(), `kubernease-restart-${SEED}.log`);
      writeFileSync(file, served?.output() ?? "");
      lines.push(...orphans.map((c) => `orphan ${c.name} ${c.labels[LABELS.role]}:${c.state}@${c.node}`));
      console.error(`${what} (seed ${SEED}; platform log: ${file}):\n${lines.join("\n")}`);
    }

    async function untilConverged(image: string): Promise<void> {
      if (!(await waitFor(() => converged(image), CONVERGE_MS))) {
        await report(`not converged to ${image}`);
      }
      await assertNoDuplicateNorOrphan(image);
    }

    /** Applies `image`, then kills the control plane once `moment` holds (bounded: the rollout must get there). */
    async function rollAndCrash(image: string, what: string, moment: () => Promise<boolean>): Promise<void> {
      expect((await api().call("POST", "/v1/apply", deployment(image))).status).toBe(200);
      const reached = await waitFor(moment, CONVERGE_MS);
      expect(reached, `the rollout reached the moment of the kill: ${what}`).toBe(true);
      await crash();
      // Killed part way: the old image still runs on the Engines (each moment asks for new pods too).
      const apps = (await engineContainers()).filter((c) => c.labels[LABELS.role] === "app");
      expect(
        apps.some((c) => c.image !== image),
        `${what}: killed part way through`,
      ).toBe(true);
      await start();
    }

    it(
      "a pod whose containers a crash left created but never started is started, with its files, not taken for running",
      async () => {
        const node = nodes[0] as DockerNode;
        const owner = `crash-${randomBytes(4).toString("hex")}`;
        const tenantId = `tc${randomBytes(4).toString("hex")}`;
        const pod = (id: string): PodRuntimeSpec => ({
          podId: `pod_${id}_${owner}`,
          uid: `uid-${id}-${owner}`,
          tenantId,
          namespace: "default",
          name: id,
          nodeName: node.name,
          spec: {
            containers: [
              {
                name: "web",
                image: IMAGE.one,
                ports: [{ containerPort: 8080 }],
                volumeMounts: [{ name: "config", mountPath: "/etc/config" }],
              },
            ],
            volumes: [{ name: "config", configMap: { name: "config" } }],
          },
          files: { config: { greeting: "hello" } },
        });
        const provider = new DockerProvider({
          clock: systemClock,
          owner,
          hosts: [{ name: node.name, socketPath: node.socketPath }],
        });
        const docker = node.client();
        const state = async (podId: string) =>
          (
            await docker.listContainers({
              all: true,
              filters: JSON.stringify({ label: [`${LABELS.owner}=${owner}`, `${LABELS.pod}=${podId}`] }),
            })
          )
            .map((c) => `${c.Labels[LABELS.role]} ${c.State}`)
            .sort();
        try {
          // A first pod brings the pause image and the tenant's network to the node.
          await provider.startPod(pod("first"));
          // The second one as a crash left it: its sandbox and app container created, neither started.
          const crashed = pod("crashed");
          const sandbox = await docker.createContainer(
            sandboxCreateOptions(crashed, {
              image: PAUSE_IMAGE,
              networkName: tenantNetworkName(tenantId),
              address: "127.0.0.1",
              owner,
            }) as Docker.ContainerCreateOptions,
          );
          const spec = containersOf(crashed.spec)[0] as PodContainerSpec;
          await docker.createContainer(
            appCreateOptions(crashed, spec, {
              sandboxId: sandbox.id,
              owner,
              run: 1,
              pidsLimit: 64,
            }) as Docker.ContainerCreateOptions,
          );
          expect(await state(crashed.podId)).toEqual(["app created", "sandbox created"]);
          await provider.startPod(crashed);
          expect(await state(crashed.podId)).toEqual(["app running", "sandbox running"]);
          // The configMap's files, written before the sandbox's first start, were never written: they are now.
          const [app] = await docker.listContainers({
            filters: JSON.stringify({ label: [`${LABELS.pod}=${crashed.podId}`, `${LABELS.role}=app`] }),
          });
          const exec = await docker
            .getContainer(app?.Id ?? "none")
            .exec({ Cmd: ["sh", "-c", 'test "$(cat /etc/config/greeting)" = hello'], AttachStdout: true });
          const stream = await exec.start({ hijack: true, stdin: false });
          await new Promise((resolve) => {
            stream.on("end", resolve);
            stream.on("close", resolve);
            stream.resume();
          });
          expect((await exec.inspect()).ExitCode).toBe(0);
        } finally {
          await provider.close();
          await removeOurs([node], owner);
        }
      },
      TEST_MS,
    );

    it(
      "runs 6 replicas of the first image, one sandbox and one app container each",
      async () => {
        expect((await api().call("POST", "/v1/apply", deployment(IMAGE.one))).status).toBe(200);
        await untilConverged(IMAGE.one);
      },
      TEST_MS,
    );

    it(
      "killed as the first containers of the new image are created, it converges with no duplicate or orphan",
      async () => {
        const first = 1 + rng.int(2);
        await rollAndCrash(IMAGE.two, `${first} app container(s) of ${IMAGE.two} created`, async () => {
          const apps = (await engineContainers()).filter((c) => c.labels[LABELS.role] === "app");
          return apps.filter((c) => c.image === IMAGE.two).length >= first;
        });
        await untilConverged(IMAGE.two);
      },
      TEST_MS,
    );

    it(
      "killed with new pods ready and old ones left, it converges with no duplicate or orphan",
      async () => {
        const readyNew = 1 + rng.int(3);
        await rollAndCrash(IMAGE.one, `${readyNew} new pod(s) ready, old ones left`, async () => {
          const pods = await apiPods();
          const fresh = pods.filter((p) => p.image === IMAGE.one && p.ready && !p.terminating).length;
          return fresh >= readyNew && pods.some((p) => p.image === IMAGE.two && !p.terminating);
        });
        await untilConverged(IMAGE.one);
      },
      TEST_MS,
    );

    it(
      "killed while old pods are being removed, it converges with no duplicate or orphan",
      async () => {
        const delayMs = rng.int(300);
        await rollAndCrash(IMAGE.two, `an old pod terminating, then ${delayMs} ms`, async () => {
          const pods = await apiPods();
          const moment =
            pods.some((p) => p.image === IMAGE.one && p.terminating) && pods.some((p) => p.image === IMAGE.two);
          if (moment) await new Promise((r) => setTimeout(r, delayMs));
          return moment;
        });
        await untilConverged(IMAGE.two);
      },
      TEST_MS,
    );
  });
});

/** Every container of ours on the nodes' Engines, with its labels. */
async function containersOn(nodes: DockerNode[]): Promise<EngineContainer[]> {
  const filters = JSON.stringify({ label: [`${LABELS.owner}=${OWNER}`] });
  const lists = await Promise.all(
    nodes.map(async (node) =>
      (await node.client().listContainers({ all: true, filters })).map((c) => ({
        node: node.name,
        id: c.Id,
        name: c.Names[0] ?? c.Id,
        image: c.Image,
        state: c.State,
        labels: c.Labels,
      })),
    ),
  );
  return lists.flat();
}
