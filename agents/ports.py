"""What agents/ needs from elsewhere, as small Protocols the composition root wires.

* ``Pbx``: the telephony edge (``pbx.calls.service.Telephony`` satisfies it).
* ``OrderLookup`` / ``KnowledgeSuggest`` / ``DraftBuilder``: workflow data for the screen-pop
  (the lead wires workflow's services; tests use in-memory fakes).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, Protocol

from pbx.ami.actions import AmiResult
from pbx.ami.message import AmiMessage
from pbx.calls.bus import Subscription
from pbx.calls.record import CallRecord

Headers = Mapping[str, object] | Iterable[tuple[str, object]]


class CallLookup(Protocol):
    """The part of the call tracker agents/ reads."""

    def get(self, key: Any) -> CallRecord | None: ...


class Pbx(Protocol):
    """AMI actions and normalized events of every Asterisk server."""

    tracker: CallLookup

    async def send_action(
        self, server: str, action: str, headers: Headers = (), *,
        timeout: float | None = None, wait_event: str | None = None,  # noqa: ASYNC109
    ) -> AmiResult: ...

    async def originate(
        self, server: str, headers: Headers, *, timeout: float = 40.0  # noqa: ASYNC109
    ) -> AmiMessage: ...

    def subscribe(self, kinds: Iterable[str] | None = None, *, maxsize: int = 10000
                  ) -> Subscription: ...


class OrderLookup(Protocol):
    """Earlier work orders of a phone number for the screen-pop."""

    async def orders_for_caller(self, number: str, limit: int = 10) -> list[dict[str, Any]]:
        """Orders of ``number``: dicts with ``order_no``, ``state``, ``category``, ``summary``,
        ``deadline`` (ISO 8601 or None), ``overdue`` (bool), ``open`` (bool). Any order; the
        screen-pop puts open ones first."""
        ...


class KnowledgeSuggest(Protocol):
    """Knowledge-base articles likely to answer this call."""

    async def suggest(
        self, *, caller: str | None, queue: str | None, ivr_choice: str | None, limit: int = 5
    ) -> list[dict[str, Any]]:
        """Articles as dicts with ``id``, ``title``, ``snippet``, ``unit``."""
        ...


class DraftBuilder(Protocol):
    """The draft work order opened when the agent answers."""

    async def draft_for_call(
        self, *, call_id: str, caller: str | None, queue: str | None, ivr_choice: str | None
    ) -> dict[str, Any]:
        """A draft order dict (fields the console form shows)."""
        ...


class NoOrders:
    """``OrderLookup`` used until workflow is wired: no earlier orders."""

    async def orders_for_caller(self, number: str, limit: int = 10) -> list[dict[str, Any]]:
        return []


class NoSuggestions:
    """``KnowledgeSuggest`` used until workflow is wired."""

    async def suggest(
        self, *, caller: str | None, queue: str | None, ivr_choice: str | None, limit: int = 5
    ) -> list[dict[str, Any]]:
        return []


class IvrDraft:
    """``DraftBuilder`` that fills what the IVR knows (caller, channel, matter type)."""

    async def draft_for_call(
        self, *, call_id: str, caller: str | None, queue: str | None, ivr_choice: str | None
    ) -> dict[str, Any]:
        from agents.screenpop import CHOICE_LABELS  # local: avoid an import cycle

        return {
            "call_id": call_id,
            "channel": "phone",  # 第八条: 电话渠道
            "citizen_phone": caller,
            "matter_type": CHOICE_LABELS.get(ivr_choice or "", None),
            "queue": queue,
            "content": "",
        }
