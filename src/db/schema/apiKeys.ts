import { relations } from "drizzle-orm";
import { bigint, index, pgTable, text } from "drizzle-orm/pg-core";
import type { ApiKeyRole } from "../types.js";
import { createdAt } from "./lifecycle.js";
import { tenants } from "./tenants.js";

export const apiKeys = pgTable(
  "api_keys",
  {
    id: text("id").primaryKey(),
    tenantId: text("tenant_id").notNull(),
    role: text("role").$type<ApiKeyRole>().notNull(),
    keyHash: text("key_hash").notNull().unique("api_keys_key_hash_unique"),
    prefix: text("prefix").notNull(),
    createdAt,
    revokedAt: bigint("revoked_at", { mode: "number" }),
  },
  (t) => [index("api_keys_tenant_idx").on(t.tenantId)],
);

export const apiKeysRelations = relations(apiKeys, ({ one }) => ({
  tenant: one(tenants, { fields: [apiKeys.tenantId], references: [tenants.id] }),
}));
