/**
 * Checks of certificates the route table refers to: whether a tenant's
 * `kubernetes.io/tls` pair can be served for its hosts, and its fingerprint (so
 * a changed certificate changes the table without the table holding it).
 * Pure: Node's X.509 parser, no I/O, no clock.
 */
import { createPrivateKey, X509Certificate } from "node:crypto";

/** A certificate (or chain) and its private key, both PEM. */
export interface CertificatePems {
  cert: string;
  key: string;
}

/** The DNS names of a certificate's subjectAltName, as written (wildcards included). */
export function dnsNames(cert: X509Certificate): string[] {
  return (cert.subjectAltName ?? "")
    .split(/,\s*/)
    .filter((n) => n.startsWith("DNS:"))
    .map((n) => n.slice(4).toLowerCase());
}

/**
 * Whether `cert` names `host`: exactly, or by a wildcard of one label (`*.b.c` covers `a.b.c`).
 * A wildcard host is covered only by the same wildcard.
 */
export function namesCover(names: readonly string[], host: string): boolean {
  const wanted = host.toLowerCase();
  if (names.includes(wanted)) return true;
  if (wanted.startsWith("*.")) return false;
  const dot = wanted.indexOf(".");
  return dot > 0 && names.includes(`*${wanted.slice(dot)}`);
}

/**
 * Why a certificate + key pair cannot be served for `hosts` (at `nowMs`, when given: not expired,
 * already valid), or null when it can. No key material in the reason.
 */
export function pairProblem(pems: CertificatePems, hosts: readonly string[], nowMs?: number): string | null {
  let cert: X509Certificate;
  try {
    cert = new X509Certificate(pems.cert);
  } catch {
    return "tls.crt is not a PEM certificate";
  }
  let matches: boolean;
  try {
    matches = cert.checkPrivateKey(createPrivateKey(pems.key));
  } catch {
    return "tls.key is not a PEM private key";
  }
  if (!matches) return "tls.key does not match tls.crt";
  if (nowMs !== undefined && Date.parse(cert.validTo) <= nowMs) return `the certificate expired on ${cert.validTo}`;
  if (nowMs !== undefined && Date.parse(cert.validFrom) > nowMs) {
    return `the certificate is valid only from ${cert.validFrom}`;
  }
  const names = dnsNames(cert);
  const uncovered = hosts.filter((h) => !namesCover(names, h));
  if (uncovered.length > 0) return `the certificate does not name ${uncovered.join(", ")}`;
  return null;
}

/** The SHA-256 fingerprint of a PEM certificate (the first of a chain), as `AA:BB:…`. */
export function fingerprintOf(certPem: string): string {
  return new X509Certificate(certPem).fingerprint256;
}

export const TLS_SECRET_TYPE = "kubernetes.io/tls";

/** The pair a `kubernetes.io/tls` Secret holds (data as stored: base64), or why it holds none. */
export function secretPems(
  type: string,
  data: Readonly<Record<string, string>>,
): CertificatePems | { problem: string } {
  if (type !== TLS_SECRET_TYPE) return { problem: `the secret is of type ${type}, not ${TLS_SECRET_TYPE}` };
  const cert = data["tls.crt"];
  const key = data["tls.key"];
  if (cert === undefined || key === undefined) return { problem: "the secret lacks tls.crt or tls.key" };
  const text = (b64: string) => Buffer.from(b64, "base64").toString("utf8");
  return { cert: text(cert), key: text(key) };
}

/**
 * What the table says of a tenant's certificate for `hosts`: its fingerprint when it can be
 * served, else why the platform's certificate is served instead.
 */
export function checkTlsSecret(
  secret: { type: string; data: Readonly<Record<string, string>> } | undefined,
  hosts: readonly string[],
  nowMs?: number,
): { fingerprint: string } | { problem: string } {
  if (!secret) return { problem: "the secret was not found" };
  const pems = secretPems(secret.type, secret.data);
  if ("problem" in pems) return pems;
  const problem = pairProblem(pems, hosts, nowMs);
  return problem === null ? { fingerprint: fingerprintOf(pems.cert) } : { problem };
}
