-- IVR (ivr/): one row per IVR session, callback requests, per-call ratings (好差评),
-- outbound satisfaction surveys (办结回访). Dialling itself runs as kit.jobs rows.

CREATE TABLE ivr_sessions (
    id           bigserial PRIMARY KEY,
    call_id      text NOT NULL CHECK (length(call_id) BETWEEN 1 AND 128),   -- Asterisk Uniqueid
    flow         text NOT NULL CHECK (flow IN ('ivr', 'survey', 'post-call-survey', 'callback-offer')),
    caller       text NOT NULL DEFAULT '',
    channel      text NOT NULL DEFAULT '',
    language     text NOT NULL DEFAULT 'zh',
    started_at   timestamptz NOT NULL,
    ended_at     timestamptz,
    outcome      text NOT NULL,
    hung_up      boolean NOT NULL DEFAULT false,
    left_at      text,                       -- step the caller was in when they hung up
    choice       text,                       -- main-menu key
    category     text,
    queue        text,
    order_number text,
    rating       smallint CHECK (rating BETWEEN 1 AND 3),
    error        text,
    events       jsonb NOT NULL DEFAULT '[]',
    UNIQUE (call_id, flow)
);
CREATE INDEX ivr_sessions_started ON ivr_sessions (started_at);
CREATE INDEX ivr_sessions_caller ON ivr_sessions (caller, started_at);

CREATE TABLE ivr_callback_requests (
    id           bigserial PRIMARY KEY,
    call_id      text NOT NULL,
    caller       text NOT NULL DEFAULT '',
    number       text NOT NULL CHECK (number ~ '^[0-9]{7,12}$'),
    queue        text NOT NULL,
    choice       text,
    place_at     timestamptz NOT NULL,       -- when the caller joined the queue: dial-back order
    status       text NOT NULL DEFAULT 'pending'
                 CHECK (status IN ('pending', 'dialling', 'done', 'failed')),
    attempts     integer NOT NULL DEFAULT 0,
    not_before   timestamptz,
    last_outcome text,
    created_at   timestamptz NOT NULL DEFAULT now(),
    updated_at   timestamptz NOT NULL DEFAULT now()
);
-- One open request per number: asking again keeps the earlier place.
CREATE UNIQUE INDEX ivr_callback_open_number ON ivr_callback_requests (number)
    WHERE status IN ('pending', 'dialling');
CREATE INDEX ivr_callback_due ON ivr_callback_requests (place_at, id) WHERE status = 'pending';

-- 好差评 after the call: one rating per call (一事一评, 第十五条).
CREATE TABLE ivr_call_ratings (
    call_id    text PRIMARY KEY,
    rating     smallint NOT NULL CHECK (rating BETWEEN 1 AND 3),
    caller     text NOT NULL DEFAULT '',
    rated_at   timestamptz NOT NULL DEFAULT now()
);

-- 办结回访 (第十一条(五)).
CREATE TABLE ivr_surveys (
    id              bigserial PRIMARY KEY,
    order_number    text NOT NULL,
    phone           text NOT NULL CHECK (phone ~ '^[0-9]{3,20}$'),
    status          text NOT NULL DEFAULT 'scheduled'
                    CHECK (status IN ('scheduled', 'dialling', 'answered', 'rated', 'no-rating',
                                      'unreachable')),
    attempts        integer NOT NULL DEFAULT 0,
    max_attempts    integer NOT NULL CHECK (max_attempts BETWEEN 1 AND 20),
    next_attempt_at timestamptz,
    rating          smallint CHECK (rating BETWEEN 1 AND 3),
    last_outcome    text,
    call_id         text,
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now()
);
-- At most one unfinished survey per order.
CREATE UNIQUE INDEX ivr_surveys_open_order ON ivr_surveys (order_number)
    WHERE status IN ('scheduled', 'dialling', 'answered');
CREATE INDEX ivr_surveys_order ON ivr_surveys (order_number, id);
