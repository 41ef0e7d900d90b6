-- analytics/: weights of the member-unit evaluation (成员单位考核, 第二十一条 to 第二十三条) and
-- the indexes its statistics read through.

-- Weights of the composite score. Append-only: the newest row is in force (none → the defaults
-- of analytics.scoring.DEFAULT_WEIGHTS); older rows say who set which weights when.
CREATE TABLE evaluation_weights (
    id            bigserial PRIMARY KEY,
    sign_on_time  integer NOT NULL CHECK (sign_on_time BETWEEN 0 AND 100),   -- 签收及时率
    reply_on_time integer NOT NULL CHECK (reply_on_time BETWEEN 0 AND 100),  -- 答复及时率
    satisfaction  integer NOT NULL CHECK (satisfaction BETWEEN 0 AND 100),   -- 满意率
    no_return     integer NOT NULL CHECK (no_return BETWEEN 0 AND 100),      -- 1 − 退回率
    no_extension  integer NOT NULL CHECK (no_extension BETWEEN 0 AND 100),   -- 1 − 延时率
    note          text NOT NULL DEFAULT '',
    set_by        text NOT NULL,
    set_at        timestamptz NOT NULL DEFAULT now(),
    CHECK (sign_on_time + reply_on_time + satisfaction + no_return + no_extension = 100)
);
CREATE TRIGGER evaluation_weights_append_only BEFORE UPDATE OR DELETE ON evaluation_weights
    FOR EACH ROW EXECUTE FUNCTION workflow_forbid_change();

-- 第二十一条: an evaluation period holds the orders closed (办结) within it.
CREATE INDEX work_orders_closed ON work_orders (closed_at) WHERE state = 'closed';

-- Call-centre statistics (SPEC R7.3): agent state rows overlapping a recent time range
-- (rows still open are found through agent_state_log_open).
CREATE INDEX agent_state_log_ended ON agent_state_log (ended_at);
