import { describe, expect, it } from "vitest";
import { MAX_DATA_BYTES } from "./data.js";
import { configMapDoc, withField } from "./fixtures.js";
import { errorsOf, manifestOfKind } from "./testing.js";

const configMapOf = (doc: unknown) => manifestOfKind(doc, "ConfigMap");

describe("ConfigMap", () => {
  it("validates text and binary data as given", () => {
    const doc = withField(configMapDoc(), "binaryData", { "logo.png": "iVBORw0KGgo=" });
    const configMap = configMapOf(withField(doc, "immutable", true));
    expect(configMap.data).toEqual({ "app.properties": "color=blue\n", LOG_LEVEL: "info" });
    expect(configMap.binaryData).toEqual({ "logo.png": "iVBORw0KGgo=" });
    expect(configMap.immutable).toBe(true);
  });

  it("checks every key at its own path", () => {
    const doc = withField(configMapDoc(), "data", { "a/b": "x", "..": "y", ok_key: "z" });
    expect(errorsOf(doc)).toEqual([
      { path: 'data["a/b"]', message: 'key "a/b" must consist of letters, digits, "-", "_" and "."' },
      { path: 'data[".."]', message: 'key ".." is not a valid file name' },
    ]);
  });

  it("refuses a key in both data and binaryData", () => {
    const doc = withField(configMapDoc(), "binaryData", { LOG_LEVEL: "aW5mbw==" });
    expect(errorsOf(doc)).toEqual([{ path: "binaryData.LOG_LEVEL", message: 'duplicate of key "LOG_LEVEL" in data' }]);
  });

  it("requires base64 in binaryData and text in data", () => {
    expect(errorsOf(withField(configMapDoc(), "binaryData", { blob: "not base64!" }))).toEqual([
      { path: "binaryData.blob", message: 'must be base64-encoded; put text under "data"' },
    ]);
    expect(errorsOf(withField(configMapDoc(), "data.PORT", 8080))).toEqual([
      { path: "data.PORT", message: 'must be a string (quote numbers and booleans, e.g. "8080" or "true")' },
    ]);
  });

  it("holds at most 1 MiB", () => {
    const half = "x".repeat(MAX_DATA_BYTES / 2);
    expect(configMapOf(withField(configMapDoc(), "data", { a: half })).data?.a).toHaveLength(half.length);
    const doc = withField(configMapDoc(), "data", { a: half, b: half, c: "!" });
    expect(errorsOf(doc)).toEqual([
      {
        path: "data",
        message: `values total ${MAX_DATA_BYTES + 1} bytes; the limit is ${MAX_DATA_BYTES} bytes (1 MiB)`,
      },
    ]);
  });

  it("refuses a __proto__ key rather than lose it", () => {
    const doc = JSON.parse('{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"a"},"data":{"__proto__":"x"}}');
    expect(errorsOf(doc)).toEqual([{ path: "data.__proto__", message: 'key "__proto__" is not supported' }]);
  });

  it("has no spec", () => {
    expect(errorsOf(withField(configMapDoc(), "spec", {}))).toEqual([
      { path: "spec", message: 'unknown field "spec"' },
    ]);
  });
});
