/**
 * The seam between the control plane and whatever runs containers. Small on
 * purpose, so that another runtime is one file: list nodes, start, stop and
 * observe pods, and report what changes. Every call is idempotent: starting a
 * pod that runs, or stopping one that is gone, does nothing.
 */
export type Json = Record<string, unknown>;

export interface ProviderNode {
  name: string;
  address: string;
  labels: Record<string, string>;
  cpuMillis: number;
  memoryBytes: number;
  maxPods: number;
  ready: boolean;
}

/** What a provider needs to run a pod. */
export interface PodRuntimeSpec {
  podId: string;
  uid: string;
  tenantId: string;
  namespace: string;
  name: string;
  nodeName: string;
  /** The Kubernetes pod spec. */
  spec: Json;
}

export interface ObservedContainer {
  name: string;
  image: string;
  ready: boolean;
  started: boolean;
  restartCount: number;
  state: Json;
}

/** What a provider sees of one pod it runs. */
export interface ObservedPod {
  podId: string;
  nodeName: string;
  phase: "Pending" | "Running" | "Succeeded" | "Failed" | "Unknown";
  ready: boolean;
  podIP?: string;
  startedAt?: number;
  reason?: string;
  message?: string;
  containers: ObservedContainer[];
}

export type ProviderEvent =
  | { type: "pod"; pod: ObservedPod }
  | { type: "podGone"; podId: string; nodeName: string }
  | { type: "node"; node: ProviderNode; atMs: number };

export interface NodeProvider {
  readonly name: string;
  listNodes(): Promise<ProviderNode[]>;
  startPod(pod: PodRuntimeSpec): Promise<void>;
  stopPod(nodeName: string, podId: string): Promise<void>;
  listPods(nodeName?: string): Promise<ObservedPod[]>;
  /** Observations as they happen; returns the unsubscribe function. */
  subscribe(listener: (event: ProviderEvent) => void): () => void;
  close(): Promise<void>;
}
