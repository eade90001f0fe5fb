import { describe, expect, it } from "vitest";
import { configReferences, registryHost, resolvePodConfig } from "./podConfig.js";

const pod = { name: "web-1", namespace: "default", uid: "u1" };
const spec = {
  containers: [
    {
      name: "web",
      envFrom: [{ configMapRef: { name: "settings" }, prefix: "APP_" }],
      env: [
        { name: "PLAIN", value: "x" },
        { name: "PASSWORD", valueFrom: { secretKeyRef: { name: "creds", key: "password" } } },
        { name: "POD", valueFrom: { fieldRef: { fieldPath: "metadata.name" } } },
        { name: "MAYBE", valueFrom: { configMapKeyRef: { name: "absent", key: "k", optional: true } } },
      ],
    },
  ],
  volumes: [
    { name: "conf", configMap: { name: "settings", items: [{ key: "mode", path: "mode.txt" }] } },
    { name: "keys", secret: { secretName: "creds" } },
  ],
};
const sources = () => ({
  configMaps: new Map([["settings", { mode: "fast", level: "3" }]]),
  secrets: new Map([["creds", { password: btoa("s3cret") }]]),
});

describe("resolvePodConfig", () => {
  it("resolves env from ConfigMaps, Secrets (decoded) and fields, and files from volumes", () => {
    expect(resolvePodConfig(spec, pod, sources())).toEqual({
      ok: true,
      env: { web: { APP_mode: "fast", APP_level: "3", PLAIN: "x", PASSWORD: "s3cret", POD: "web-1" } },
      files: { conf: { "mode.txt": "fast" }, keys: { password: "s3cret" } },
      registryAuth: [],
      pullSecretProblems: [],
    });
  });

  it("stops with CreateContainerConfigError naming a missing object or key", () => {
    const noSecret = { ...sources(), secrets: new Map() };
    expect(resolvePodConfig(spec, pod, noSecret)).toEqual({
      ok: false,
      reason: "CreateContainerConfigError",
      message: 'secret "creds" not found',
    });
    const noKey = { ...sources(), configMaps: new Map([["settings", { level: "3" }]]) };
    expect(resolvePodConfig(spec, pod, noKey)).toMatchObject({
      ok: false,
      message: "couldn't find key mode for volume conf",
    });
  });

  it("names exactly the objects a spec refers to", () => {
    expect(configReferences(spec)).toEqual({
      configMaps: new Set(["settings", "absent"]),
      secrets: new Set(["creds"]),
      pullSecrets: new Set(),
    });
  });
});

describe("imagePullSecrets", () => {
  const b64 = (text: string) => Buffer.from(text, "utf8").toString("base64");
  const withPullSecrets = (...names: string[]) => ({
    containers: [{ name: "web", image: "127.0.0.1:5001/web:1" }],
    imagePullSecrets: names.map((name) => ({ name })),
  });
  const dockerconfigjson = {
    type: "kubernetes.io/dockerconfigjson",
    data: {
      ".dockerconfigjson": b64(
        JSON.stringify({
          auths: {
            "127.0.0.1:5001": { username: "kn", password: "pw:with:colons" },
            "https://index.docker.io/v1/": { auth: b64("hub-user:hub-pass") },
          },
        }),
      ),
    },
  };
  const dockercfg = {
    type: "kubernetes.io/dockercfg",
    data: { ".dockercfg": b64(JSON.stringify({ "http://registry.example:5000/v2/": { auth: b64("u:p") } })) },
  };
  type PullSecret = { type: string; data: Record<string, string> };
  const sources = (pullSecrets: Map<string, PullSecret>) => ({
    configMaps: new Map(),
    secrets: new Map(),
    pullSecrets,
  });

  it("are named for loading, apart from the other secrets", () => {
    expect(configReferences(withPullSecrets("a", "b"))).toEqual({
      configMaps: new Set(),
      secrets: new Set(),
      pullSecrets: new Set(["a", "b"]),
    });
  });

  it("resolve dockerconfigjson and dockercfg secrets into credentials per registry, in order", () => {
    const found = new Map<string, PullSecret>([
      ["json", dockerconfigjson],
      ["cfg", dockercfg],
    ]);
    expect(resolvePodConfig(withPullSecrets("json", "cfg"), pod, sources(found))).toMatchObject({
      ok: true,
      registryAuth: [
        { registry: "127.0.0.1:5001", username: "kn", password: "pw:with:colons" },
        { registry: "docker.io", username: "hub-user", password: "hub-pass" },
        { registry: "registry.example:5000", username: "u", password: "p" },
      ],
      pullSecretProblems: [],
    });
  });

  it("leave out a missing, mistyped or unreadable secret and say so, without stopping the pod", () => {
    const found = new Map<string, PullSecret>([
      ["opaque", { type: "Opaque", data: { ".dockerconfigjson": b64("{}") } }],
      ["broken", { type: "kubernetes.io/dockerconfigjson", data: { ".dockerconfigjson": b64("not json") } }],
      ["json", dockerconfigjson],
    ]);
    const resolved = resolvePodConfig(withPullSecrets("absent", "opaque", "broken", "json"), pod, sources(found));
    expect(resolved).toMatchObject({
      ok: true,
      pullSecretProblems: [
        'secret "absent" not found',
        'secret "opaque" is of type Opaque, not kubernetes.io/dockerconfigjson or kubernetes.io/dockercfg',
        'secret "broken": .dockerconfigjson is not a docker config with credentials',
      ],
    });
    expect(resolved.ok && resolved.registryAuth.map((c) => c.registry)).toEqual(["127.0.0.1:5001", "docker.io"]);
  });

  it("name registries as image names do", () => {
    expect(registryHost("https://127.0.0.1:5001/v1/")).toBe("127.0.0.1:5001");
    expect(registryHost("registry-1.docker.io")).toBe("docker.io");
    expect(registryHost("ghcr.io")).toBe("ghcr.io");
  });
});
