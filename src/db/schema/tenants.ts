import { pgTable, text } from "drizzle-orm/pg-core";
import { createdAt } from "./lifecycle.js";

export const tenants = pgTable("tenants", {
  id: text("id").primaryKey(),
  name: text("name").notNull().unique("tenants_name_unique"),
  createdAt,
});
