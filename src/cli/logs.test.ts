import { describe, expect, it } from "vitest";
import { logsPath } from "./logs.js";

describe("kubernease logs", () => {
  it("reads kubectl's flags into the log path", () => {
    expect(logsPath(["web-1"])).toBe("/api/v1/namespaces/default/pods/web-1/log");
    expect(logsPath(["-f", "web-1", "-c", "app", "--tail", "20", "-n", "shop"])).toBe(
      "/api/v1/namespaces/shop/pods/web-1/log?container=app&tailLines=20&follow=true",
    );
    expect(logsPath(["web-1", "-p"])).toBe("/api/v1/namespaces/default/pods/web-1/log?previous=true");
  });

  it("refuses a missing pod, a second pod, and a tail that is not a number", () => {
    expect(() => logsPath([])).toThrow(/usage: kubernease logs/);
    expect(() => logsPath(["a", "b"])).toThrow(/usage: kubernease logs/);
    expect(() => logsPath(["a", "--tail", "ten"])).toThrow('--tail must be a whole number of lines, got "ten"');
  });
});
