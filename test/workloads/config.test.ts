import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTestApi, type TestApi } from "../helpers/api.js";

const APP = `apiVersion: apps/v1
kind: Deployment
metadata: { name: api }
spec:
  replicas: 1
  selector: { matchLabels: { app: api } }
  template:
    metadata: { labels: { app: api } }
    spec:
      containers:
        - name: api
          image: api:1
          envFrom: [{ configMapRef: { name: api-settings } }]
          env:
            - name: DB_PASSWORD
              valueFrom: { secretKeyRef: { name: api-db, key: password } }
          volumeMounts: [{ name: tls, mountPath: /etc/tls }]
      volumes:
        - name: tls
          secret: { secretName: api-db, items: [{ key: cert, path: tls.crt }] }
`;

const CONFIG = `apiVersion: v1
kind: ConfigMap
metadata: { name: api-settings }
data: { LOG_LEVEL: debug, REGION: eu }
---
apiVersion: v1
kind: Secret
metadata: { name: api-db }
stringData: { password: hunter2, cert: "-----BEGIN CERTIFICATE-----" }
`;

let api: TestApi;
beforeAll(async () => {
  api = await createTestApi();
});
afterAll(() => api.close());

const pod = async () =>
  (await api.store.listPods({ tenantId: api.tenant.id })).find((p) => p.ownerName?.startsWith("api-"));

describe("ConfigMaps and Secrets in pods", () => {
  it("a pod whose ConfigMap or Secret is missing waits with CreateContainerConfigError, then starts once they exist", async () => {
    await api.call("POST", "/v1/apply", { body: APP });
    const waiting = await api.until(async () => {
      const p = await pod();
      const state = (p?.status.containerStatuses as any[] | undefined)?.[0]?.state?.waiting;
      return state?.reason === "CreateContainerConfigError" && state;
    });
    expect(waiting.message).toMatch(/^(configmap "api-settings"|secret "api-db") not found$/);
    await api.call("POST", "/v1/apply", { body: CONFIG });
    const started = await api.until(async () => {
      const p = await pod();
      return p?.ready && p;
    }, 20_000);
    expect(api.provider.runtimeSpec(started.id)).toMatchObject({
      env: { api: { LOG_LEVEL: "debug", REGION: "eu", DB_PASSWORD: "hunter2" } },
      files: { tls: { "tls.crt": "-----BEGIN CERTIFICATE-----" } },
    });
  });

  it("shows a Secret's data only one Secret at a time, never in lists", async () => {
    const one = await api.call("GET", "/api/v1/namespaces/default/secrets/api-db");
    expect(one.body.data).toEqual({ password: btoa("hunter2"), cert: btoa("-----BEGIN CERTIFICATE-----") });
    const list = await api.call("GET", "/api/v1/namespaces/default/secrets");
    expect(list.body.items).toHaveLength(1);
    expect(list.text).not.toContain(btoa("hunter2"));
    expect(list.body.items[0].data).toBeUndefined();
  });
});
