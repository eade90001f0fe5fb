import { bigint, pgTable, text } from "drizzle-orm/pg-core";
import { createdAt } from "./lifecycle.js";

/**
 * The transactional outbox: a job to enqueue is written in the same transaction
 * as the state change that calls for it, and a relay moves rows to the queue,
 * so a crash between the two can neither lose nor invent work.
 */
export const outbox = pgTable("outbox", {
  id: bigint("id", { mode: "number" }).primaryKey().generatedAlwaysAsIdentity(),
  queue: text("queue").notNull(),
  key: text("key").notNull(),
  createdAt,
});
