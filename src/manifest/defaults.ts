/**
 * Kubernetes' defaults (the `SetDefaults_*` functions of k8s.io/api), applied
 * after validation so that stored desired state is explicit and controllers
 * never guess. Pure and idempotent: defaulting a defaulted manifest changes
 * nothing, and the input is never mutated. Each kind's defaults live with its
 * schema; pod defaults, shared by every workload, in pod-defaults.ts.
 */
import { defaultApp } from "./app.js";
import { defaultDaemonSet } from "./daemonset.js";
import { defaultDeployment } from "./deployment.js";
import type { Manifest } from "./kinds.js";
import { defaultNamespace } from "./namespace.js";
import { defaultPod } from "./pod-manifest.js";
import { defaultPersistentVolumeClaim } from "./pvc.js";
import { defaultReplicaSet } from "./replicaset.js";
import { defaultReplicationController } from "./replicationcontroller.js";
import { defaultSecret } from "./secret.js";
import { defaultService } from "./service.js";
import { defaultStatefulSet } from "./statefulset.js";

export { defaultPodSpec, defaultPullPolicy } from "./pod-defaults.js";

export function applyDefaults(manifest: Manifest): Manifest {
  switch (manifest.kind) {
    case "Deployment":
      return defaultDeployment(manifest);
    case "StatefulSet":
      return defaultStatefulSet(manifest);
    case "DaemonSet":
      return defaultDaemonSet(manifest);
    case "ReplicaSet":
      return defaultReplicaSet(manifest);
    case "ReplicationController":
      return defaultReplicationController(manifest);
    case "Pod":
      return defaultPod(manifest);
    case "Service":
      return defaultService(manifest);
    case "PersistentVolumeClaim":
      return defaultPersistentVolumeClaim(manifest);
    case "Secret":
      return defaultSecret(manifest);
    case "Namespace":
      return defaultNamespace(manifest);
    case "App":
      return defaultApp(manifest);
    // Kubernetes defines no defaults for these.
    case "Ingress":
    case "PodDisruptionBudget":
    case "ConfigMap":
    case "ServiceAccount":
      return manifest;
  }
}
