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
}

export type ResolvedConfig =
  | { ok: true; env: Record<string, Record<string, string>>; files: Record<string, Record<string, string>> }
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

/** The names of the ConfigMaps and Secrets a pod spec refers to, so the caller loads just those. */
export function configReferences(spec: Json): { configMaps: Set<string>; secrets: Set<string> } {
  const configMaps = new Set<string>();
  const secrets = new Set<string>();
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
  return { configMaps, secrets };
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
    return { ok: true, env, files };
  } catch (error) {
    if (error instanceof Missing) return { ok: false, reason: "CreateContainerConfigError", message: error.message };
    throw error;
  }
}
