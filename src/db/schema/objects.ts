import { relations } from "drizzle-orm";
import { bigint, index, jsonb, pgTable, text, unique } from "drizzle-orm/pg-core";
import type { Json } from "../types.js";
import { lifecycle, resourceVersion } from "./lifecycle.js";
import { tenants } from "./tenants.js";

/** Every stored manifest object (Deployment, Service, …) except pods, which have their own table. */
export const objects = pgTable(
  "objects",
  {
    id: text("id").primaryKey(),
    tenantId: text("tenant_id").notNull(),
    kind: text("kind").notNull(),
    namespace: text("namespace").notNull(),
    name: text("name").notNull(),
    apiVersion: text("api_version").notNull(),
    uid: text("uid").notNull(),
    generation: bigint("generation", { mode: "number" }).notNull(),
    resourceVersion,
    labels: jsonb("labels").$type<Record<string, string>>().notNull(),
    annotations: jsonb("annotations").$type<Record<string, string>>().notNull(),
    spec: jsonb("spec").$type<Json>().notNull(),
    status: jsonb("status").$type<Json>().notNull(),
    ownerKind: text("owner_kind"),
    ownerName: text("owner_name"),
    ownerUid: text("owner_uid"),
    ...lifecycle,
  },
  (t) => [
    unique("objects_ref_unique").on(t.tenantId, t.kind, t.namespace, t.name),
    index("objects_kind_idx").on(t.kind),
    index("objects_owner_idx").on(t.tenantId, t.namespace, t.ownerUid),
  ],
);

export const objectsRelations = relations(objects, ({ one }) => ({
  tenant: one(tenants, { fields: [objects.tenantId], references: [tenants.id] }),
}));
