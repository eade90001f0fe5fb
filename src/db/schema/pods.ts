import { relations } from "drizzle-orm";
import { bigint, boolean, index, integer, jsonb, pgTable, text, unique } from "drizzle-orm/pg-core";
import type { Json, PodPhase } from "../types.js";
import { lifecycle, resourceVersion } from "./lifecycle.js";
import { nodes } from "./nodes.js";
import { tenants } from "./tenants.js";

/**
 * Pods live apart from `objects` because the scheduler and the node agents query
 * them by node and by owner, and because binding updates them together with a node.
 */
export const pods = pgTable(
  "pods",
  {
    id: text("id").primaryKey(),
    tenantId: text("tenant_id").notNull(),
    namespace: text("namespace").notNull(),
    name: text("name").notNull(),
    uid: text("uid").notNull(),
    ownerKind: text("owner_kind"),
    ownerName: text("owner_name"),
    ownerUid: text("owner_uid"),
    labels: jsonb("labels").$type<Record<string, string>>().notNull(),
    annotations: jsonb("annotations").$type<Record<string, string>>().notNull(),
    templateHash: text("template_hash"),
    spec: jsonb("spec").$type<Json>().notNull(),
    cpuMillis: integer("cpu_millis").notNull(),
    memoryBytes: bigint("memory_bytes", { mode: "number" }).notNull(),
    nodeName: text("node_name"),
    phase: text("phase").$type<PodPhase>().notNull(),
    ready: boolean("ready").notNull(),
    status: jsonb("status").$type<Json>().notNull(),
    deletionRequestedAt: bigint("deletion_requested_at", { mode: "number" }),
    resourceVersion,
    ...lifecycle,
  },
  (t) => [
    unique("pods_name_unique").on(t.tenantId, t.namespace, t.name),
    index("pods_node_idx").on(t.nodeName),
    index("pods_owner_idx").on(t.tenantId, t.namespace, t.ownerKind, t.ownerName),
  ],
);

export const podsRelations = relations(pods, ({ one }) => ({
  tenant: one(tenants, { fields: [pods.tenantId], references: [tenants.id] }),
  node: one(nodes, { fields: [pods.nodeName], references: [nodes.name] }),
}));
