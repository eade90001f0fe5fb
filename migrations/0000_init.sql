CREATE SEQUENCE "public"."resource_version_seq" INCREMENT BY 1 MINVALUE 1 MAXVALUE 9223372036854775807 START WITH 1 CACHE 1;--> statement-breakpoint
CREATE TABLE "api_keys" (
	"id" text PRIMARY KEY NOT NULL,
	"tenant_id" text NOT NULL,
	"role" text NOT NULL,
	"key_hash" text NOT NULL,
	"prefix" text NOT NULL,
	"created_at" bigint NOT NULL,
	"revoked_at" bigint,
	CONSTRAINT "api_keys_key_hash_unique" UNIQUE("key_hash")
);
--> statement-breakpoint
CREATE TABLE "events" (
	"id" text PRIMARY KEY NOT NULL,
	"tenant_id" text NOT NULL,
	"namespace" text NOT NULL,
	"involved_kind" text NOT NULL,
	"involved_name" text NOT NULL,
	"involved_uid" text NOT NULL,
	"type" text NOT NULL,
	"reason" text NOT NULL,
	"message" text NOT NULL,
	"dedupe_key" text NOT NULL,
	"count" integer NOT NULL,
	"first_seen_at" bigint NOT NULL,
	"last_seen_at" bigint NOT NULL,
	CONSTRAINT "events_dedupe_key_unique" UNIQUE("dedupe_key")
);
--> statement-breakpoint
CREATE TABLE "namespaces" (
	"tenant_id" text NOT NULL,
	"name" text NOT NULL,
	"created_at" bigint NOT NULL,
	CONSTRAINT "namespaces_pk" PRIMARY KEY("tenant_id","name")
);
--> statement-breakpoint
CREATE TABLE "nodes" (
	"name" text PRIMARY KEY NOT NULL,
	"provider" text NOT NULL,
	"address" text NOT NULL,
	"labels" jsonb NOT NULL,
	"cpu_millis" integer NOT NULL,
	"memory_bytes" bigint NOT NULL,
	"max_pods" integer NOT NULL,
	"allocated_cpu_millis" integer DEFAULT 0 NOT NULL,
	"allocated_memory_bytes" bigint DEFAULT 0 NOT NULL,
	"allocated_pods" integer DEFAULT 0 NOT NULL,
	"ready" boolean NOT NULL,
	"unschedulable" boolean NOT NULL,
	"last_heartbeat_at" bigint,
	"created_at" bigint NOT NULL,
	"updated_at" bigint NOT NULL
);
--> statement-breakpoint
CREATE TABLE "objects" (
	"id" text PRIMARY KEY NOT NULL,
	"tenant_id" text NOT NULL,
	"kind" text NOT NULL,
	"namespace" text NOT NULL,
	"name" text NOT NULL,
	"api_version" text NOT NULL,
	"uid" text NOT NULL,
	"generation" bigint NOT NULL,
	"resource_version" bigint DEFAULT nextval('resource_version_seq') NOT NULL,
	"labels" jsonb NOT NULL,
	"annotations" jsonb NOT NULL,
	"spec" jsonb NOT NULL,
	"status" jsonb NOT NULL,
	"created_at" bigint NOT NULL,
	"updated_at" bigint NOT NULL,
	CONSTRAINT "objects_ref_unique" UNIQUE("tenant_id","kind","namespace","name")
);
--> statement-breakpoint
CREATE TABLE "outbox" (
	"id" bigint PRIMARY KEY GENERATED ALWAYS AS IDENTITY (sequence name "outbox_id_seq" INCREMENT BY 1 MINVALUE 1 MAXVALUE 9223372036854775807 START WITH 1 CACHE 1),
	"queue" text NOT NULL,
	"key" text NOT NULL,
	"created_at" bigint NOT NULL
);
--> statement-breakpoint
CREATE TABLE "pods" (
	"id" text PRIMARY KEY NOT NULL,
	"tenant_id" text NOT NULL,
	"namespace" text NOT NULL,
	"name" text NOT NULL,
	"uid" text NOT NULL,
	"owner_kind" text,
	"owner_name" text,
	"owner_uid" text,
	"labels" jsonb NOT NULL,
	"annotations" jsonb NOT NULL,
	"template_hash" text,
	"spec" jsonb NOT NULL,
	"cpu_millis" integer NOT NULL,
	"memory_bytes" bigint NOT NULL,
	"node_name" text,
	"phase" text NOT NULL,
	"ready" boolean NOT NULL,
	"status" jsonb NOT NULL,
	"deletion_requested_at" bigint,
	"resource_version" bigint DEFAULT nextval('resource_version_seq') NOT NULL,
	"created_at" bigint NOT NULL,
	"updated_at" bigint NOT NULL,
	CONSTRAINT "pods_name_unique" UNIQUE("tenant_id","namespace","name")
);
--> statement-breakpoint
CREATE TABLE "tenants" (
	"id" text PRIMARY KEY NOT NULL,
	"name" text NOT NULL,
	"created_at" bigint NOT NULL,
	CONSTRAINT "tenants_name_unique" UNIQUE("name")
);
--> statement-breakpoint
CREATE INDEX "api_keys_tenant_idx" ON "api_keys" USING btree ("tenant_id");--> statement-breakpoint
CREATE INDEX "events_namespace_idx" ON "events" USING btree ("tenant_id","namespace");--> statement-breakpoint
CREATE INDEX "objects_kind_idx" ON "objects" USING btree ("kind");--> statement-breakpoint
CREATE INDEX "pods_node_idx" ON "pods" USING btree ("node_name");--> statement-breakpoint
CREATE INDEX "pods_owner_idx" ON "pods" USING btree ("tenant_id","namespace","owner_kind","owner_name");