-- analytics/: how far the topic and place of the work orders have been derived into
-- hotspot_orders (0510), so that a report derives only the orders registered since the last
-- one, instead of anti-joining its whole range (up to 400 days of work_orders) against
-- hotspot_orders under one global lock. Read and written by analytics.hotspots_store.resolve.
--
-- One row, for the place-catalogue fingerprint the rows were last derived with (a row of another
-- fingerprint is deleted when rows are derived with a new one). Its claim: every work order
-- registered at or after `since` whose id is at most `upto_id` has a hotspot_orders row of this
-- catalogue. `pending_id` / `pending_xmax` are the highest order id the last derivation saw and
-- its snapshot's xmax (pg_snapshot_xmax, as bigint): an order id below pending_id may belong to
-- a transaction still running then, so upto_id only reaches pending_id once every transaction
-- older than pending_xmax has ended (pending_xmax 0: nothing pending).
CREATE TABLE hotspot_resolved (
    catalogue    text PRIMARY KEY,
    since        timestamptz NOT NULL,
    upto_id      bigint NOT NULL CHECK (upto_id >= 0),
    pending_id   bigint NOT NULL CHECK (pending_id >= upto_id),
    pending_xmax bigint NOT NULL CHECK (pending_xmax >= 0),
    updated_at   timestamptz NOT NULL DEFAULT now()
);
