-- agents/: agents linked to users, the queues the backend intends each agent to be logged in to,
-- the agent state log (time in state, for statistics) and per-queue outcomes for the wallboard.

CREATE TABLE agents (
    id            bigserial PRIMARY KEY,
    user_id       bigint NOT NULL UNIQUE REFERENCES users (id),
    server        text NOT NULL,                       -- Asterisk server id (pbx1 ...)
    interface     text NOT NULL CHECK (interface ~ '^[A-Za-z]+/[A-Za-z0-9_.@-]+$'),
    extension     text NOT NULL,
    member_name   text NOT NULL,
    -- what the backend wants: re-applied after an Asterisk restart
    paused        boolean NOT NULL DEFAULT false,
    pause_reason  text NOT NULL DEFAULT '',
    created_at    timestamptz NOT NULL DEFAULT now(),
    updated_at    timestamptz NOT NULL DEFAULT now(),
    UNIQUE (server, interface)
);

CREATE TABLE agent_queue_logins (
    agent_id   bigint NOT NULL REFERENCES agents (id) ON DELETE CASCADE,
    queue      text NOT NULL,
    penalty    integer NOT NULL DEFAULT 0 CHECK (penalty >= 0),
    since      timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (agent_id, queue)
);

CREATE TABLE agent_state_log (
    id          bigserial PRIMARY KEY,
    agent_id    bigint NOT NULL REFERENCES agents (id) ON DELETE CASCADE,
    state       text NOT NULL CHECK (state IN
                  ('logged_out', 'available', 'ringing', 'on_call', 'wrap_up', 'paused')),
    reason      text NOT NULL DEFAULT '',
    call_id     text,
    queues      text[] NOT NULL DEFAULT '{}',
    started_at  timestamptz NOT NULL,
    ended_at    timestamptz,
    CHECK (ended_at IS NULL OR ended_at >= started_at)
);
CREATE INDEX agent_state_log_agent_time ON agent_state_log (agent_id, started_at);
CREATE UNIQUE INDEX agent_state_log_open ON agent_state_log (agent_id) WHERE ended_at IS NULL;

-- One row per call and queue outcome; the primary key makes duplicate AMI events harmless.
CREATE TABLE queue_call_outcomes (
    server      text NOT NULL,
    linkedid    text NOT NULL,
    queue       text NOT NULL,
    outcome     text NOT NULL CHECK (outcome IN ('answered', 'abandoned')),
    wait_s      double precision,
    at          timestamptz NOT NULL,
    PRIMARY KEY (server, linkedid, queue, outcome)
);
CREATE INDEX queue_call_outcomes_at ON queue_call_outcomes (at);
