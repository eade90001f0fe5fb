import type { PodView } from "./types.js";

/**
 * A pod as controllers see it, for unit tests: a fresh, bound, not-yet-ready pod
 * unless the fields given say otherwise. (Used by tests only.)
 */
export function testPod(fields: Partial<PodView> & { id: string; name: string }): PodView {
  return {
    uid: fields.id,
    labels: {},
    templateHash: null,
    phase: "Pending",
    ready: false,
    bound: true,
    deleting: false,
    createdAt: 0,
    namedPorts: {},
    restartCount: 0,
    crashLooping: false,
    ...fields,
  };
}
