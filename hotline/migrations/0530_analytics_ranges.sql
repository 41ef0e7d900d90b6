-- analytics/: call-centre statistics (SPEC R7.3) read the agent state rows that overlap a time
-- range. The B-tree on ended_at (0500) bounds only one side of the overlap: for a range a year
-- ago it returned every row that ended since then (the whole year). A GiST index on the span of
-- each row bounds both sides and still finds a state that lasted days (an agent left logged in
-- over a weekend) or is still open (ended_at NULL = until further notice).
--
-- The span is closed, '[]': a row that started and ended at the same instant (two changes in one
-- burst, agents.store.log_states) is a point, not an empty range, so it still overlaps and keeps
-- its place in the per-agent sequence the wrap-up attribution reads. The statistics query with
-- exactly this expression (analytics.call_stats_store.SPAN), otherwise the index is not used.
CREATE INDEX agent_state_log_span ON agent_state_log
    USING gist (tstzrange(started_at, coalesce(ended_at, 'infinity'::timestamptz), '[]'));

-- Superseded by agent_state_log_span (nothing else reads agent_state_log by ended_at).
DROP INDEX agent_state_log_ended;
