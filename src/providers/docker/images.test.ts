import { describe, expect, it } from "vitest";
import { credentialsFor, formatBytes, PullProgress, pullPolicyOf, registryOf } from "./images.js";

describe("registryOf", () => {
  it("reads the registry host from an image name, Docker Hub when it names none", () => {
    expect(registryOf("127.0.0.1:5001/kubernease-test/web:1")).toBe("127.0.0.1:5001");
    expect(registryOf("ghcr.io/org/app@sha256:abc")).toBe("ghcr.io");
    expect(registryOf("localhost/app")).toBe("localhost");
    expect(registryOf("kubernease-test/web:1")).toBe("docker.io");
    expect(registryOf("busybox")).toBe("docker.io");
    expect(registryOf("index.docker.io/library/busybox")).toBe("docker.io");
  });
});

describe("pullPolicyOf", () => {
  it("keeps a given policy, else Always for :latest or no tag and IfNotPresent otherwise", () => {
    expect(pullPolicyOf("web:1", "Never")).toBe("Never");
    expect(pullPolicyOf("web:1", undefined)).toBe("IfNotPresent");
    expect(pullPolicyOf("web:latest", undefined)).toBe("Always");
    expect(pullPolicyOf("web", undefined)).toBe("Always");
    // The registry's port is no tag.
    expect(pullPolicyOf("127.0.0.1:5000/web", undefined)).toBe("Always");
    expect(pullPolicyOf("127.0.0.1:5000/web:2", undefined)).toBe("IfNotPresent");
    expect(pullPolicyOf("web@sha256:abc", undefined)).toBe("IfNotPresent");
  });
});

describe("credentialsFor", () => {
  const auth = [
    { registry: "127.0.0.1:5001", username: "a", password: "1" },
    { registry: "docker.io", username: "hub", password: "2" },
    { registry: "127.0.0.1:5001", username: "b", password: "3" },
  ];
  it("picks the credentials of the image's registry, in order, and none for another registry", () => {
    expect(credentialsFor("127.0.0.1:5001/web:1", auth)).toEqual([
      { username: "a", password: "1", serveraddress: "127.0.0.1:5001" },
      { username: "b", password: "3", serveraddress: "127.0.0.1:5001" },
    ]);
    expect(credentialsFor("web:1", auth)).toEqual([{ username: "hub", password: "2", serveraddress: "docker.io" }]);
    expect(credentialsFor("127.0.0.1:5000/web:1", auth)).toEqual([]);
    expect(credentialsFor("web:1", undefined)).toEqual([]);
  });
});

describe("PullProgress", () => {
  it("sums the layers' bytes as Docker prints them", () => {
    const progress = new PullProgress();
    expect(progress.message("web:1")).toBe('Pulling image "web:1"');
    expect(progress.feed({ id: "a", status: "Pulling fs layer" })).toBe(false);
    expect(
      progress.feed({ id: "a", status: "Downloading", progressDetail: { current: 1_200_000, total: 2_000_000 } }),
    ).toBe(true);
    expect(progress.feed({ id: "b", status: "Downloading", progressDetail: { current: 0, total: 1_400_000 } })).toBe(
      true,
    );
    expect(progress.message("web:1")).toBe('Pulling image "web:1": 1.2 MB of 3.4 MB');
    expect(progress.feed({ id: "a", status: "Download complete" })).toBe(true);
    expect(progress.message("web:1")).toBe('Pulling image "web:1": 2.0 MB of 3.4 MB');
  });

  it("formats bytes in decimal units", () => {
    expect(formatBytes(512)).toBe("512 B");
    expect(formatBytes(3_400)).toBe("3.4 kB");
    expect(formatBytes(1_234_567_890)).toBe("1.2 GB");
  });
});
