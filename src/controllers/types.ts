import type { LabelSelector, Labels } from "../core/labels.js";

export type Json = Record<string, unknown>;

/** The owner stamped on every pod a controller creates. */
export interface OwnerRef {
  kind: string;
  name: string;
  uid: string;
}

/** A pod a controller wants created; the worker gives it its name, uid and id. */
export interface PodDraft {
  namespace: string;
  generateName: string;
  /** A fixed name (StatefulSet ordinals), instead of `generateName` plus a random suffix. */
  name?: string;
  labels: Labels;
  annotations: Record<string, string>;
  templateHash: string;
  spec: Json;
  cpuMillis: number;
  memoryBytes: number;
  owner: OwnerRef;
}

/** What controllers see of a pod. */
export interface PodView {
  id: string;
  name: string;
  labels: Labels;
  templateHash: string | null;
  phase: "Pending" | "Running" | "Succeeded" | "Failed" | "Unknown";
  ready: boolean;
  bound: boolean;
  deleting: boolean;
  createdAt: number;
  podIP?: string;
  /** Container ports by name, for resolving a Service's named targetPort. */
  namedPorts: Record<string, number>;
  uid: string;
  /** When the pod last turned Ready (for `minReadySeconds`); undefined while it is not ready. */
  readySinceMs?: number;
  /** Container restarts, summed. */
  restartCount: number;
  /** A container waits in CrashLoopBackOff. */
  crashLooping: boolean;
  /** Ready, but the managed proxy does not send it requests yet: not available (a rollout waits for it). */
  awaitingRotation?: boolean;
  /** Marked to move elsewhere (rebalancing): its owner replaces it first, then deletes it. */
  moving?: boolean;
  /** The node it is bound or pinned to: only node-aware controllers (DaemonSet) look; nothing of it reaches tenants. */
  nodeName?: string;
}

export interface PodTemplate {
  metadata?: { labels?: Labels; annotations?: Record<string, string> };
  spec: Json;
}

/** What controllers see of a ReplicaSet: one revision of a Deployment's template, or a bare one. */
export interface ReplicaSetView {
  /** ReplicaSet, or the legacy ReplicationController (equality selector) that behaves the same. */
  kind?: "ReplicaSet" | "ReplicationController";
  name: string;
  namespace: string;
  uid: string;
  generation: number;
  labels: Labels;
  annotations: Record<string, string>;
  createdAt: number;
  spec: { replicas?: number; selector: LabelSelector; template: PodTemplate; minReadySeconds?: number };
  status: Json;
}

/** A ReplicaSet a Deployment wants created. */
export interface ReplicaSetDraft {
  name: string;
  labels: Labels;
  annotations: Record<string, string>;
  spec: { replicas: number; selector: LabelSelector; template: PodTemplate; minReadySeconds: number };
  owner: OwnerRef;
}

export type Action =
  | { type: "createPod"; pod: PodDraft }
  | { type: "deletePod"; podId: string; reason: string }
  | { type: "updateStatus"; status: Json }
  | { type: "recordEvent"; eventType: "Normal" | "Warning"; reason: string; message: string }
  | { type: "setEndpoints"; subsets: EndpointSubset[] }
  | { type: "createReplicaSet"; replicaSet: ReplicaSetDraft }
  | { type: "scaleReplicaSet"; name: string; replicas: number; annotations?: Record<string, string> }
  | { type: "deleteReplicaSet"; name: string }
  | { type: "rollback"; toRevision: number; template: PodTemplate }
  | { type: "requeue"; afterMs: number }
  | { type: "createClaim"; claim: ClaimDraft }
  | { type: "deleteClaim"; name: string };

/** A PersistentVolumeClaim a StatefulSet wants for one ordinal. */
export interface ClaimDraft {
  name: string;
  labels: Labels;
  annotations: Record<string, string>;
  spec: Json;
  /** Set when the claim goes with its owner (retention policy `Delete`). */
  owner?: OwnerRef;
}

export interface ClaimTemplate {
  metadata: { name: string; labels?: Labels; annotations?: Record<string, string> };
  spec: Json;
}

export interface DaemonSetView {
  name: string;
  namespace: string;
  uid: string;
  generation: number;
  spec: {
    selector: LabelSelector;
    template: PodTemplate;
    updateStrategy?: { type?: "RollingUpdate" | "OnDelete"; rollingUpdate?: { maxUnavailable?: number | string } };
    minReadySeconds?: number;
  };
  status: Json;
}

/** What a DaemonSet sees of a node. */
export interface DaemonNode {
  name: string;
  labels: Labels;
  ready: boolean;
}

export interface StatefulSetView {
  name: string;
  namespace: string;
  uid: string;
  generation: number;
  spec: {
    replicas?: number;
    selector: LabelSelector;
    template: PodTemplate;
    serviceName?: string;
    volumeClaimTemplates?: ClaimTemplate[];
    podManagementPolicy?: "OrderedReady" | "Parallel";
    updateStrategy?: { type?: "RollingUpdate" | "OnDelete"; rollingUpdate?: { partition?: number } };
    ordinals?: { start?: number };
    persistentVolumeClaimRetentionPolicy?: { whenDeleted?: "Retain" | "Delete"; whenScaled?: "Retain" | "Delete" };
    minReadySeconds?: number;
  };
  status: Json;
}

export interface EndpointAddress {
  ip: string;
  targetRef: { kind: "Pod"; name: string; uid: string };
}

export interface EndpointPort {
  name?: string;
  port: number;
  protocol: string;
}

export interface EndpointSubset {
  addresses: EndpointAddress[];
  notReadyAddresses: EndpointAddress[];
  ports: EndpointPort[];
}

export interface DeploymentView {
  name: string;
  namespace: string;
  uid: string;
  generation: number;
  annotations: Record<string, string>;
  spec: {
    replicas?: number;
    selector: LabelSelector;
    template: PodTemplate;
    strategy?: {
      type?: "RollingUpdate" | "Recreate";
      rollingUpdate?: { maxSurge?: number | string; maxUnavailable?: number | string };
    };
    paused?: boolean;
    minReadySeconds?: number;
    progressDeadlineSeconds?: number;
    revisionHistoryLimit?: number;
  };
  status: Json;
}

export interface ServiceView {
  name: string;
  namespace: string;
  spec: {
    selector?: Labels;
    ports?: { name?: string; port: number; targetPort?: number | string; protocol?: string }[];
  };
}
