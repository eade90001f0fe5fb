/**
 * `serve --proxy-tls … --proxy-cert FILE`: the operator's certificate (here a wildcard for the tenants'
 * domain from a CA of the operator's own) is what HTTPS clients of the hosts it names get, instead of a
 * certificate of the platform CA; hosts it does not name keep the platform's.
 */
import { execFile } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, expect, it } from "vitest";
import { combinedPem, generateCa, issueCertificate, operatorCertificate } from "../../src/jobs/haproxy/certs.js";
import { describeHaproxy, freePort, isHaproxyAvailable } from "../helpers/haproxy.js";
import { httpsClient, type Served, serve } from "../helpers/serve.js";

const run = promisify(execFile);
const haproxy = await isHaproxyAvailable();

describeHaproxy("serve with the operator's certificate on the proxy", haproxy, () => {
  const root = mkdtempSync(join(tmpdir(), "kn-opcert-"));
  let served: Served | undefined;

  afterAll(async () => {
    await served?.stop();
    rmSync(root, { recursive: true, force: true });
  });

  it("refuses a file that is not a certificate with its key, or one out of its validity, naming why", async () => {
    const ca = await generateCa(Date.now());
    const file = join(root, "nokey.pem");
    writeFileSync(file, ca.cert);
    await expect(operatorCertificate(file, Date.now())).rejects.toThrow(/no private key/);
    const other = await generateCa(Date.now());
    writeFileSync(file, `${ca.cert}${other.key}`);
    await expect(operatorCertificate(file, Date.now())).rejects.toThrow(/tls.key does not match tls.crt/);
    const old = await issueCertificate(ca, { dns: ["*.apps.test"] }, Date.now() - 40 * 86_400_000, 30);
    writeFileSync(file, combinedPem(old));
    await expect(operatorCertificate(file, Date.now())).rejects.toThrow(/expired/);
    await expect(operatorCertificate(file, Date.now() - 20 * 86_400_000)).resolves.toEqual({
      file,
      names: ["*.apps.test"],
    });
  });

  it("serves it for the hosts it names, and the platform's for the others", async () => {
    const now = Date.now();
    const operatorCa = await generateCa(now);
    writeFileSync(join(root, "operator-ca.crt"), operatorCa.cert);
    const wildcard = await issueCertificate(operatorCa, { dns: ["*.default.apps.test"] }, now, 30);
    writeFileSync(join(root, "wildcard.pem"), combinedPem(wildcard));
    const [port, tlsPort] = [await freePort(), await freePort()];
    served = await serve(join(root, "data"), {}, 60_000, [
      ...["--base-domain", "apps.test", "--proxy", `127.0.0.1:${port}`, "--proxy-tls", `127.0.0.1:${tlsPort}`],
      ...["--proxy-cert", join(root, "wildcard.pem")],
    ]);
    const api = httpsClient(served.url, served.caPath, served.tenantKey as string, async () => []);
    const ingress = (name: string, host: string) => `apiVersion: networking.k8s.io/v1
kind: Ingress
metadata: { name: ${name} }
spec:
  rules: [{ host: ${host}, http: { paths: [{ path: /, pathType: Prefix, backend: { service: { name: web, port: { number: 80 } } } }] } }]
`;
    expect((await api.call("POST", "/v1/apply", ingress("covered", "web.default.apps.test"))).status).toBe(200);
    expect((await api.call("POST", "/v1/apply", ingress("own", "default.apps.test"))).status).toBe(200);
    await api.close();
    /** The HTTP status over HTTPS for `host`, trusting only `ca`; curl fails when the chain does not verify. */
    const status = async (host: string, ca: string) => {
      const { stdout } = await run("curl", [
        ...["-sS", "-o", "/dev/null", "-w", "%{http_code}", "--max-time", "10", "--cacert", ca],
        ...["--resolve", `${host}:${tlsPort}:127.0.0.1`, `https://${host}:${tlsPort}/`],
      ]);
      return stdout;
    };
    // `default.apps.test` is not under the wildcard: the platform CA issues its certificate, once the table is published.
    const deadline = Date.now() + 30_000;
    for (;;) {
      const got = await status("default.apps.test", served.caPath).catch(() => "");
      if (got === "503") break;
      if (Date.now() > deadline)
        throw new Error(`default.apps.test never answered 503 over the platform's certificate: ${got}`);
      await new Promise((r) => setTimeout(r, 200));
    }
    // Published: the host under the wildcard is routed (503: no pod behind it) with the operator's certificate only.
    await expect(status("web.default.apps.test", join(root, "operator-ca.crt"))).resolves.toBe("503");
    await expect(status("web.default.apps.test", served.caPath)).rejects.toThrow();
  }, 120_000);
});
