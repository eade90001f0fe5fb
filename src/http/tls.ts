import { existsSync } from "node:fs";
import { mkdir, readFile } from "node:fs/promises";
import { hostname } from "node:os";
import { join } from "node:path";
import {
  type CertificatePems,
  ensureLocalCa,
  generateCa,
  issueCertificate,
  writeFileAtomically,
} from "../jobs/haproxy/certs.js";

export interface TlsMaterial {
  cert: string;
  key: string;
  /** Path of the CA certificate clients should trust (absent when the operator brought the certificate). */
  caPath?: string;
}

const SERVER_CERTIFICATE_DAYS = 825;

/** The API's own names: localhost, 127.0.0.1, ::1 and this host's name. */
const serverNames = () => ({ dns: ["localhost", hostname()], ips: ["127.0.0.1", "::1"] });

function issueServer(ca: CertificatePems, nowMs: number): Promise<CertificatePems> {
  return issueCertificate(ca, serverNames(), nowMs, SERVER_CERTIFICATE_DAYS);
}

/**
 * A local CA and a server certificate it signs (localhost, 127.0.0.1, ::1 and
 * this host's name), for HTTPS by default with no setup. Clients trust `ca.crt`.
 */
export async function generateLocalCa(
  nowMs: number,
): Promise<{ caCert: string; caKey: string; cert: string; key: string }> {
  const ca = await generateCa(nowMs);
  const server = await issueServer(ca, nowMs);
  return { caCert: ca.cert, caKey: ca.key, cert: server.cert, key: server.key };
}

/**
 * The certificate and key from config, or a server certificate of the local CA
 * (`ca.crt`/`ca.key` in the data folder, the same CA the proxy issues tenant
 * host certificates from), generated into the data folder on first start.
 */
export async function loadTls(options: {
  dataDir: string;
  certPath?: string;
  keyPath?: string;
  nowMs: number;
}): Promise<TlsMaterial> {
  if (options.certPath && options.keyPath) {
    return { cert: await readFile(options.certPath, "utf8"), key: await readFile(options.keyPath, "utf8") };
  }
  const dir = options.dataDir;
  const paths = { cert: join(dir, "server.crt"), key: join(dir, "server.key") };
  await mkdir(dir, { recursive: true });
  const ca = await ensureLocalCa(dir, options.nowMs);
  if (!existsSync(paths.cert) || !existsSync(paths.key)) {
    const server = await issueServer(ca, options.nowMs);
    await writeFileAtomically(paths.key, server.key, 0o600);
    await writeFileAtomically(paths.cert, server.cert, 0o644);
  }
  return { cert: await readFile(paths.cert, "utf8"), key: await readFile(paths.key, "utf8"), caPath: ca.certPath };
}
