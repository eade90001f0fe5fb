import { describe, expect, it } from "vitest";
import { configReferences, resolvePodConfig } from "./podConfig.js";

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
    });
  });
});
