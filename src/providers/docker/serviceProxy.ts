/**
 * The Service proxy's container: Debian's HAProxy, copied with the shared libraries it links from
 * this machine into an image built on each Engine on first use (`docker import`, no registry), run
 * on the tenant's network with the Service's DNS names as network aliases. Its configuration and
 * its command sockets live in a folder of this machine mounted at `/run/kubernease`
 * (src/jobs/serviceProxies.ts writes and drives them).
 */
import { execFile } from "node:child_process";
import { createHash } from "node:crypto";
import { mkdirSync, readFileSync } from "node:fs";
import { promisify } from "node:util";
import type { Json, ServiceRef } from "../types.js";
import { type TarEntry, tarOf } from "./pause.js";
import { LABELS } from "./spec.js";

const run = promisify(execFile);

/** Where the proxy's folder is mounted inside it. */
export const PROXY_RUN_DIR = "/run/kubernease";
export const PROXY_ROLE = "service-proxy";
export const PROXY_SERVICE_LABEL = "kubernease.service";

/** The names a Service answers to on its tenant's network; pods look up the short name through their DNS search list. */
export function serviceAliases(service: ServiceRef): string[] {
  const base = `${service.name}.${service.namespace}`;
  return [base, `${base}.svc`, `${base}.svc.cluster.local`];
}

export const serviceKey = (service: ServiceRef) => `${service.namespace}/${service.name}`;

/** The proxy container's name: unique per owner, tenant and Service, within Docker's name rules. */
export function proxyContainerName(owner: string, tenantId: string, service: ServiceRef): string {
  const hash = createHash("sha256")
    .update(`${owner}/${tenantId}/${serviceKey(service)}`)
    .digest("hex")
    .slice(0, 16);
  return `kn-svc-${hash}`;
}

/** A proxy's folder name under the base folder: short, as a unix socket's path is at most 107 bytes. */
export function proxyDirName(owner: string, nodeName: string, tenantId: string, service: ServiceRef): string {
  return createHash("sha256")
    .update(`${owner}/${nodeName}/${tenantId}/${serviceKey(service)}`)
    .digest("hex")
    .slice(0, 16);
}

/** The folder, made when missing, readable by its owner only. */
export function ensureDir(dir: string): string {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  return dir;
}

export interface ProxyImage {
  name: string;
  tar: Buffer;
}

/**
 * The proxy image from the `haproxy` binary on this machine and the libraries `ldd` lists for it;
 * named by a hash of their contents, so a new HAProxy makes a new image.
 */
export async function buildProxyImage(binary: string): Promise<ProxyImage> {
  const { stdout } = await run("ldd", [binary]);
  const libraries = [...stdout.matchAll(/(\/\S+)/g)].map((m) => m[1] as string);
  const entries: TarEntry[] = [binary, ...new Set(libraries)].map((path) => ({
    path,
    content: readFileSync(path),
    mode: 0o755,
  }));
  // Mount points: the folder of the proxy's config and sockets, and /tmp.
  entries.push({ path: `${PROXY_RUN_DIR.slice(1)}/.keep`, content: "" }, { path: "tmp/.keep", content: "" });
  const hash = createHash("sha256");
  for (const entry of entries) hash.update(entry.path).update(entry.content);
  return { name: `kubernease/service-proxy:${hash.digest("hex").slice(0, 12)}`, tar: tarOf(entries) };
}

export interface ProxyContainerOptions {
  image: string;
  binary: string;
  owner: string;
  tenantId: string;
  service: ServiceRef;
  /** The folder on this machine mounted at PROXY_RUN_DIR. */
  dir: string;
  /** The tenant's network on the node. */
  network: string;
}

/**
 * HAProxy in master-worker mode in the foreground, its master socket in the mounted folder so a
 * reload keeps its listening sockets. Locked down as a tenant's pod is, and more: every capability
 * dropped but binding low ports, a read-only root, a small memory, CPU and pids budget (its config
 * runs one thread, `nbthread 1`). It restarts with
 * the Engine or when it dies: it is the Service's address.
 */
export function proxyCreateOptions(options: ProxyContainerOptions): Json {
  const { service } = options;
  const { network } = options;
  return {
    name: proxyContainerName(options.owner, options.tenantId, service),
    Image: options.image,
    Entrypoint: [options.binary],
    Cmd: ["-W", "-db", "-S", `${PROXY_RUN_DIR}/master.sock`, "-f", `${PROXY_RUN_DIR}/haproxy.cfg`],
    Labels: {
      [LABELS.owner]: options.owner,
      [LABELS.tenant]: options.tenantId,
      [LABELS.role]: PROXY_ROLE,
      [LABELS.namespace]: service.namespace,
      [PROXY_SERVICE_LABEL]: service.name,
    },
    HostConfig: {
      NetworkMode: network,
      Binds: [`${options.dir}:${PROXY_RUN_DIR}`],
      RestartPolicy: { Name: "unless-stopped" },
      CapDrop: ["ALL"],
      CapAdd: ["NET_BIND_SERVICE"],
      SecurityOpt: ["no-new-privileges"],
      PidsLimit: 64,
      Memory: 128 * 2 ** 20,
      NanoCpus: 1e9,
      ReadonlyRootfs: true,
    },
    NetworkingConfig: { EndpointsConfig: { [network]: { Aliases: serviceAliases(service) } } },
  };
}
