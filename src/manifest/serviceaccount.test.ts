import { describe, expect, it } from "vitest";
import { serviceAccountDoc, withField } from "./fixtures.js";
import { errorsOf, manifestOfKind } from "./testing.js";

describe("ServiceAccount", () => {
  it("validates with its secrets and pull secrets", () => {
    let doc = withField(serviceAccountDoc(), "imagePullSecrets", [{ name: "registry" }]);
    doc = withField(doc, "secrets", [{ name: "builder-token" }]);
    doc = withField(doc, "automountServiceAccountToken", false);
    expect(manifestOfKind(doc, "ServiceAccount")).toMatchObject({
      imagePullSecrets: [{ name: "registry" }],
      secrets: [{ name: "builder-token" }],
      automountServiceAccountToken: false,
    });
  });

  it("reports unknown fields and wrong types at their path", () => {
    expect(errorsOf(withField(serviceAccountDoc(), "imagePullSecrets", [{ nam: "registry" }]))).toEqual([
      { path: "imagePullSecrets[0].name", message: "required" },
      { path: "imagePullSecrets[0].nam", message: 'unknown field "nam"' },
    ]);
    expect(errorsOf(withField(serviceAccountDoc(), "automountServiceAccountToken", "no"))).toEqual([
      { path: "automountServiceAccountToken", message: "must be a boolean (true or false)" },
    ]);
  });
});
