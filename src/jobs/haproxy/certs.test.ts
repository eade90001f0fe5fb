import { X509Certificate } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { pairProblem } from "../../routing/certificates.js";
import {
  combinedPem,
  DAY_MS,
  ensureCertificateFile,
  ensureLocalCa,
  generateCa,
  HOST_CERTIFICATE_DAYS,
  issueCertificate,
} from "./certs.js";

const NOW = Date.UTC(2026, 0, 1);

describe("platform certificates", () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), "kn-certs-"));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it("issues a certificate the CA signed, for the names asked (wildcards included), with a matching key", async () => {
    const ca = await generateCa(NOW);
    const issued = await issueCertificate(ca, { dns: ["*.acme.apps.test"] }, NOW, 90);
    const cert = new X509Certificate(issued.cert);
    expect(cert.checkIssued(new X509Certificate(ca.cert))).toBe(true);
    expect(cert.verify(new X509Certificate(ca.cert).publicKey)).toBe(true);
    expect(cert.subjectAltName).toBe("DNS:*.acme.apps.test");
    expect(Date.parse(cert.validTo) - NOW).toBe(90 * DAY_MS);
    expect(pairProblem(issued, ["web.acme.apps.test", "*.acme.apps.test"])).toBeNull();
    expect(pairProblem(issued, ["a.b.acme.apps.test"])).toBe("the certificate does not name a.b.acme.apps.test");
  });

  it("keeps a file that still serves, issues again when near its end, for other names, or from another CA", async () => {
    const ca = await generateCa(NOW);
    const file = join(dir, "host.pem");
    expect((await ensureCertificateFile(file, ["a.test"], ca, NOW)).outcome).toBe("issued");
    expect(statSync(file).mode & 0o777).toBe(0o600);
    const first = readFileSync(file, "utf8");
    expect(first).toContain("PRIVATE KEY");
    // 31 days before the end: kept; 29 days before: issued again.
    const late = NOW + (HOST_CERTIFICATE_DAYS - 31) * DAY_MS;
    expect((await ensureCertificateFile(file, ["a.test"], ca, late)).outcome).toBe("kept");
    expect(readFileSync(file, "utf8")).toBe(first);
    const later = NOW + (HOST_CERTIFICATE_DAYS - 29) * DAY_MS;
    expect((await ensureCertificateFile(file, ["a.test"], ca, later)).outcome).toBe("issued");
    expect(readFileSync(file, "utf8")).not.toBe(first);
    expect((await ensureCertificateFile(file, ["b.test"], ca, later)).outcome).toBe("issued");
    const otherCa = await generateCa(NOW);
    expect((await ensureCertificateFile(file, ["b.test"], otherCa, later)).outcome).toBe("issued");
    expect((await ensureCertificateFile(file, ["b.test"], otherCa, later)).outcome).toBe("kept");
  });

  it("issues again a file whose key does not match its certificate, or that is not a certificate", async () => {
    const ca = await generateCa(NOW);
    const file = join(dir, "host.pem");
    const a = await issueCertificate(ca, { dns: ["a.test"] }, NOW, 90);
    const b = await issueCertificate(ca, { dns: ["a.test"] }, NOW, 90);
    writeFileSync(file, combinedPem({ cert: a.cert, key: b.key }));
    expect((await ensureCertificateFile(file, ["a.test"], ca, NOW)).outcome).toBe("issued");
    writeFileSync(file, "garbage");
    expect((await ensureCertificateFile(file, ["a.test"], ca, NOW)).outcome).toBe("issued");
    expect((await ensureCertificateFile(file, ["a.test"], ca, NOW)).outcome).toBe("kept");
  });

  it("creates the local CA once, its key readable by the owner only, and reuses it", async () => {
    const first = await ensureLocalCa(dir, NOW);
    expect(statSync(join(dir, "ca.key")).mode & 0o077).toBe(0);
    const again = await ensureLocalCa(dir, NOW);
    expect(again).toEqual(first);
    expect(first.certPath).toBe(join(dir, "ca.crt"));
  });
});
