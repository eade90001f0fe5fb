import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { TENANT_SCENARIO_LIMITS } from "../../src/simulator/tenant.js";
import { ADMIN_KEY, createTestApi, type TestApi } from "../helpers/api.js";

/** `POST /v1/simulations`: a tenant's scenario, run in a bounded child process, answered with the report. */
const deployment = `
      apiVersion: apps/v1
      kind: Deployment
      metadata: { name: web }
      spec:
        replicas: 4
        selector: { matchLabels: { app: web } }
        template:
          metadata: { labels: { app: web } }
          spec:
            containers:
              - name: web
                image: web:1
                resources: { requests: { cpu: 500m, memory: 256Mi } }`;

const scenario = (extra = "") => `
manifests:
  - inline: |${deployment}
timeline:
  - { at: 30s, crashNode: random }
duration: 2m
assertions:
  final: { web: 4 }
${extra}`;

let api: TestApi;
beforeAll(async () => {
  api = await createTestApi({
    simulations: {
      pools: [{ name: "shape", count: 4, cpu: 2, memory: "4Gi", zones: ["zone-a", "zone-b"] }],
      limits: { maxConcurrent: 2 },
    },
  });
});
afterAll(async () => {
  await api?.close();
});

describe("POST /v1/simulations", () => {
  it("runs the tenant's manifests on the operator's pool shape and answers the report; the same seed, the same report", async () => {
    const first = await api.call("POST", "/v1/simulations?seed=7", { body: scenario() });
    expect(first.status, first.text).toBe(200);
    expect(first.body.ok).toBe(true);
    expect(first.body.seed).toBe("7");
    expect(first.body.workloads).toEqual([expect.objectContaining({ final: { ready: 4, desired: 4 } })]);
    // The operator's shape: four nodes named after its pool, never the platform's own nodes.
    expect(first.body.faults[0].fault).toMatch(/sim-shape-[1-4]/);
    const second = await api.call("POST", "/v1/simulations?seed=7", { body: scenario() });
    expect(second.body.traceSha256).toBe(first.body.traceSha256);
  }, 120_000);

  it("runs on the tenant's own hypothetical cluster when it gives one, JSON as well as YAML", async () => {
    const body = {
      cluster: { pools: [{ name: "mine", count: 1, cpu: 1, memory: "1Gi" }] },
      manifests: [{ inline: deployment }],
      duration: "1m",
      assertions: { final: { web: 4 } },
    };
    const res = await api.call("POST", "/v1/simulations?seed=1", { body });
    expect(res.status, res.text).toBe(200);
    // One node of 1 CPU holds only two 500m replicas: the assertion fails, and the answer says so.
    expect(res.body.ok).toBe(false);
    expect(res.body.assertions[0]).toMatchObject({ ok: false });
    expect(res.body.workloads[0].final).toEqual({ ready: 2, desired: 4 });
  }, 120_000);

  it("refuses a bad scenario with 422 naming each field, and never reads a file", async () => {
    const bad = await api.call("POST", "/v1/simulations", {
      body: `manifests: [/etc/passwd.yaml]\ntimeline: [{ at: soon, crashNode: random }]\nduration: 1m\n`,
    });
    expect(bad.status).toBe(422);
    const paths = bad.body.error.causes.map((c: { field: string }) => c.field);
    expect(paths).toEqual(expect.arrayContaining(["timeline[0].at"]));
    expect(bad.text).not.toContain("root:x:0:0");
    const file = await api.call("POST", "/v1/simulations", { body: "manifests: [web.yaml]\nduration: 1m\n" });
    expect(file.status).toBe(422);
    expect(file.text).toMatch(/inline/);
    const notObject = await api.call("POST", "/v1/simulations", { body: "- 1\n- 2\n" });
    expect(notObject.status).toBe(422);
    const media = await api.call("POST", "/v1/simulations", { body: scenario(), contentType: "text/plain" });
    expect(media.status).toBe(415);
    const seed = await api.call("POST", "/v1/simulations?seed=$(id)", { body: scenario() });
    expect(seed.status).toBe(400);
  });

  it("refuses a scenario over the bounds: nodes (added ones included), duration, timeline", async () => {
    const nodes = await api.call("POST", "/v1/simulations", {
      body: `cluster: { pools: [{ name: big, count: ${TENANT_SCENARIO_LIMITS.maxNodes}, cpu: 1, memory: 1Gi }] }
timeline: [{ at: 1s, addNodes: { pool: big, count: 1 } }]
duration: 1m`,
    });
    expect(nodes.status).toBe(422);
    expect(nodes.text).toMatch(/cluster\.pools/);
    const long = await api.call("POST", "/v1/simulations", { body: "duration: 25h\n" });
    expect(long.status).toBe(422);
    expect(long.text).toMatch(/duration/);
  });

  it("stops a simulation at its time limit", async () => {
    const slow = await createTestApi({ simulations: { limits: { timeLimitMs: 1 } } });
    try {
      const res = await slow.call("POST", "/v1/simulations", { body: scenario() });
      expect(res.status).toBe(422);
      expect(res.text).toMatch(/did not finish within/);
    } finally {
      await slow.close();
    }
  }, 60_000);

  it("refuses a tenant more simulations at once than allowed (429), without locking other tenants out", async () => {
    const busy = await createTestApi({ simulations: { limits: { maxConcurrent: 2, maxPerTenant: 1 } } });
    try {
      // Each simulation holds its place for its child process's life (seconds); the others arrive meanwhile.
      const [mine, mineAgain, theirs] = await Promise.all([
        busy.call("POST", "/v1/simulations?seed=1", { body: scenario() }),
        busy.call("POST", "/v1/simulations?seed=2", { body: scenario() }),
        busy.call("POST", "/v1/simulations?seed=3", { body: scenario(), key: busy.other.key }),
      ]);
      expect([mine.status, mineAgain.status].sort()).toEqual([200, 429]);
      expect(theirs.status, theirs.text).toBe(200);
      const refused = mine.status === 429 ? mine : mineAgain;
      expect(refused.text).toMatch(/this tenant's 1 simulation/);
    } finally {
      await busy.close();
    }
  }, 120_000);

  it("is open to the operator as well, on the same terms", async () => {
    const res = await api.call("POST", "/v1/simulations?seed=2", { body: scenario(), key: ADMIN_KEY });
    expect(res.status, res.text).toBe(200);
    expect(res.body.ok).toBe(true);
  }, 120_000);

  it("a dry run with survives=true says what losing a node and each zone would do, and writes nothing", async () => {
    const file = (replicas: number, cpu: string) =>
      deployment.replace("replicas: 4", `replicas: ${replicas}`).replace("500m", cpu);
    const roomy = await api.call("POST", "/v1/apply?dryRun=true&survives=true", { body: file(4, "500m") });
    expect(roomy.status, roomy.text).toBe(200);
    expect(roomy.body.results[0]).toMatchObject({ kind: "Deployment", name: "web" });
    const faults = roomy.body.survives.map((v: { fault: string }) => v.fault);
    expect(faults).toEqual(["loses one node", "loses zone zone-a", "loses zone zone-b"]);
    for (const verdict of roomy.body.survives) expect(verdict.ok, verdict.detail).toBe(true);
    // Eight replicas of 900m fill the four 2-CPU nodes: a lost node's two cannot come back.
    const full = await api.call("POST", "/v1/apply?dryRun=true&survives=true", { body: file(8, "900m") });
    expect(full.status, full.text).toBe(200);
    const [node, zoneA] = full.body.survives;
    expect(node.ok).toBe(false);
    expect(node.detail).toBe("web down 25%, not back: needs 1800m CPU / 512 MiB more room");
    expect(zoneA.detail).toBe("web down 50%, not back: needs 3600m CPU / 1 GiB more room");
    expect(await api.store.listObjects({ kind: "Deployment", tenantId: api.tenant.id })).toEqual([]);
    const notDry = await api.call("POST", "/v1/apply?survives=true", { body: file(4, "500m") });
    expect(notDry.status).toBe(400);
  }, 120_000);
});
