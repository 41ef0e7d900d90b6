-- analytics/: hotspots (热点分析, 第十八条, 第十九条; SPEC R7.2).

-- The topic and place of every work order, derived once from work_orders by
-- analytics.hotspots_store.resolve (topic, district and address never change after intake), so
-- that the counts over months do not match place words against every order again. Derived
-- data: a row can be re-derived at any time (a new catalogue fingerprint does so lazily).
CREATE TABLE hotspot_orders (
    order_id   bigint PRIMARY KEY REFERENCES work_orders (id),
    created_at timestamptz NOT NULL,    -- work_orders.created_at: the window an order counts in
    topic      text NOT NULL,           -- normalised topic, or '<类别>(未填主题)'
    street     text,                    -- member_units.code of kind 'street' (街道/镇)
    district   text,                    -- member_units.code of kind 'district' (辖市区)
    address    text,                    -- normalised address (NFKC, upper case, no spaces)
    catalogue  text NOT NULL            -- fingerprint of the place catalogue and rules used
);
-- Every report reads a created_at range (current + baseline windows, the last weeks).
CREATE INDEX hotspot_orders_created ON hotspot_orders (created_at);
