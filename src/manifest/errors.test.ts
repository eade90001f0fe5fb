import { describe, expect, it } from "vitest";
import { formatPath, issuesToFieldErrors } from "./errors.js";

describe("formatPath", () => {
  it("joins fields with dots and indexes with brackets", () => {
    expect(formatPath(["spec", "template", "spec", "containers", 0, "imag"])).toBe(
      "spec.template.spec.containers[0].imag",
    );
  });

  it("quotes keys that are not plain identifiers", () => {
    expect(formatPath(["metadata", "labels", "app.kubernetes.io/name"])).toBe(
      'metadata.labels["app.kubernetes.io/name"]',
    );
    expect(formatPath(["requests", "ephemeral-storage"])).toBe("requests.ephemeral-storage");
  });

  it("is empty for the document itself", () => {
    expect(formatPath([])).toBe("");
  });
});

describe("issuesToFieldErrors", () => {
  it("splits unknown keys into one error per field", () => {
    const errors = issuesToFieldErrors([
      { code: "unrecognized_keys", keys: ["a", "b"], path: ["spec"], message: "x", input: {} },
    ]);
    expect(errors).toEqual([
      { path: "spec.a", message: 'unknown field "a"' },
      { path: "spec.b", message: 'unknown field "b"' },
    ]);
  });
});
