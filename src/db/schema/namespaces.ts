import { relations } from "drizzle-orm";
import { pgTable, primaryKey, text } from "drizzle-orm/pg-core";
import { createdAt } from "./lifecycle.js";
import { tenants } from "./tenants.js";

/** Namespaces are per tenant: two tenants may both own `default`. */
export const namespaces = pgTable(
  "namespaces",
  {
    tenantId: text("tenant_id").notNull(),
    name: text("name").notNull(),
    createdAt,
  },
  (t) => [primaryKey({ name: "namespaces_pk", columns: [t.tenantId, t.name] })],
);

export const namespacesRelations = relations(namespaces, ({ one }) => ({
  tenant: one(tenants, { fields: [namespaces.tenantId], references: [tenants.id] }),
}));
