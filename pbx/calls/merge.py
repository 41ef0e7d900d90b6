"""Merging an adopted call into the ``calls`` row an earlier process wrote.

A call adopted from a resync (``record.adopted``) is only known from the moment of the
snapshot: its IVR choices, queue entry, answer and agent may already be in the row the previous
backend process wrote before it stopped. Storing the adopted record as it is would rewrite those
facts with blanks and estimates, so the store merges instead (pure function, no I/O):

* what the earlier process saw first stays: ``direction``, ``caller``, ``dialled``,
  ``started_at``, ``answered_at``, the answering ``agent``/``agent_name``, ``hold_seconds``,
  ``conference``, and the queue stint it saw begin;
* lists are unions in order (IVR choices, agents rung, transfers, participants, channels),
  so merging the same adopted record twice changes nothing;
* recordings are merged per direction: the adopted record's file (announced by the hangup
  handler's ``UserEvent``, which is authoritative, or expected from a ``VarSet HOTLINE_REC``
  this process saw) replaces the row's for that direction; the row's (typically the names
  expected before the restart) stay for the directions the record lacks;
* what comes at the end is the adopted record's: ``ended_at``, ``talk_seconds``,
  ``complete_reason``, the hang-up cause, a later queue stint;
* the disposition is decided again from the merged facts (:func:`pbx.calls.record.decide`):
  a call answered before the restart and hung up in the post-call survey stays ``answered``.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any, TypeVar

from pbx.calls.events import CallRecordView
from pbx.calls.record import ABANDONED, ANSWERED, ENDED_DURING_DISCONNECT, decide

T = TypeVar("T")

SAME_STINT_SLACK = 1.0
"""Seconds an adopted queue join may lie after the row's queue leave and still be the same
stint: the join is estimated from ``QueueEntry Wait``, whole seconds (obs. 7)."""


def _epoch(value: datetime | None) -> float | None:
    return value.timestamp() if value is not None else None


def _union(first: Iterable[T], then: Iterable[T]) -> tuple[T, ...]:
    out = list(first)
    out.extend(x for x in then if x not in out)
    return tuple(out)


def _tuples(value: Any) -> list[tuple[str, ...]]:
    """A jsonb ``[[a, b], ...]`` column as tuples (anything else is dropped)."""
    if not isinstance(value, list):
        return []
    return [tuple(str(x) for x in item) for item in value if isinstance(item, list)]


def _merge_recordings(
    row: list[tuple[str, ...]], view: tuple[tuple[str, str], ...]
) -> tuple[tuple[str, ...], ...]:
    """The row's ``(direction, path)`` pairs of the directions ``view`` lacks, then ``view``'s."""
    mine = {d for d, _ in view}
    kept = [x for x in row if len(x) == 2 and x[0] not in mine]
    return _union(kept, view)


def merge_adopted(row: Mapping[str, Any], view: CallRecordView) -> CallRecordView:
    """The record to store for adopted call ``view`` whose open ``row`` an earlier process
    wrote (see the module docstring). ``row`` is a ``calls`` row (asyncpg record or dict)."""
    joined, left, wait = view.queue_joined_at, view.queue_left_at, view.wait_seconds
    row_joined, row_left = _epoch(row["queue_joined_at"]), _epoch(row["queue_left_at"])
    answered_at = _epoch(row["answered_at"])
    if answered_at is None:
        answered_at = view.answered_at
    if joined is None:
        # no queue stint seen since the adoption: the earlier one stands; if it was still
        # running and the call was found answered, it ended by the (estimated) answer
        joined, left, wait = row_joined, row_left, row["wait_seconds"]
        if joined is not None and left is None and view.answered_at is not None:
            left = max(view.answered_at, joined)
            wait = round(left - joined, 3)
    elif row_joined is not None and (row_left is None or joined <= row_left + SAME_STINT_SLACK):
        # the stint the row already has (the earlier process saw it begin, or an earlier
        # merge of this record ended it) is the one adopted: the row's start is exact
        joined = row_joined
        left = left if left is not None else row_left
        wait = round(left - joined, 3) if left is not None else None
    agent, agent_name = (
        (row["agent"], row["agent_name"])
        if row["agent"]
        else (
            view.agent,
            view.agent_name,
        )
    )
    callback = bool(row["callback_requested"]) or view.callback_requested
    disposition = None
    if view.disposition is not None:
        disposition = decide(
            row["direction"],
            disconnected_end=view.disposition == ENDED_DURING_DISCONNECT,
            answered=view.disposition == ANSWERED or answered_at is not None,
            agent=agent,
            callback_requested=callback,
            queued=joined is not None or (view.queue or row["queue"]) is not None,
            abandoned=view.disposition == ABANDONED,
        )
    extra = dict(row["extra"]) if isinstance(row["extra"], dict) else {}
    extra.update(view.extra)
    transfers = _union(_tuples(row["transfers"]), view.transfers)
    recordings = _merge_recordings(_tuples(row["recordings"]), view.recordings)
    return dataclasses.replace(
        view,
        direction=row["direction"],
        caller=row["caller"],
        dialled=row["dialled"],
        started_at=row["started_at"].timestamp(),
        answered_at=answered_at,
        ivr_choices=_union(row["ivr_choices"] or (), view.ivr_choices),
        queue=view.queue or row["queue"],
        queue_joined_at=joined,
        queue_left_at=left,
        wait_seconds=wait,
        agents_rung=_union(row["agents_rung"] or (), view.agents_rung),
        agents_no_answer=_union(row["agents_no_answer"] or (), view.agents_no_answer),
        agent=agent,
        agent_name=agent_name,
        hold_seconds=row["hold_seconds"] if row["hold_seconds"] is not None else view.hold_seconds,
        talk_seconds=view.talk_seconds if view.talk_seconds is not None else row["talk_seconds"],
        complete_reason=view.complete_reason or row["complete_reason"],
        transfers=transfers,  # type: ignore[arg-type]
        conference=row["conference"] or view.conference,
        participants=_union(row["participants"] or (), view.participants),
        disposition=disposition,
        hangup_cause=(view.hangup_cause if view.hangup_cause is not None else row["hangup_cause"]),
        hangup_cause_text=view.hangup_cause_text or row["hangup_cause_text"],
        recordings=recordings,  # type: ignore[arg-type]
        callback_requested=callback,
        channels=_union(row["channels"] or (), view.channels),
        extra=extra,
        adopted=True,
    )
