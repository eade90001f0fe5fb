import { bigint, boolean, integer, jsonb, pgTable, text } from "drizzle-orm/pg-core";
import { lifecycle } from "./lifecycle.js";

/**
 * Nodes belong to the platform, not to a tenant. `allocated_*` is the sum of the
 * requests of the pods bound to the node; it changes only through the
 * conditional updates of `bindPod` and `deletePod`.
 */
export const nodes = pgTable("nodes", {
  name: text("name").primaryKey(),
  provider: text("provider").notNull(),
  address: text("address").notNull(),
  labels: jsonb("labels").$type<Record<string, string>>().notNull(),
  cpuMillis: integer("cpu_millis").notNull(),
  memoryBytes: bigint("memory_bytes", { mode: "number" }).notNull(),
  maxPods: integer("max_pods").notNull(),
  allocatedCpuMillis: integer("allocated_cpu_millis").notNull().default(0),
  allocatedMemoryBytes: bigint("allocated_memory_bytes", { mode: "number" }).notNull().default(0),
  allocatedPods: integer("allocated_pods").notNull().default(0),
  ready: boolean("ready").notNull(),
  unschedulable: boolean("unschedulable").notNull(),
  lastHeartbeatAt: bigint("last_heartbeat_at", { mode: "number" }),
  ...lifecycle,
});
