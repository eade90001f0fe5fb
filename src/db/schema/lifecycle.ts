import { sql } from "drizzle-orm";
import { bigint, pgSequence } from "drizzle-orm/pg-core";

/**
 * Columns and the sequence every table shares. Times are bigint milliseconds
 * since the epoch, always written by the caller's `Clock`, never by a database
 * default: the simulator must replay byte for byte.
 */
export const createdAt = bigint("created_at", { mode: "number" }).notNull();
export const updatedAt = bigint("updated_at", { mode: "number" }).notNull();

export const lifecycle = { createdAt, updatedAt };

/**
 * One global sequence, so that resource versions of objects and pods are
 * comparable and strictly increasing across kinds, like etcd revisions.
 */
export const resourceVersionSeq = pgSequence("resource_version_seq");

/** The SQL that draws the next resource version; used as default and on every update. */
export const nextResourceVersion = sql`nextval('resource_version_seq')`;

export const resourceVersion = bigint("resource_version", { mode: "number" }).notNull().default(nextResourceVersion);
