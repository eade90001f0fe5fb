-- A pod row is written several times in its life (bound, scheduled, each report of its containers),
-- never in its indexed columns but its node. Room left in each page lets those writes stay on the
-- page as heap-only tuples, which touch no index (Postgres' HOT updates); a full page makes each
-- one a new tuple elsewhere with an entry in every index.
ALTER TABLE "pods" SET (fillfactor = 50);
