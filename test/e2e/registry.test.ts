import { randomBytes } from "node:crypto";
import Docker from "dockerode";
import { afterAll, beforeAll, expect, it } from "vitest";
import { systemClock } from "../../src/core/clock.js";
import { openStore } from "../../src/db/index.js";
import type { PodRecord } from "../../src/db/types.js";
import { DockerProvider, LABELS } from "../../src/providers/docker/index.js";
import { createTestApi, type TestApi } from "../helpers/api.js";
import {
  DOCKER_SOCKET,
  describeRegistry,
  dockerConfigJson,
  isDockerReachable,
  isRegistryReachable,
  pushUniqueImage,
  REGISTRY_AUTH,
  REGISTRY_AUTH_PASSWORD,
  REGISTRY_AUTH_USER,
} from "../helpers/docker.js";
import { checkedStore } from "../helpers/invariants.js";

/**
 * End to end through the control plane: the API, the workers and the Docker provider in-process
 * over the first Engine, pulling an image of this run's own from the local registry with auth
 * (scripts/services.sh ensure_registry). A Deployment whose `imagePullSecrets` names a
 * `kubernetes.io/dockerconfigjson` Secret pulls and becomes Ready; one whose secret is missing
 * waits with ErrImagePull, then ImagePullBackOff, and the control plane retries with a doubling
 * back-off: the worker never crash-loops.
 */
const run = randomBytes(4).toString("hex");
const owner = `e2e-reg-${run}`;
const reachable = (await isDockerReachable()) && (await isRegistryReachable());
/** Short back-offs so the retries show within the test: 1 s doubling to 4 s (the kubelet's: 10 s to 5 min). */
const BACK_OFF = { baseMs: 1_000, capMs: 4_000, resetAfterMs: 600_000 };

function deployment(name: string, image: string, pullSecret: string): string {
  return `apiVersion: apps/v1
kind: Deployment
metadata: { name: ${name} }
spec:
  replicas: 1
  selector: { matchLabels: { app: ${name} } }
  template:
    metadata: { labels: { app: ${name} } }
    spec:
      imagePullSecrets: [{ name: ${pullSecret} }]
      containers:
        - name: web
          image: ${image}
          imagePullPolicy: Always
          resources: { requests: { cpu: 50m, memory: 16Mi } }
`;
}

/** Every waiting reason each pod's container passed through, seen after every pod write. */
const reasons = new Map<string, Set<string>>();
function watchReasons(pods: PodRecord[]): void {
  for (const pod of pods) {
    const statuses = (pod.status.containerStatuses as { state: { waiting?: { reason: string } } }[] | undefined) ?? [];
    for (const status of statuses) {
      const reason = status.state.waiting?.reason;
      if (!reason) continue;
      const seen = reasons.get(pod.labels.app ?? "") ?? new Set<string>();
      seen.add(reason);
      reasons.set(pod.labels.app ?? "", seen);
    }
  }
}

describeRegistry("Docker end to end: imagePullSecrets and image pull back-off", reachable, () => {
  const docker = new Docker({ socketPath: DOCKER_SOCKET });
  let api: TestApi<DockerProvider>;
  let image = "";

  beforeAll(async () => {
    const credentials = { username: REGISTRY_AUTH_USER, password: REGISTRY_AUTH_PASSWORD };
    image = await pushUniqueImage(docker, REGISTRY_AUTH, `kubernease-test/e2e-${run}`, credentials);
    const provider = new DockerProvider({
      clock: systemClock,
      owner,
      // The node's address is not the registry's 127.0.0.1, which the tenant's image names and the
      // registry's messages carry: the leak check (test/helpers/leaks.ts) then tells the two apart.
      hosts: [{ name: `registry-node-${run}`, socketPath: DOCKER_SOCKET, address: "127.0.0.2" }],
    });
    api = await createTestApi({
      provider,
      store: checkedStore(await openStore({ memory: true }), watchReasons),
      restartBackOff: BACK_OFF,
      controlPlane: { heartbeatMs: 500, nodeMonitorMs: 250, probeTickMs: 100 },
    });
  }, 120_000);

  afterAll(async () => {
    await api?.close();
    const ours = await docker.listContainers({
      all: true,
      filters: JSON.stringify({ label: [`${LABELS.owner}=${owner}`] }),
    });
    await Promise.all(ours.map((c) => docker.getContainer(c.Id).remove({ force: true })));
    const networks = await docker.listNetworks({ filters: JSON.stringify({ label: [`${LABELS.owner}=${owner}`] }) });
    await Promise.all(
      networks.map((n) =>
        docker
          .getNetwork(n.Id)
          .remove()
          .catch(() => {}),
      ),
    );
    await docker
      .getImage(image)
      .remove({ force: true })
      .catch(() => {});
  });

  const podOf = async (app: string) =>
    (await api.store.listPods({ tenantId: api.tenant.id })).find(
      (p) => p.labels.app === app && p.deletionRequestedAt === null,
    );

  it("pulls from the registry with auth through a dockerconfigjson Secret and becomes Ready", async () => {
    const secret = {
      apiVersion: "v1",
      kind: "Secret",
      metadata: { name: "regcred" },
      type: "kubernetes.io/dockerconfigjson",
      stringData: { ".dockerconfigjson": dockerConfigJson(REGISTRY_AUTH, REGISTRY_AUTH_USER, REGISTRY_AUTH_PASSWORD) },
    };
    expect((await api.call("POST", "/v1/apply", { body: secret })).status).toBe(200);
    expect((await api.call("POST", "/v1/apply", { body: deployment("private", image, "regcred") })).status).toBe(200);
    const pod = await api.until(async () => {
      const found = await podOf("private");
      return found?.ready && found;
    }, 90_000);
    expect(pod.phase).toBe("Running");
    expect(pod.status.imagePullBackOff).toBeUndefined();
  });

  it("without its secret waits in ErrImagePull, then ImagePullBackOff, retried with a doubling back-off", async () => {
    expect((await api.call("POST", "/v1/apply", { body: deployment("public", image, "absent") })).status).toBe(200);
    // Retried by the control plane: the third failure in a row waits 4 s (1 s, 2 s, 4 s, capped).
    const pod = await api.until(async () => {
      const found = await podOf("public");
      const backOff = (found?.status.imagePullBackOff as Record<string, { failures: number }> | undefined)?.web;
      return backOff && backOff.failures >= 3 && found;
    }, 90_000);
    expect(pod.status.imagePullBackOff).toMatchObject({ web: { image, delayMs: BACK_OFF.capMs } });
    expect(pod.phase).toBe("Pending");
    expect(pod.ready).toBe(false);
    expect([...(reasons.get("public") ?? [])]).toEqual(expect.arrayContaining(["ErrImagePull", "ImagePullBackOff"]));
    expect([...(reasons.get("public") ?? [])]).not.toContain("CrashLoopBackOff");

    // What the tenant sees: the registry's reason on the container, the back-off's bookkeeping not.
    const listed = await api.call("GET", "/api/v1/namespaces/default/pods?labelSelector=app%3Dpublic");
    const shown = (listed.body as { items: { status: Record<string, unknown> }[] }).items[0]?.status ?? {};
    expect(shown.imagePullBackOff).toBeUndefined();
    const [container] = shown.containerStatuses as { state: { waiting?: { reason: string; message?: string } } }[];
    expect(["ErrImagePull", "ImagePullBackOff"]).toContain(container?.state.waiting?.reason);
    expect(container?.state.waiting?.message).toMatch(
      /unauthorized|no basic auth credentials|authentication required/i,
    );

    const events = await api.call(
      "GET",
      `/api/v1/namespaces/default/events?fieldSelector=involvedObject.name=${pod.name}`,
    );
    const items = (events.body as { items: { reason: string; message: string }[] }).items;
    const byReason = (reason: string) => items.filter((e) => e.reason === reason);
    expect(byReason("FailedToRetrieveImagePullSecret")[0]?.message).toContain('secret "absent" not found');
    expect(byReason("Failed")[0]?.message).toContain(`Failed to pull image "${image}"`);
    expect(byReason("BackOff")[0]?.message).toBe(`Back-off pulling image "${image}"`);
  });
});
