import { jsonb, pgTable, text } from "drizzle-orm/pg-core";
import type { TenantQuota } from "../types.js";
import { createdAt } from "./lifecycle.js";

export const tenants = pgTable("tenants", {
  id: text("id").primaryKey(),
  name: text("name").notNull().unique("tenants_name_unique"),
  /** The operator's limits for the tenant; null (and every absent key) means unlimited. */
  quota: jsonb("quota").$type<TenantQuota>(),
  createdAt,
});
