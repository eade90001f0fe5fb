import { relations } from "drizzle-orm";
import { bigint, index, integer, pgTable, text } from "drizzle-orm/pg-core";
import type { EventType } from "../types.js";
import { tenants } from "./tenants.js";

export const events = pgTable(
  "events",
  {
    id: text("id").primaryKey(),
    tenantId: text("tenant_id").notNull(),
    namespace: text("namespace").notNull(),
    involvedKind: text("involved_kind").notNull(),
    involvedName: text("involved_name").notNull(),
    involvedUid: text("involved_uid").notNull(),
    type: text("type").$type<EventType>().notNull(),
    reason: text("reason").notNull(),
    message: text("message").notNull(),
    /**
     * A digest of what makes two events "the same" (tenant, namespace, involved
     * uid, type, reason, message). A unique digest lets recording be one
     * race-free upsert, and keeps long messages out of the index.
     */
    dedupeKey: text("dedupe_key").notNull().unique("events_dedupe_key_unique"),
    count: integer("count").notNull(),
    firstSeenAt: bigint("first_seen_at", { mode: "number" }).notNull(),
    lastSeenAt: bigint("last_seen_at", { mode: "number" }).notNull(),
  },
  (t) => [index("events_namespace_idx").on(t.tenantId, t.namespace)],
);

export const eventsRelations = relations(events, ({ one }) => ({
  tenant: one(tenants, { fields: [events.tenantId], references: [tenants.id] }),
}));
