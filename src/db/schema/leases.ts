import { bigint, pgTable, text } from "drizzle-orm/pg-core";

/**
 * Leases for singleton duties (the outbox relay, the periodic resync, the node
 * monitor, probing, routing): one holder at a time, until `expiresAt`. A holder
 * renews well before then; a killed holder's lease expires and another process
 * takes it. Taking and renewing are one conditional upsert each.
 */
export const leases = pgTable("leases", {
  name: text("name").primaryKey(),
  holder: text("holder").notNull(),
  expiresAt: bigint("expires_at", { mode: "number" }).notNull(),
  /** Bumped each time the lease changes hands: a term number, for logs and fencing. */
  term: bigint("term", { mode: "number" }).notNull(),
});
