"""The IVR record of one call: what the caller chose and where they left (R2.5)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any


class Outcome(StrEnum):
    """How an IVR session ended."""

    QUEUED = "queued"              # choice made, HOTLINE_QUEUE set, dialplan goes to Queue()
    AGENT = "agent"                # sent to an agent (key 0, or too many invalid inputs)
    EMERGENCY = "emergency"        # transfer to 110/119/120 accepted (第九条(五))
    SELF_SERVICE = "self-service"  # status read back, caller finished without an agent
    CALLBACK = "callback"          # callback request stored
    KEEP_WAITING = "keep-waiting"  # callback declined, back to the queue
    RATED = "rated"                # survey answered 1/2/3
    NO_RATING = "no-rating"        # survey: no valid key after the repeats
    ALREADY_RATED = "already-rated"
    HANGUP = "hangup"              # caller hung up inside the IVR
    ERROR = "error"                # our bug or an AGI protocol error


@dataclass
class IvrCallRecord:
    """One IVR session (one FastAGI connection)."""

    call_id: str
    """Asterisk Uniqueid of the channel (``pbx1-1795837952.0``)."""
    flow: str
    caller: str
    channel: str = ""
    language: str = "zh"
    started_at: datetime = field(default_factory=lambda: datetime.now(UTC))
    ended_at: datetime | None = None
    step: str = "start"
    """The step the caller is in now; after a hang-up, where they left."""
    choice: str | None = None
    """Menu key (``"2"``) once chosen."""
    category: str | None = None
    """``complaint`` etc."""
    queue: str | None = None
    outcome: Outcome | None = None
    order_number: str | None = None
    rating: int | None = None
    error: str | None = None
    hung_up: bool = False
    """The caller hung up inside this IVR session (the outcome may already have been decided,
    e.g. a callback stored before the goodbye prompt)."""
    events: list[dict[str, Any]] = field(default_factory=list)
    """Step entries and inputs, in order: ``{"step": "menu", "input": "2", "t": 1.23}``."""

    @property
    def left_at(self) -> str | None:
        """Where a caller who hung up left, else None."""
        return self.step if self.hung_up else None

    def _t(self) -> float:
        return round((datetime.now(UTC) - self.started_at).total_seconds(), 3)

    def enter(self, step: str) -> None:
        """Mark the start of ``step``."""
        self.step = step
        self.events.append({"step": step, "t": self._t()})

    def note_input(self, value: str | None) -> None:
        """Record what the caller keyed in the current step (``None`` = nothing)."""
        self.events.append({"step": self.step, "input": value, "t": self._t()})

    def finish(self, outcome: Outcome, error: str | None = None) -> None:
        """Close the record (first outcome wins: a hang-up after the choice stays a choice)."""
        if self.outcome is None:
            self.outcome = outcome
        if error:
            self.error = error[:500]
        self.ended_at = datetime.now(UTC)
