import "reflect-metadata";
import { randomBytes, webcrypto } from "node:crypto";
import { existsSync } from "node:fs";
import { mkdir, readFile, writeFile } from "node:fs/promises";
import { hostname } from "node:os";
import { join } from "node:path";
import * as x509 from "@peculiar/x509";

export interface TlsMaterial {
  cert: string;
  key: string;
  /** Path of the CA certificate clients should trust (absent when the operator brought the certificate). */
  caPath?: string;
}

type CryptoKey = webcrypto.CryptoKey;
type CryptoKeyPair = webcrypto.CryptoKeyPair;
const crypto = webcrypto;
x509.cryptoProvider.set(webcrypto as unknown as Parameters<typeof x509.cryptoProvider.set>[0]);

const KEY_ALGORITHM = { name: "ECDSA", namedCurve: "P-256" } as const;
const SIGNING = { name: "ECDSA", hash: "SHA-256" } as const;
const DAY_MS = 86_400_000;

async function pemKey(key: CryptoKey): Promise<string> {
  const der = Buffer.from(await crypto.subtle.exportKey("pkcs8", key)).toString("base64");
  return `-----BEGIN PRIVATE KEY-----\n${der.match(/.{1,64}/g)?.join("\n")}\n-----END PRIVATE KEY-----\n`;
}

const serial = () => `01${randomBytes(15).toString("hex")}`;

/**
 * A local CA and a server certificate it signs (localhost, 127.0.0.1, ::1 and
 * this host's name), for HTTPS by default with no setup. Clients trust `ca.crt`.
 */
export async function generateLocalCa(
  nowMs: number,
): Promise<{ caCert: string; caKey: string; cert: string; key: string }> {
  const notBefore = new Date(nowMs - DAY_MS);
  const caKeys = (await crypto.subtle.generateKey(KEY_ALGORITHM, true, ["sign", "verify"])) as CryptoKeyPair;
  const ca = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: serial(),
    name: "CN=kubernease local CA",
    notBefore,
    notAfter: new Date(nowMs + 10 * 365 * DAY_MS),
    keys: caKeys as never,
    signingAlgorithm: SIGNING,
    extensions: [
      new x509.BasicConstraintsExtension(true, 0, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
      await x509.SubjectKeyIdentifierExtension.create(caKeys.publicKey as never),
    ],
  });
  const serverKeys = (await crypto.subtle.generateKey(KEY_ALGORITHM, true, ["sign", "verify"])) as CryptoKeyPair;
  const server = await x509.X509CertificateGenerator.create({
    serialNumber: serial(),
    subject: "CN=localhost",
    issuer: ca.subject,
    notBefore,
    notAfter: new Date(nowMs + 825 * DAY_MS),
    publicKey: serverKeys.publicKey as never,
    signingKey: caKeys.privateKey as never,
    signingAlgorithm: SIGNING,
    extensions: [
      new x509.BasicConstraintsExtension(false, undefined, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature | x509.KeyUsageFlags.keyEncipherment, true),
      new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.serverAuth]),
      new x509.SubjectAlternativeNameExtension([
        { type: "dns", value: "localhost" },
        { type: "dns", value: hostname() },
        { type: "ip", value: "127.0.0.1" },
        { type: "ip", value: "::1" },
      ]),
      await x509.AuthorityKeyIdentifierExtension.create(ca),
    ],
  });
  return {
    caCert: ca.toString("pem"),
    caKey: await pemKey(caKeys.privateKey),
    cert: `${server.toString("pem")}\n`,
    key: await pemKey(serverKeys.privateKey),
  };
}

/** The certificate and key from config, or the local CA's, generated into the data folder on first start. */
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
  const paths = {
    caCert: join(dir, "ca.crt"),
    caKey: join(dir, "ca.key"),
    cert: join(dir, "server.crt"),
    key: join(dir, "server.key"),
  };
  if (!existsSync(paths.cert) || !existsSync(paths.key) || !existsSync(paths.caCert)) {
    await mkdir(dir, { recursive: true });
    const generated = await generateLocalCa(options.nowMs);
    await writeFile(paths.caCert, generated.caCert);
    await writeFile(paths.caKey, generated.caKey, { mode: 0o600 });
    await writeFile(paths.cert, generated.cert);
    await writeFile(paths.key, generated.key, { mode: 0o600 });
  }
  return { cert: await readFile(paths.cert, "utf8"), key: await readFile(paths.key, "utf8"), caPath: paths.caCert };
}
