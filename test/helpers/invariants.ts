import type { PodRecord, Store } from "../../src/db/types.js";

const WRITES = new Set([
  "createPod",
  "createPods",
  "markPodDeleting",
  "updatePodStatus",
  "updatePodStatuses",
  "deletePod",
  "bindPod",
  "bindPods",
]);

/**
 * Wraps a store so that `check` runs after every pod write the platform makes —
 * a checker beside the system, never steering it, that sees every state the
 * pods pass through rather than samples of them.
 */
export function checkedStore(store: Store, check: (pods: PodRecord[]) => void): Store {
  return new Proxy(store, {
    get(target, property, receiver) {
      const value = Reflect.get(target, property, receiver);
      if (typeof value !== "function") return value;
      if (!WRITES.has(String(property))) return value.bind(target);
      return async (...args: unknown[]) => {
        const result = await value.apply(target, args);
        check(await target.listPods({}));
        return result;
      };
    },
  });
}
