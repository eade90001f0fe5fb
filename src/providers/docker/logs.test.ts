import { Readable } from "node:stream";
import { describe, expect, it } from "vitest";
import { demuxAll, followLog, LineBuffer, LogDemuxer } from "./logs.js";

function frame(stream: 1 | 2, text: string): Buffer {
  const payload = Buffer.from(text, "utf8");
  const header = Buffer.alloc(8);
  header[0] = stream;
  header.writeUInt32BE(payload.length, 4);
  return Buffer.concat([header, payload]);
}

describe("docker log demultiplexing", () => {
  it("joins stdout and stderr frames as written, across chunks split anywhere (even inside a character)", () => {
    const bytes = Buffer.concat([frame(1, "héllo\n"), frame(2, "oops\n"), frame(1, "bye\n")]);
    expect(demuxAll(bytes, false)).toBe("héllo\noops\nbye\n");
    for (let cut = 1; cut < bytes.length; cut++) {
      const demuxer = new LogDemuxer(false);
      const text = demuxer.push(bytes.subarray(0, cut)) + demuxer.push(bytes.subarray(cut)) + demuxer.end();
      expect(text, `cut at ${cut}`).toBe("héllo\noops\nbye\n");
    }
  });

  it("passes a TTY's raw output through", () => {
    expect(demuxAll(Buffer.from("raw\r\n"), true)).toBe("raw\r\n");
  });

  it("hands out whole lines, keeping a partial one until more comes or the end", () => {
    const lines = new LineBuffer();
    expect(lines.push("a\nb")).toBe("a\n");
    expect(lines.push("c")).toBeUndefined();
    expect(lines.push("\nd")).toBe("bc\n");
    expect(lines.flush()).toBe("d");
    expect(lines.flush()).toBeUndefined();
  });

  it("follows a stream to its end, flushing a last partial line", async () => {
    const stream = Readable.from([frame(1, "one\ntw"), frame(2, "o\nthree")]);
    const chunks: string[] = [];
    for await (const chunk of followLog(stream, false, undefined)) chunks.push(chunk);
    expect(chunks).toEqual(["one\n", "two\n", "three"]);
  });
});
