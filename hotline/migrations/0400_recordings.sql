-- recordings/: MixMonitor files of each call, transcripts, drafted orders, holds and deletions.

-- One row per file of a call: the citizen direction (-in), the agent direction (-out), the mix.
CREATE TABLE recordings (
    id            bigserial PRIMARY KEY,
    call_id       text NOT NULL,                 -- the citizen channel's Linkedid
    server_id     text,                          -- which Asterisk (SPEC R1.5)
    direction     text NOT NULL CHECK (direction IN ('citizen', 'agent', 'mix')),
    path          text NOT NULL,                 -- relative to the recordings directory
    state         text NOT NULL DEFAULT 'pending'
                  CHECK (state IN ('pending', 'registered', 'missing', 'rejected', 'deleted')),
    size_bytes    bigint,
    duration_s    double precision,
    sample_rate   integer,
    sha256        text,
    checks        integer NOT NULL DEFAULT 0,    -- how many times the file was looked for
    last_error    text,
    call_ended_at timestamptz NOT NULL DEFAULT now(),
    registered_at timestamptz,
    deleted_at    timestamptz,
    created_at    timestamptz NOT NULL DEFAULT now(),
    UNIQUE (call_id, direction)
);
CREATE INDEX recordings_state ON recordings (state, call_ended_at);

-- Problems an operator must see (a recording missing after the retries, a path outside the
-- recordings directory). Never silently skipped (SPEC R4.1).
CREATE TABLE recording_alerts (
    id              bigserial PRIMARY KEY,
    call_id         text NOT NULL,
    recording_id    bigint REFERENCES recordings (id),
    kind            text NOT NULL,
    message         text NOT NULL,
    created_at      timestamptz NOT NULL DEFAULT now(),
    acknowledged_at timestamptz
);

-- The transcript of a call: the merged dialogue with speaker labels and word timings.
CREATE TABLE transcripts (
    id           bigserial PRIMARY KEY,
    call_id      text NOT NULL UNIQUE,           -- one transcript per call (idempotent re-runs)
    lines        jsonb NOT NULL,
    citizen_text text NOT NULL,
    engine       text NOT NULL,
    audio_seconds double precision NOT NULL DEFAULT 0,
    cpu_seconds  double precision NOT NULL DEFAULT 0,
    created_at   timestamptz NOT NULL DEFAULT now()
);

-- The work order drafted from the citizen's words; the agent edits and confirms it. An
-- unconfirmed draft stays (SPEC R4.3).
CREATE TABLE order_drafts (
    call_id       text PRIMARY KEY,
    transcript_id bigint REFERENCES transcripts (id),
    proposed      jsonb NOT NULL,                -- what the rules suggested
    current       jsonb NOT NULL,                -- proposed + the agent's edits
    status        text NOT NULL DEFAULT 'draft' CHECK (status IN ('draft', 'confirmed')),
    version       integer NOT NULL DEFAULT 1,
    edited_by     bigint,
    confirmed_by  bigint,
    confirmed_at  timestamptz,
    created_at    timestamptz NOT NULL DEFAULT now(),
    updated_at    timestamptz NOT NULL DEFAULT now()
);

-- Orders created from a call (told by the workflow wiring), so the transcript reaches every one
-- of them, including orders created before it was ready.
CREATE TABLE call_orders (
    call_id    text NOT NULL,
    order_id   text NOT NULL,
    linked_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (call_id, order_id)
);
CREATE INDEX call_orders_order ON call_orders (order_id);

CREATE TABLE transcript_attachments (
    transcript_id bigint NOT NULL REFERENCES transcripts (id),
    order_id      text NOT NULL,
    attached_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (transcript_id, order_id)
);

-- A legal or supervisory hold keeps a call's audio past the retention age.
CREATE TABLE recording_holds (
    id          bigserial PRIMARY KEY,
    call_id     text NOT NULL,
    reason      text NOT NULL,
    created_by  bigint,
    created_at  timestamptz NOT NULL DEFAULT now(),
    released_at timestamptz
);
CREATE INDEX recording_holds_call ON recording_holds (call_id) WHERE released_at IS NULL;

-- Every deletion of audio, kept for audit.
CREATE TABLE recording_deletions (
    id           bigserial PRIMARY KEY,
    recording_id bigint NOT NULL REFERENCES recordings (id),
    call_id      text NOT NULL,
    path         text NOT NULL,
    size_bytes   bigint,
    sha256       text,
    reason       text NOT NULL,
    deleted_at   timestamptz NOT NULL DEFAULT now()
);
