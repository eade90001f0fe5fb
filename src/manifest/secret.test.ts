import { describe, expect, it } from "vitest";
import { applyDefaults } from "./defaults.js";
import { secretDoc, withField } from "./fixtures.js";
import { errorsOf, manifestOfKind } from "./testing.js";

const secretOf = (doc: unknown) => manifestOfKind(doc, "Secret");
const b64 = (text: string) => Buffer.from(text, "utf8").toString("base64");

describe("Secret", () => {
  it("validates with type Opaque by default", () => {
    const secret = secretOf(secretDoc());
    expect(secret.type).toBe("Opaque");
    expect(secret.data).toEqual({ password: "c2VjcmV0" });
  });

  it("reports invalid base64 at the key", () => {
    expect(errorsOf(withField(secretDoc(), "data.password", "secret!"))).toEqual([
      { path: "data.password", message: 'must be base64-encoded; put plain text under "stringData"' },
    ]);
    expect(errorsOf(withField(secretDoc(), "data.password", "c2VjcmV"))[0]?.path).toBe("data.password");
  });

  it("accepts base64 wrapped over lines, as `base64` prints long values", () => {
    expect(secretOf(withField(secretDoc(), "data.cert", "c2Vj\ncmV0\n")).data?.cert).toBe("c2Vj\ncmV0\n");
  });

  it("merges stringData into data, base64-encoded, and drops it", () => {
    let doc = withField(secretDoc(), "stringData", { username: "admin", password: "hunter2" });
    doc = withField(doc, "data.token", b64("t0k3n"));
    const secret = secretOf(doc);
    expect(secret).not.toHaveProperty("stringData");
    expect(secret.data).toEqual({ password: b64("hunter2"), token: b64("t0k3n"), username: b64("admin") });
    expect(applyDefaults(secret)).toEqual(secret);
  });

  it("creates data from stringData alone", () => {
    const doc = withField(withField(secretDoc(), "data", undefined), "stringData", { "config.json": '{"a":1}' });
    expect(secretOf(doc).data).toEqual({ "config.json": b64('{"a":1}') });
  });

  it("requires the keys of the well-known types", () => {
    const doc = withField(secretDoc(), "type", "kubernetes.io/tls");
    expect(errorsOf(withField(doc, "stringData", { "tls.crt": "cert" }))).toEqual([
      { path: "data", message: 'must hold key "tls.key" for type kubernetes.io/tls' },
    ]);
    const tls = withField(doc, "stringData", { "tls.crt": "cert", "tls.key": "key" });
    expect(secretOf(tls).type).toBe("kubernetes.io/tls");
  });

  it("checks keys and size", () => {
    expect(errorsOf(withField(secretDoc(), "stringData", { "a b": "x" }))[0]?.path).toBe('stringData["a b"]');
    const big = withField(secretDoc(), "stringData", { a: "x".repeat(1024 * 1024) });
    expect(errorsOf(big)).toEqual([
      { path: "data", message: "values total 1048582 bytes; the limit is 1048576 bytes (1 MiB)" },
    ]);
    // A key in both counts once: stringData replaces it.
    const replaced = withField(withField(secretDoc(), "data.a", b64("y".repeat(1000))), "stringData", { a: "x" });
    expect(secretOf(replaced).data?.a).toBe(b64("x"));
  });

  it("reports unknown fields", () => {
    expect(errorsOf(withField(secretDoc(), "stringdata", {}))).toEqual([
      { path: "stringdata", message: 'unknown field "stringdata"' },
    ]);
  });
});
