import { describe, expect, it } from "vitest";
import { MemoryStore } from "../db/memoryStore.js";
import type { Json } from "../db/types.js";
import { loadRoutingInput, loadTlsSecret } from "./load.js";

let ids = 0;
async function put(store: MemoryStore, tenantId: string, kind: string, namespace: string, name: string, spec: Json) {
  await store.createObject({
    id: `obj_${++ids}`,
    uid: `uid-${ids}`,
    tenantId,
    kind,
    namespace,
    name,
    apiVersion: "v1",
    labels: {},
    annotations: {},
    spec,
    createdAt: 0,
  });
}

const tlsData = (tag: string) => ({
  type: "kubernetes.io/tls",
  data: {
    "tls.crt": Buffer.from(`cert ${tag}`).toString("base64"),
    "tls.key": Buffer.from(`key ${tag}`).toString("base64"),
  },
});

describe("loading the route table's input", () => {
  it("reads the Secrets Ingress tls names, each in the Ingress's own tenant and namespace only", async () => {
    const store = new MemoryStore();
    await store.createTenant({ id: "ten_acme", name: "acme", createdAt: 0 });
    await store.createTenant({ id: "ten_globex", name: "globex", createdAt: 0 });
    const ingress = {
      tls: [{ hosts: ["shop.acme.test"], secretName: "shop-tls" }, { hosts: ["other.acme.test"] }],
      rules: [{ host: "shop.acme.test" }],
    };
    await put(store, "ten_acme", "Ingress", "default", "web", ingress);
    await put(store, "ten_acme", "Secret", "default", "shop-tls", tlsData("acme"));
    // Same name elsewhere: another namespace, another tenant; and a Secret no Ingress names.
    await put(store, "ten_acme", "Secret", "staging", "shop-tls", tlsData("staging"));
    await put(store, "ten_globex", "Secret", "default", "shop-tls", tlsData("globex"));
    await put(store, "ten_acme", "Secret", "default", "unrelated", tlsData("unrelated"));
    const input = await loadRoutingInput(store);
    expect(input.secrets).toEqual([{ tenant: "acme", namespace: "default", name: "shop-tls", ...tlsData("acme") }]);
    expect(await loadTlsSecret(store, "acme/default/shop-tls")).toEqual(tlsData("acme"));
    expect(await loadTlsSecret(store, "globex/default/shop-tls")).toEqual(tlsData("globex"));
    expect(await loadTlsSecret(store, "acme/default/missing")).toBeUndefined();
    expect(await loadTlsSecret(store, "nobody/default/shop-tls")).toBeUndefined();
  });
});
