/**
 * The pod sandbox's image: one static binary, `/pause`, that sleeps in `pause(2)` for ever and
 * holds the pod's network namespace, so the pod's containers can each be recreated (a new run)
 * without the pod losing its address or published ports — Kubernetes' pause container. No
 * registry is needed: the image is built on each Engine on first use from this tarball (`docker
 * import`). The binary is 129 bytes of x86-64 machine code written out by hand, so nothing is
 * read from the control plane's host; as PID 1 it ignores SIGTERM, and the provider removes it
 * with SIGKILL (`docker rm -f`).
 */
export const PAUSE_IMAGE = "kubernease/pause:1";

/** A minimal ELF64 executable for x86-64 Linux: `loop: mov eax, 34 (pause); syscall; jmp loop`. */
export function pauseBinary(): Buffer {
  const loadAddress = 0x400000n;
  const codeOffset = 64 + 56;
  const code = Buffer.from([0xb8, 0x22, 0x00, 0x00, 0x00, 0x0f, 0x05, 0xeb, 0xf7]);
  const size = codeOffset + code.length;
  const elf = Buffer.alloc(size);
  Buffer.from([0x7f, 0x45, 0x4c, 0x46, 2, 1, 1, 0]).copy(elf, 0); // ELF, 64-bit, little-endian, SysV
  elf.writeUInt16LE(2, 16); // ET_EXEC
  elf.writeUInt16LE(0x3e, 18); // x86-64
  elf.writeUInt32LE(1, 20); // version
  elf.writeBigUInt64LE(loadAddress + BigInt(codeOffset), 24); // entry point
  elf.writeBigUInt64LE(64n, 32); // program headers right after this header
  elf.writeUInt16LE(64, 52); // header size
  elf.writeUInt16LE(56, 54); // program header size
  elf.writeUInt16LE(1, 56); // one program header
  // PT_LOAD of the whole file, readable and executable.
  elf.writeUInt32LE(1, 64);
  elf.writeUInt32LE(5, 68);
  elf.writeBigUInt64LE(0n, 72);
  elf.writeBigUInt64LE(loadAddress, 80);
  elf.writeBigUInt64LE(loadAddress, 88);
  elf.writeBigUInt64LE(BigInt(size), 96);
  elf.writeBigUInt64LE(BigInt(size), 104);
  elf.writeBigUInt64LE(0x1000n, 112);
  code.copy(elf, codeOffset);
  return elf;
}

export interface TarEntry {
  path: string;
  content: Buffer | string;
  mode?: number;
}

/** A ustar archive of regular files (no directories needed: extraction creates parents). */
export function tarOf(entries: TarEntry[]): Buffer {
  const blocks: Buffer[] = [];
  for (const entry of entries) {
    const content = typeof entry.content === "string" ? Buffer.from(entry.content) : entry.content;
    const header = Buffer.alloc(512);
    const path = entry.path.replace(/^\/+/, "");
    if (Buffer.byteLength(path) > 100) throw new Error(`path too long for a tar header: ${path}`);
    header.write(path, 0, 100, "utf8");
    header.write(`${(entry.mode ?? 0o644).toString(8).padStart(7, "0")}\0`, 100, 8, "ascii");
    header.write("0000000\0", 108, 8, "ascii"); // uid
    header.write("0000000\0", 116, 8, "ascii"); // gid
    header.write(`${content.length.toString(8).padStart(11, "0")}\0`, 124, 12, "ascii");
    header.write("00000000000\0", 136, 12, "ascii"); // mtime: the epoch, so the archive is reproducible
    header.write("        ", 148, 8, "ascii"); // checksum placeholder: spaces while summing
    header.write("0", 156, 1, "ascii"); // regular file
    header.write("ustar\u000000", 257, 8, "ascii");
    let sum = 0;
    for (const byte of header) sum += byte;
    header.write(`${sum.toString(8).padStart(6, "0")}\0 `, 148, 8, "ascii");
    blocks.push(header, content, Buffer.alloc((512 - (content.length % 512)) % 512));
  }
  blocks.push(Buffer.alloc(1024));
  return Buffer.concat(blocks);
}

export function pauseImageTar(): Buffer {
  return tarOf([{ path: "pause", content: pauseBinary(), mode: 0o755 }]);
}
