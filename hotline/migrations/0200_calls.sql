-- pbx/: call records built by the call tracker from AMI events, and their event log.
-- A call is one Linkedid on one Asterisk server. Writes are idempotent upserts: replaying the
-- same events (reconnect, a second backend instance on the same PostgreSQL) changes nothing.

CREATE TABLE calls (
    server            text NOT NULL CHECK (server ~ '^[A-Za-z0-9_-]{1,32}$'),
    linkedid          text NOT NULL CHECK (length(linkedid) BETWEEN 1 AND 200),
    direction         text NOT NULL CHECK (direction IN ('inbound', 'outbound')),
    caller            text,
    dialled           text,
    started_at        timestamptz NOT NULL,
    answered_at       timestamptz,
    ended_at          timestamptz,
    ivr_choices       text[] NOT NULL DEFAULT '{}',
    queue             text,
    queue_joined_at   timestamptz,
    queue_left_at     timestamptz,
    wait_seconds      double precision,
    agents_rung       text[] NOT NULL DEFAULT '{}',
    agents_no_answer  text[] NOT NULL DEFAULT '{}',
    agent             text,               -- queue member interface, e.g. PJSIP/agent1001
    agent_name        text,
    hold_seconds      integer,
    talk_seconds      integer,
    complete_reason   text,               -- AgentComplete Reason: caller | agent | transfer
    transfers         jsonb NOT NULL DEFAULT '[]',
    conference        text,
    participants      text[] NOT NULL DEFAULT '{}',
    disposition       text CHECK (disposition IN ('answered', 'abandoned', 'ivr_only',
                          'callback_requested', 'ended_during_disconnect', 'no_answer')),
    hangup_cause      integer,
    hangup_cause_text text,
    recordings        jsonb NOT NULL DEFAULT '[]',   -- [[direction, path], ...]
    callback_requested boolean NOT NULL DEFAULT false,
    channels          text[] NOT NULL DEFAULT '{}',
    extra             jsonb NOT NULL DEFAULT '{}',
    updated_at        timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (server, linkedid),
    CHECK ((ended_at IS NULL) = (disposition IS NULL))
);
CREATE INDEX calls_started ON calls (started_at);
CREATE INDEX calls_caller ON calls (caller, started_at DESC);
CREATE INDEX calls_agent ON calls (agent, started_at DESC) WHERE agent IS NOT NULL;
CREATE INDEX calls_open ON calls (server) WHERE ended_at IS NULL;

-- Normalized domain events of a call (pbx.calls.events), append-only.
-- event_key makes a replayed event a no-op (ON CONFLICT DO NOTHING).
CREATE TABLE call_events (
    id         bigserial PRIMARY KEY,
    server     text NOT NULL,
    linkedid   text NOT NULL,
    kind       text NOT NULL CHECK (kind ~ '^[A-Za-z]{1,64}$'),
    at         timestamptz NOT NULL,
    data       jsonb NOT NULL,
    event_key  text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    UNIQUE (server, linkedid, event_key),
    FOREIGN KEY (server, linkedid) REFERENCES calls (server, linkedid)
);
CREATE INDEX call_events_call ON call_events (server, linkedid, at, id);
