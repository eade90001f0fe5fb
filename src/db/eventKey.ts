import { createHash } from "node:crypto";
import type { NewEvent } from "./types.js";

/**
 * What makes two events "the same" for de-duplication: the same involved object
 * (by uid, so a re-created object starts a fresh series), type, reason and
 * message, in one tenant and namespace. Hashed so that long messages stay out of
 * the unique index. Both stores use this one function, so they agree.
 */
export function eventDedupeKey(event: NewEvent): string {
  const parts = [event.tenantId, event.namespace, event.involvedUid, event.type, event.reason, event.message];
  return createHash("sha256").update(JSON.stringify(parts)).digest("hex");
}
