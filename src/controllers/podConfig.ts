import type { Json } from "./types.js";

/**
 * Resolves what a pod takes from ConfigMaps and Secrets — environment
 * variables (`env[].valueFrom`, `envFrom`) and files (configMap and secret
 * volumes) — as the kubelet does before it starts containers. Pure: the data
 * comes in as maps. A missing object or key that is not optional stops the pod
 * with `CreateContainerConfigError`, naming what is missing.
 */
export interface ConfigSources {
  configMaps: Map<string, Record<string, string>>;
  /** Secret data as stored: base64. */
  secrets: Map<string, Record<string, string>>;
  /** The Secrets named by `imagePullSecrets`, with their type; data as stored (base64). */
  pullSecrets?: Map<string, { type: string; data: Record<string, string> }>;
}

/** Credentials for one registry, named as image names spell it (`127.0.0.1:5001`, `docker.io`). */
export interface RegistryCredential {
  registry: string;
  username: string;
  password: string;
}

export type ResolvedConfig =
  | {
      ok: true;
      env: Record<string, Record<string, string>>;
      files: Record<string, Record<string, string>>;
      /** From `imagePullSecrets`, in their order. */
      registryAuth: RegistryCredential[];
      /**
       * Pull secrets that are missing or unusable. As in Kubernetes the pod starts anyway, without
       * them: a pull that needed them then fails, and says why.
       */
      pullSecretProblems: string[];
    }
  | { ok: false; reason: "CreateContainerConfigError"; message: string };

interface KeyRef {
  name?: string;
  key: string;
  optional?: boolean;
}
interface EnvVar {
  name: string;
  value?: string;
  valueFrom?: { configMapKeyRef?: KeyRef; secretKeyRef?: KeyRef; fieldRef?: { fieldPath: string } };
}
interface EnvFrom {
  prefix?: string;
  configMapRef?: { name?: string; optional?: boolean };
  secretRef?: { name?: string; optional?: boolean };
}
interface Container {
  name: string;
  env?: EnvVar[];
  envFrom?: EnvFrom[];
}
interface Volume {
  name: string;
  configMap?: { name?: string; items?: { key: string; path: string }[]; optional?: boolean };
  secret?: { secretName?: string; items?: { key: string; path: string }[]; optional?: boolean };
}

class Missing extends Error {}

const decode = (base64: string) => atob(base64);

function source(sources: ConfigSources, kind: "ConfigMap" | "Secret", name: string | undefined, optional = false) {
  const map = kind === "ConfigMap" ? sources.configMaps : sources.secrets;
  const data = map.get(name ?? "");
  if (!data && !optional) throw new Missing(`${kind.toLowerCase()} "${name}" not found`);
  if (!data) return undefined;
  return kind === "Secret" ? Object.fromEntries(Object.entries(data).map(([k, v]) => [k, decode(v)])) : data;
}

function keyOf(sources: ConfigSources, kind: "ConfigMap" | "Secret", ref: KeyRef): string | undefined {
  const data = source(sources, kind, ref.name, ref.optional);
  if (!data) return undefined;
  if (!(ref.key in data) && !ref.optional) throw new Missing(`couldn't find key ${ref.key} in ${kind} ${ref.name}`);
  return data[ref.key];
}

function envOf(container: Container, sources: ConfigSources, pod: { name: string; namespace: string; uid: string }) {
  const env: Record<string, string> = {};
  for (const from of container.envFrom ?? []) {
    const data = from.configMapRef
      ? source(sources, "ConfigMap", from.configMapRef.name, from.configMapRef.optional)
      : source(sources, "Secret", from.secretRef?.name, from.secretRef?.optional);
    for (const [k, v] of Object.entries(data ?? {})) env[`${from.prefix ?? ""}${k}`] = v;
  }
  const fields: Record<string, string> = {
    "metadata.name": pod.name,
    "metadata.namespace": pod.namespace,
    "metadata.uid": pod.uid,
  };
  for (const v of container.env ?? []) {
    const from = v.valueFrom;
    const value = from?.configMapKeyRef
      ? keyOf(sources, "ConfigMap", from.configMapKeyRef)
      : from?.secretKeyRef
        ? keyOf(sources, "Secret", from.secretKeyRef)
        : from?.fieldRef
          ? fields[from.fieldRef.fieldPath]
          : v.value;
    if (value !== undefined) env[v.name] = value;
  }
  return env;
}

function filesOf(volume: Volume, sources: ConfigSources): Record<string, string> | undefined {
  const ref = volume.configMap ?? volume.secret;
  if (!ref) return undefined;
  const data = volume.configMap
    ? source(sources, "ConfigMap", volume.configMap.name, volume.configMap.optional)
    : source(sources, "Secret", volume.secret?.secretName, volume.secret?.optional);
  if (!data) return {};
  if (!ref.items) return { ...data };
  const files: Record<string, string> = {};
  for (const item of ref.items) {
    if (!(item.key in data)) {
      if (ref.optional) continue;
      throw new Missing(`couldn't find key ${item.key} for volume ${volume.name}`);
    }
    files[item.path] = data[item.key] as string;
  }
  return files;
}

/**
 * The names of the ConfigMaps and Secrets a pod spec refers to, so the caller loads just those;
 * `pullSecrets` are the Secrets of `imagePullSecrets`, whose type matters too.
 */
export function configReferences(spec: Json): {
  configMaps: Set<string>;
  secrets: Set<string>;
  pullSecrets: Set<string>;
} {
  const configMaps = new Set<string>();
  const secrets = new Set<string>();
  const pullSecrets = new Set(pullSecretNames(spec));
  for (const c of [...((spec.initContainers as Container[]) ?? []), ...((spec.containers as Container[]) ?? [])]) {
    for (const from of c.envFrom ?? []) {
      if (from.configMapRef?.name) configMaps.add(from.configMapRef.name);
      if (from.secretRef?.name) secrets.add(from.secretRef.name);
    }
    for (const v of c.env ?? []) {
      if (v.valueFrom?.configMapKeyRef?.name) configMaps.add(v.valueFrom.configMapKeyRef.name);
      if (v.valueFrom?.secretKeyRef?.name) secrets.add(v.valueFrom.secretKeyRef.name);
    }
  }
  for (const v of (spec.volumes as Volume[]) ?? []) {
    if (v.configMap?.name) configMaps.add(v.configMap.name);
    if (v.secret?.secretName) secrets.add(v.secret.secretName);
  }
  return { configMaps, secrets, pullSecrets };
}

export function resolvePodConfig(
  spec: Json,
  pod: { name: string; namespace: string; uid: string },
  sources: ConfigSources,
): ResolvedConfig {
  try {
    const env: Record<string, Record<string, string>> = {};
    for (const c of [...((spec.initContainers as Container[]) ?? []), ...((spec.containers as Container[]) ?? [])]) {
      env[c.name] = envOf(c, sources, pod);
    }
    const files: Record<string, Record<string, string>> = {};
    for (const volume of (spec.volumes as Volume[]) ?? []) {
      const content = filesOf(volume, sources);
      if (content) files[volume.name] = content;
    }
    return { ok: true, env, files, ...registryAuthOf(spec, sources) };
  } catch (error) {
    if (error instanceof Missing) return { ok: false, reason: "CreateContainerConfigError", message: error.message };
    throw error;
  }
}

function pullSecretNames(spec: Json): string[] {
  const refs = (spec.imagePullSecrets as { name?: string }[] | undefined) ?? [];
  return refs.map((r) => r.name ?? "").filter((name) => name !== "");
}

/** The secret types that hold registry credentials, and the key that holds them. */
const DOCKER_CONFIG_KEYS: Record<string, string> = {
  "kubernetes.io/dockerconfigjson": ".dockerconfigjson",
  "kubernetes.io/dockercfg": ".dockercfg",
};

/**
 * The registry credentials of a pod's `imagePullSecrets`, as the kubelet reads them: a
 * `kubernetes.io/dockerconfigjson` Secret holds `{"auths": {registry: entry}}` under
 * `.dockerconfigjson`, a `kubernetes.io/dockercfg` one `{registry: entry}` under `.dockercfg`; an
 * entry has `username` and `password`, or `auth` (base64 of `username:password`). A Secret that is
 * missing, of another type or unreadable is left out and named in `pullSecretProblems`.
 */
export function registryAuthOf(
  spec: Json,
  sources: ConfigSources,
): { registryAuth: RegistryCredential[]; pullSecretProblems: string[] } {
  const registryAuth: RegistryCredential[] = [];
  const pullSecretProblems: string[] = [];
  for (const name of pullSecretNames(spec)) {
    const secret = sources.pullSecrets?.get(name);
    const key = secret ? DOCKER_CONFIG_KEYS[secret.type] : undefined;
    if (!secret) {
      pullSecretProblems.push(`secret "${name}" not found`);
    } else if (!key) {
      const types = Object.keys(DOCKER_CONFIG_KEYS).join(" or ");
      pullSecretProblems.push(`secret "${name}" is of type ${secret.type}, not ${types}`);
    } else {
      const entries = dockerConfigEntries(secret.data[key], key === ".dockerconfigjson");
      if (entries) registryAuth.push(...entries);
      else pullSecretProblems.push(`secret "${name}": ${key} is not a docker config with credentials`);
    }
  }
  return { registryAuth, pullSecretProblems };
}

/** The credentials in one docker config (base64 as stored), or undefined when it is not one. */
function dockerConfigEntries(base64: string | undefined, nested: boolean): RegistryCredential[] | undefined {
  let parsed: unknown;
  try {
    parsed = JSON.parse(new TextDecoder().decode(Uint8Array.from(atob(base64 ?? ""), (c) => c.charCodeAt(0))));
  } catch {
    return undefined;
  }
  const auths = nested ? (parsed as { auths?: unknown } | null)?.auths : parsed;
  if (!auths || typeof auths !== "object" || Array.isArray(auths)) return undefined;
  const credentials: RegistryCredential[] = [];
  for (const [registry, entry] of Object.entries(auths as Record<string, unknown>)) {
    const credential = credentialOf(registry, entry);
    if (credential) credentials.push(credential);
  }
  return credentials;
}

function credentialOf(registry: string, entry: unknown): RegistryCredential | undefined {
  if (!entry || typeof entry !== "object") return undefined;
  const { username, password, auth } = entry as { username?: unknown; password?: unknown; auth?: unknown };
  if (typeof username === "string" && typeof password === "string") {
    return { registry: registryHost(registry), username, password };
  }
  if (typeof auth !== "string") return undefined;
  let decoded: string;
  try {
    decoded = atob(auth);
  } catch {
    return undefined;
  }
  const colon = decoded.indexOf(":");
  if (colon < 0) return undefined;
  return { registry: registryHost(registry), username: decoded.slice(0, colon), password: decoded.slice(colon + 1) };
}

/**
 * A docker config's registry key as image names spell the registry: without scheme and path
 * (`https://127.0.0.1:5001/v1/` is `127.0.0.1:5001`), Docker Hub's many names as `docker.io`.
 */
export function registryHost(key: string): string {
  const host = key.replace(/^[a-z]+:\/\//i, "").split("/")[0] ?? "";
  const hub = ["index.docker.io", "registry-1.docker.io", "registry.hub.docker.com", "docker.io"];
  return hub.includes(host.toLowerCase()) ? "docker.io" : host;
}
