ALTER TABLE "objects" ADD COLUMN "owner_kind" text;--> statement-breakpoint
ALTER TABLE "objects" ADD COLUMN "owner_name" text;--> statement-breakpoint
ALTER TABLE "objects" ADD COLUMN "owner_uid" text;--> statement-breakpoint
CREATE INDEX "objects_owner_idx" ON "objects" USING btree ("tenant_id","namespace","owner_uid");