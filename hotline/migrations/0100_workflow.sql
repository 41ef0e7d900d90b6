-- workflow/: member units, statutory calendar overrides, work orders with their append-only
-- event log, order numbering, knowledge base (第十二条).

CREATE TABLE member_units (
    code          text PRIMARY KEY CHECK (code ~ '^[A-Za-z0-9_-]{1,40}$'),
    name          text NOT NULL,
    short         text NOT NULL,
    kind          text NOT NULL CHECK (kind IN ('department', 'district', 'street', 'utility', 'platform')),
    parent        text REFERENCES member_units (code),
    keywords      text[] NOT NULL DEFAULT '{}',
    working_hours text NOT NULL DEFAULT '08:30-12:00,13:30-17:30',
    duty_phone    text,   -- 第十三条: on-duty contact outside working time
    duty_contact  text,
    active        boolean NOT NULL DEFAULT true,
    updated_at    timestamptz NOT NULL DEFAULT now()
);

-- Admin overrides of the statutory calendar (years chinesecalendar does not know, corrections).
CREATE TABLE calendar_days (
    day         date PRIMARY KEY,
    is_workday  boolean NOT NULL,
    note        text NOT NULL DEFAULT '',
    set_by      text NOT NULL DEFAULT '',
    set_at      timestamptz NOT NULL DEFAULT now()
);
-- A year whose holiday notice has been fully entered: its deadlines are no longer provisional.
CREATE TABLE calendar_years (
    year         integer PRIMARY KEY CHECK (year BETWEEN 2000 AND 2100),
    note         text NOT NULL DEFAULT '',
    confirmed_by text NOT NULL DEFAULT '',
    confirmed_at timestamptz NOT NULL DEFAULT now()
);

-- Per-day sequence behind CZyyyymmdd-nnnnnn.
CREATE TABLE work_order_seq (
    day  date PRIMARY KEY,
    last integer NOT NULL CHECK (last BETWEEN 1 AND 999999)
);

CREATE TABLE work_orders (
    id            bigserial PRIMARY KEY,
    number        text NOT NULL UNIQUE,
    version       integer NOT NULL CHECK (version >= 1),
    state         text NOT NULL,
    channel       text NOT NULL,
    category      text NOT NULL,
    urgent        boolean NOT NULL DEFAULT false,
    confidential  boolean NOT NULL DEFAULT false,
    lead_unit     text,
    units         text[] NOT NULL DEFAULT '{}',     -- units currently assigned (isolation)
    citizen_phone text,
    district      text,
    call_ids      text[] NOT NULL DEFAULT '{}',
    created_at    timestamptz NOT NULL,
    updated_at    timestamptz NOT NULL,
    reply_due     timestamptz,
    reply_overdue boolean NOT NULL DEFAULT false,
    supervision   text NOT NULL DEFAULT 'none',
    next_check_at timestamptz,                      -- when the deadline sweep must look again
    closed_at     timestamptz,
    search_tokens text NOT NULL DEFAULT '',         -- jieba tokens + CJK bigrams (workflow.text)
    -- Stored, so a plan that filters rows instead of using the index does not re-parse text.
    search_vector tsvector GENERATED ALWAYS AS (to_tsvector('simple', search_tokens)) STORED,
    doc           jsonb NOT NULL                    -- the full workflow.model.Order
);
CREATE INDEX work_orders_created ON work_orders (created_at DESC, id DESC);
CREATE INDEX work_orders_state_created ON work_orders (state, created_at DESC, id DESC);
CREATE INDEX work_orders_units ON work_orders USING gin (units);
CREATE INDEX work_orders_lead_state ON work_orders (lead_unit, state, created_at DESC, id DESC);
CREATE INDEX work_orders_phone ON work_orders (citizen_phone, created_at DESC);
CREATE INDEX work_orders_calls ON work_orders USING gin (call_ids);
CREATE INDEX work_orders_next_check ON work_orders (next_check_at) WHERE next_check_at IS NOT NULL;
CREATE INDEX work_orders_search ON work_orders USING gin (search_vector);

-- Append-only audit log (SPEC R5.8): who, when, from, to, why.
CREATE TABLE work_order_events (
    id            bigserial PRIMARY KEY,
    order_id      bigint NOT NULL REFERENCES work_orders (id),
    version       integer NOT NULL,                 -- the order version this event produced
    kind          text NOT NULL,
    at            timestamptz NOT NULL,
    actor_kind    text NOT NULL,
    actor_name    text NOT NULL,
    actor_unit    text,
    actor_user_id bigint,
    from_state    text NOT NULL,
    to_state      text NOT NULL,
    data          jsonb NOT NULL DEFAULT '{}'
);
CREATE INDEX work_order_events_order ON work_order_events (order_id, id);

-- Nothing is deleted: events are never changed, orders never deleted.
CREATE FUNCTION workflow_forbid_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'append-only table %: % is not allowed', TG_TABLE_NAME, TG_OP;
END $$;
CREATE TRIGGER work_order_events_append_only BEFORE UPDATE OR DELETE ON work_order_events
    FOR EACH ROW EXECUTE FUNCTION workflow_forbid_change();
CREATE TRIGGER work_orders_no_delete BEFORE DELETE ON work_orders
    FOR EACH ROW EXECUTE FUNCTION workflow_forbid_change();

-- Knowledge base (第十二条): an article has versions; the searchable columns hold the published one.
CREATE TABLE kb_articles (
    id                bigserial PRIMARY KEY,
    unit_code         text REFERENCES member_units (code),
    latest_version    integer NOT NULL DEFAULT 1,
    published_version integer,
    title             text NOT NULL DEFAULT '',     -- of the published version
    body              text NOT NULL DEFAULT '',
    valid_from        date,
    valid_to          date,
    tokens            text NOT NULL DEFAULT '',     -- jieba tokens of title + body + keywords
    search_vector     tsvector GENERATED ALWAYS AS (to_tsvector('simple', tokens)) STORED,
    created_by        text NOT NULL,
    created_at        timestamptz NOT NULL DEFAULT now(),
    updated_at        timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX kb_articles_search ON kb_articles USING gin (search_vector)
    WHERE published_version IS NOT NULL;
CREATE INDEX kb_articles_unit ON kb_articles (unit_code);

CREATE TABLE kb_versions (
    article_id  bigint NOT NULL REFERENCES kb_articles (id),
    version     integer NOT NULL,
    status      text NOT NULL CHECK (status IN ('draft', 'review', 'published', 'superseded', 'rejected')),
    title       text NOT NULL,
    body        text NOT NULL,
    keywords    text[] NOT NULL DEFAULT '{}',
    valid_from  date,
    valid_to    date,
    author      text NOT NULL,
    reviewer    text,
    review_note text,
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (article_id, version),
    CHECK (valid_to IS NULL OR valid_from IS NULL OR valid_to >= valid_from)
);
