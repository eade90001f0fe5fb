/**
 * Certificates for the proxy and the API: the platform's local CA (`ca.crt`,
 * `ca.key` in the data folder), server certificates it signs, and the files
 * HAProxy reads (certificate chain + key in one PEM, mode 0600). Key material
 * is written to files only: never logged, never put into a route table.
 */
import "reflect-metadata";
import { createPrivateKey, randomBytes, webcrypto, X509Certificate } from "node:crypto";
import { existsSync } from "node:fs";
import { mkdir, readFile, rename, writeFile } from "node:fs/promises";
import { join } from "node:path";
import * as x509 from "@peculiar/x509";
import { type CertificatePems, dnsNames, pairProblem } from "../../routing/certificates.js";

export type { CertificatePems };

type CryptoKey = webcrypto.CryptoKey;
type CryptoKeyPair = webcrypto.CryptoKeyPair;
const crypto = webcrypto;
x509.cryptoProvider.set(webcrypto as unknown as Parameters<typeof x509.cryptoProvider.set>[0]);

const KEY_ALGORITHM = { name: "ECDSA", namedCurve: "P-256" } as const;
const SIGNING = { name: "ECDSA", hash: "SHA-256" } as const;
export const DAY_MS = 86_400_000;
/** A platform certificate this close to its end is issued again. */
export const RENEW_BEFORE_MS = 30 * DAY_MS;
export const HOST_CERTIFICATE_DAYS = 90;

async function pemKey(key: CryptoKey): Promise<string> {
  const der = Buffer.from(await crypto.subtle.exportKey("pkcs8", key)).toString("base64");
  return `-----BEGIN PRIVATE KEY-----\n${der.match(/.{1,64}/g)?.join("\n")}\n-----END PRIVATE KEY-----\n`;
}

const serial = () => `01${randomBytes(15).toString("hex")}`;
const newKeys = async () => (await crypto.subtle.generateKey(KEY_ALGORITHM, true, ["sign", "verify"])) as CryptoKeyPair;

/** A self-signed CA that may sign server certificates only (path length 0), valid ten years. */
export async function generateCa(nowMs: number): Promise<CertificatePems> {
  const keys = await newKeys();
  const ca = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: serial(),
    name: "CN=kubernease local CA",
    notBefore: new Date(nowMs - DAY_MS),
    notAfter: new Date(nowMs + 10 * 365 * DAY_MS),
    keys: keys as never,
    signingAlgorithm: SIGNING,
    extensions: [
      new x509.BasicConstraintsExtension(true, 0, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
      await x509.SubjectKeyIdentifierExtension.create(keys.publicKey as never),
    ],
  });
  return { cert: `${ca.toString("pem")}\n`, key: await pemKey(keys.privateKey) };
}

export interface SubjectNames {
  dns: readonly string[];
  ips?: readonly string[];
}

/** A server certificate for `names` signed by `ca`, its key freshly generated; the first DNS name is the CN. */
export async function issueCertificate(
  ca: CertificatePems,
  names: SubjectNames,
  nowMs: number,
  validityDays: number,
): Promise<CertificatePems> {
  const caCert = new x509.X509Certificate(ca.cert);
  const der = createPrivateKey(ca.key).export({ format: "der", type: "pkcs8" });
  const caKey = await crypto.subtle.importKey("pkcs8", der, KEY_ALGORITHM, false, ["sign"]);
  const keys = await newKeys();
  const cert = await x509.X509CertificateGenerator.create({
    serialNumber: serial(),
    subject: `CN=${names.dns[0] ?? names.ips?.[0] ?? "kubernease"}`,
    issuer: caCert.subject,
    notBefore: new Date(nowMs - DAY_MS),
    notAfter: new Date(nowMs + validityDays * DAY_MS),
    publicKey: keys.publicKey as never,
    signingKey: caKey as never,
    signingAlgorithm: SIGNING,
    extensions: [
      new x509.BasicConstraintsExtension(false, undefined, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature | x509.KeyUsageFlags.keyEncipherment, true),
      new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.serverAuth]),
      new x509.SubjectAlternativeNameExtension([
        ...names.dns.map((value) => ({ type: "dns" as const, value })),
        ...(names.ips ?? []).map((value) => ({ type: "ip" as const, value })),
      ]),
      await x509.AuthorityKeyIdentifierExtension.create(caCert),
    ],
  });
  return { cert: `${cert.toString("pem")}\n`, key: await pemKey(keys.privateKey) };
}

/** The local CA of `dir` (`ca.crt`, `ca.key`), generated there on first use. */
export async function ensureLocalCa(dir: string, nowMs: number): Promise<CertificatePems & { certPath: string }> {
  const certPath = join(dir, "ca.crt");
  const keyPath = join(dir, "ca.key");
  if (!existsSync(certPath) || !existsSync(keyPath)) {
    await mkdir(dir, { recursive: true });
    const ca = await generateCa(nowMs);
    // The key first: a ca.crt without its key would be taken as complete by the next start.
    await writeFileAtomically(keyPath, ca.key, 0o600);
    await writeFileAtomically(certPath, ca.cert, 0o644);
  }
  return { cert: await readFile(certPath, "utf8"), key: await readFile(keyPath, "utf8"), certPath };
}

/** Temp file + rename, so a reader (HAProxy at reload) sees the old file or the new one, never half of one. */
export async function writeFileAtomically(path: string, text: string, mode: number): Promise<void> {
  const temp = `${path}.tmp-${process.pid}`;
  await writeFile(temp, text, { mode });
  await rename(temp, path);
}

/** Certificate (chain) then key in one PEM, as HAProxy's `crt` reads it. */
export function combinedPem(pems: CertificatePems): string {
  const line = (text: string) => (text.endsWith("\n") ? text : `${text}\n`);
  return `${line(pems.cert)}${line(pems.key)}`;
}

export type EnsureOutcome = "kept" | "issued";

/**
 * Makes `file` hold a certificate of `ca` for exactly `names`, with its key, valid for more
 * than RENEW_BEFORE_MS from `nowMs`: a file that does so is kept, anything else
 * (missing, unreadable, other names, another CA, near its end, key not matching) is issued again.
 */
export async function ensureCertificateFile(
  file: string,
  names: readonly string[],
  ca: CertificatePems,
  nowMs: number,
  validityDays = HOST_CERTIFICATE_DAYS,
): Promise<{ outcome: EnsureOutcome; notAfterMs: number }> {
  const existing = await readFile(file, "utf8").catch(() => null);
  const kept = existing === null ? null : usable(existing, names, ca, nowMs);
  if (kept !== null) return { outcome: "kept", notAfterMs: kept };
  const issued = await issueCertificate(ca, { dns: names }, nowMs, validityDays);
  await writeFileAtomically(file, combinedPem(issued), 0o600);
  return { outcome: "issued", notAfterMs: Date.parse(new X509Certificate(issued.cert).validTo) };
}

/** The end of validity of a combined PEM that still serves `names` for `ca`, or null when it must be issued again. */
function usable(pem: string, names: readonly string[], ca: CertificatePems, nowMs: number): number | null {
  try {
    const cert = new X509Certificate(pem);
    const notAfterMs = Date.parse(cert.validTo);
    const same = JSON.stringify(dnsNames(cert).sort()) === JSON.stringify(names.map((n) => n.toLowerCase()).sort());
    if (!same || !cert.checkIssued(new X509Certificate(ca.cert))) return null;
    if (!cert.verify(new X509Certificate(ca.cert).publicKey)) return null;
    const key = /-----BEGIN [A-Z ]*PRIVATE KEY-----[\s\S]+?-----END [A-Z ]*PRIVATE KEY-----/.exec(pem)?.[0];
    if (!key || !cert.checkPrivateKey(createPrivateKey(key))) return null;
    return notAfterMs - nowMs > RENEW_BEFORE_MS ? notAfterMs : null;
  } catch {
    return null;
  }
}

/**
 * The operator's certificate for the proxy's TLS listener (`serve --proxy-cert FILE`): one PEM file
 * holding the certificate (chain) and its key, as HAProxy reads it. Checked here, so a bad file stops
 * the start with a clear message: the names it covers, or why it cannot be served.
 */
export async function operatorCertificate(file: string, nowMs: number): Promise<{ file: string; names: string[] }> {
  const pem = await readFile(file, "utf8").catch((error: Error) => {
    throw new Error(`--proxy-cert ${file}: ${error.message}`);
  });
  const key = /-----BEGIN [A-Z ]*PRIVATE KEY-----[\s\S]+?-----END [A-Z ]*PRIVATE KEY-----/.exec(pem)?.[0];
  if (!key) throw new Error(`--proxy-cert ${file}: no private key in the file (certificate, then key, in one PEM)`);
  const problem = pairProblem({ cert: pem, key }, [], nowMs);
  if (problem) throw new Error(`--proxy-cert ${file}: ${problem}`);
  const cert = new X509Certificate(pem);
  const names = dnsNames(cert);
  if (names.length === 0) throw new Error(`--proxy-cert ${file}: the certificate names no DNS name (subjectAltName)`);
  return { file, names };
}
