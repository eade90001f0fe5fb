import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTestApi, type TestApi } from "../helpers/api.js";

const LOG = "/api/v1/namespaces/logs/pods";

function podDoc(name: string, containers: { name: string; image: string }[], cpu = "100m") {
  return {
    apiVersion: "v1",
    kind: "Pod",
    metadata: { name, namespace: "logs" },
    spec: {
      restartPolicy: "Never",
      containers: containers.map((c) => ({ ...c, resources: { requests: { cpu, memory: "16Mi" } } })),
    },
  };
}

let api: TestApi;

/** Waits until every container of the pod has had a run. */
async function started(name: string): Promise<void> {
  await api.until(async () => {
    const pod = (await api.call("GET", `${LOG}/${name}`)).body;
    const statuses = pod.status?.containerStatuses ?? [];
    return statuses.length > 0 && statuses.every((s: { containerID?: string }) => s.containerID);
  });
}

beforeAll(async () => {
  api = await createTestApi({
    images: {
      "logger:1": { logLines: ["listening on :8080", "ready"] },
      "short:1": { crashAfterMs: 400, exitCode: 0 },
    },
    // Well past the short run (400 ms), so a follow of it ends with the run, not at the bound.
    logFollowLimitMs: 2_000,
  });
  for (const doc of [
    podDoc("one", [{ name: "app", image: "logger:1" }]),
    podDoc("two", [
      { name: "app", image: "logger:1" },
      { name: "sidecar", image: "nginx:1.27" },
    ]),
    podDoc("brief", [{ name: "job", image: "short:1" }]),
    podDoc("huge", [{ name: "app", image: "logger:1" }], "64"),
  ]) {
    expect((await api.call("POST", "/v1/apply", { body: doc })).status).toBe(200);
  }
  await started("one");
  await started("two");
}, 30_000);
afterAll(() => api?.close());

describe("GET …/pods/{name}/log", () => {
  it("answers the container's output as text/plain: its start line, its own lines; tailLines keeps the last", async () => {
    const res = await api.call("GET", `${LOG}/one/log`);
    expect(res.status).toBe(200);
    const lines = res.text.trimEnd().split("\n");
    expect(lines.map((l) => l.replace(/^\S+ /, ""))).toEqual([
      "started logger:1 (run 1)",
      "listening on :8080",
      "ready",
    ]);
    expect(lines[0]).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z /);
    const tail = await api.call("GET", `${LOG}/one/log?tailLines=1`);
    expect(tail.text).toMatch(/ ready\n$/);
    expect(tail.text.split("\n")).toHaveLength(2);
    const response = await api.app.request(`${LOG}/one/log`, {
      headers: { authorization: `Bearer ${api.tenant.key}` },
    });
    expect(response.headers.get("content-type")).toBe("text/plain; charset=utf-8");
  });

  it("needs ?container= when the pod has several, and names them; an unknown one is 400", async () => {
    const res = await api.call("GET", `${LOG}/two/log`);
    expect(res.status).toBe(400);
    expect(res.body.message).toBe("a container name must be specified for pod two, choose one of: [app sidecar]");
    const sidecar = await api.call("GET", `${LOG}/two/log?container=sidecar`);
    expect(sidecar.status).toBe(200);
    expect(sidecar.text).toMatch(/started nginx:1\.27 \(run 1\)\n$/);
    const unknown = await api.call("GET", `${LOG}/two/log?container=nope`);
    expect(unknown.status).toBe(400);
    expect(unknown.body.message).toBe("container nope is not valid for pod two");
  });

  it("follows a run until it ends", async () => {
    await api.until(async () => (await api.call("GET", `${LOG}/brief/log`)).status === 200);
    const res = await api.call("GET", `${LOG}/brief/log?follow=true`);
    expect(res.status).toBe(200);
    expect(res.text).toMatch(/started short:1 \(run 1\)\n.* exited with code 0 \(Completed\)\n$/);
  });

  it("ends a follow of a run that goes on at the server's bound", async () => {
    const res = await api.call("GET", `${LOG}/one/log?follow=true`);
    expect(res.status).toBe(200);
    expect(res.text).toMatch(/ ready\n$/);
  });

  it("is 400 for a pod not yet started, a bad tailLines, or a previous run that does not exist; 404 for no pod", async () => {
    const waiting = await api.call("GET", `${LOG}/huge/log`);
    expect(waiting.status).toBe(400);
    expect(waiting.body.message).toMatch(/^container "app" in pod "huge" is waiting to start: /);
    expect((await api.call("GET", `${LOG}/one/log?tailLines=-1`)).status).toBe(400);
    const previous = await api.call("GET", `${LOG}/one/log?previous=true`);
    expect(previous.status).toBe(400);
    expect(previous.body.message).toBe('previous terminated container "app" not found in pod "one"');
    const missing = await api.call("GET", `${LOG}/nope/log`);
    expect(missing.status).toBe(404);
    expect(missing.body.reason).toBe("NotFound");
  });
});
