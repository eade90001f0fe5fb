import { podRequests } from "../manifest/index.js";
import type { OwnerRef, PodDraft, PodTemplate } from "./types.js";

/** A pod of a template, owned by the controller that made it. */
export function podDraft(
  owner: OwnerRef,
  namespace: string,
  template: PodTemplate,
  generateName: string,
  templateHash: string,
): PodDraft {
  const requests = podRequests(template.spec as Parameters<typeof podRequests>[0]);
  return {
    namespace,
    generateName,
    labels: { ...(template.metadata?.labels ?? {}) },
    annotations: { ...(template.metadata?.annotations ?? {}) },
    templateHash,
    spec: template.spec,
    cpuMillis: requests.cpuMillis,
    memoryBytes: requests.memoryBytes,
    owner,
  };
}
