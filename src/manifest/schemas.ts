/** The strict schema of each supported kind, looked up by `kind` once kind and apiVersion are known good. */
import type { z } from "zod";
import { AppManifest } from "./app.js";
import { ConfigMapManifest } from "./configmap.js";
import { DaemonSetManifest } from "./daemonset.js";
import { DeploymentManifest } from "./deployment.js";
import { IngressManifest } from "./ingress.js";
import type { Manifest, SupportedKind } from "./kinds.js";
import { NamespaceManifest } from "./namespace.js";
import { PodDisruptionBudgetManifest } from "./pdb.js";
import { PodManifest } from "./pod-manifest.js";
import { PersistentVolumeClaimManifest } from "./pvc.js";
import { ReplicaSetManifest } from "./replicaset.js";
import { ReplicationControllerManifest } from "./replicationcontroller.js";
import { SecretManifest } from "./secret.js";
import { ServiceManifest } from "./service.js";
import { ServiceAccountManifest } from "./serviceaccount.js";
import { StatefulSetManifest } from "./statefulset.js";

export const KIND_SCHEMAS: { readonly [K in SupportedKind]: z.ZodType<Extract<Manifest, { kind: K }>> } = Object.freeze(
  {
    Deployment: DeploymentManifest,
    StatefulSet: StatefulSetManifest,
    DaemonSet: DaemonSetManifest,
    ReplicaSet: ReplicaSetManifest,
    ReplicationController: ReplicationControllerManifest,
    Pod: PodManifest,
    Service: ServiceManifest,
    Ingress: IngressManifest,
    PersistentVolumeClaim: PersistentVolumeClaimManifest,
    PodDisruptionBudget: PodDisruptionBudgetManifest,
    ConfigMap: ConfigMapManifest,
    Secret: SecretManifest,
    ServiceAccount: ServiceAccountManifest,
    Namespace: NamespaceManifest,
    App: AppManifest,
  },
);
