/**
 * Container output from the Engine. Without a TTY, Docker multiplexes stdout and
 * stderr into frames (`[stream, 0, 0, 0, size as uint32 BE]` then `size` bytes);
 * the demuxer below takes them apart across chunk boundaries, and the reader
 * hands out text that ends at line ends, so a follower never sees half a line
 * (until the run ends, when whatever is left is flushed).
 */
import { StringDecoder } from "node:string_decoder";

const HEADER_BYTES = 8;

/** Multiplexed frames in, the payload text (stdout and stderr interleaved, as written) out. */
export class LogDemuxer {
  private pending: Buffer = Buffer.alloc(0);
  private readonly decoder = new StringDecoder("utf8");

  constructor(private readonly tty: boolean) {}

  push(chunk: Buffer): string {
    if (this.tty) return this.decoder.write(chunk);
    this.pending = this.pending.length === 0 ? chunk : Buffer.concat([this.pending, chunk]);
    let text = "";
    let offset = 0;
    // Each pass consumes one whole frame; a partial frame waits for the next chunk.
    while (this.pending.length - offset >= HEADER_BYTES) {
      const size = this.pending.readUInt32BE(offset + 4);
      if (this.pending.length - offset < HEADER_BYTES + size) break;
      text += this.decoder.write(this.pending.subarray(offset + HEADER_BYTES, offset + HEADER_BYTES + size));
      offset += HEADER_BYTES + size;
    }
    this.pending = this.pending.subarray(offset);
    return text;
  }

  end(): string {
    return this.decoder.end();
  }
}

/** Splits text into chunks that end at line ends; what follows the last line end waits for more. */
export class LineBuffer {
  private partial = "";

  push(text: string): string | undefined {
    const joined = this.partial + text;
    const cut = joined.lastIndexOf("\n") + 1;
    this.partial = joined.slice(cut);
    return cut > 0 ? joined.slice(0, cut) : undefined;
  }

  flush(): string | undefined {
    const rest = this.partial;
    this.partial = "";
    return rest === "" ? undefined : rest;
  }
}

/** A finished log (the Engine's answer without `follow`) as text. */
export function demuxAll(buffer: Buffer, tty: boolean): string {
  const demuxer = new LogDemuxer(tty);
  return demuxer.push(buffer) + demuxer.end();
}

/**
 * A followed log as line-ended chunks, until the Engine closes the stream (the run ended)
 * or `signal` aborts (the stream is destroyed then, and its end is not an error).
 */
export async function* followLog(
  stream: NodeJS.ReadableStream,
  tty: boolean,
  signal: AbortSignal | undefined,
): AsyncGenerator<string> {
  const demuxer = new LogDemuxer(tty);
  const lines = new LineBuffer();
  const stop = () => (stream as NodeJS.ReadableStream & { destroy(): void }).destroy();
  if (signal?.aborted) stop();
  signal?.addEventListener("abort", stop, { once: true });
  try {
    for await (const chunk of stream) {
      const text = lines.push(demuxer.push(Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk)));
      if (text !== undefined) yield text;
    }
  } catch (error) {
    if (!signal?.aborted) throw error;
  } finally {
    signal?.removeEventListener("abort", stop);
    stop();
  }
  const rest = lines.flush();
  const tail = (rest ?? "") + demuxer.end();
  if (tail !== "") yield tail;
}
