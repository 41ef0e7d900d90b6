"""Bookkeeping of in-flight AMI actions: matching responses and list events by ``ActionID``."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

from pbx.ami.errors import AmiError
from pbx.ami.message import AmiMessage

_ERRORS = frozenset({"Error", "Failure", "Fail"})


@dataclass(slots=True)
class AmiResult:
    """Outcome of an action: the ``Response`` message, the list items of a list action
    (``CoreShowChannel``…, without the ``…Complete`` terminator) and, for actions that wait for
    an event (async ``Originate``), that event."""

    response: AmiMessage
    items: list[AmiMessage] = field(default_factory=list)
    event: AmiMessage | None = None
    complete: AmiMessage | None = None

    @property
    def message(self) -> str:
        """The ``Message:`` of the response (``Transfer succeeded``…)."""
        return self.response.get("Message") or ""


class PendingAction:
    """One action waiting for its answer. ``feed`` returns True when the message was consumed
    as part of the answer (list items are not live events)."""

    __slots__ = ("action", "early_complete", "future", "items", "response", "server", "wait_event")

    def __init__(self, action: str, server: str, wait_event: str | None) -> None:
        self.action = action
        self.server = server
        self.wait_event = wait_event
        self.future: asyncio.Future[AmiResult] = asyncio.get_running_loop().create_future()
        self.items: list[AmiMessage] = []
        self.response: AmiMessage | None = None
        self.early_complete: AmiMessage | None = None

    @property
    def done(self) -> bool:
        return self.future.done()

    def fail(self, exc: BaseException) -> None:
        if not self.future.done():
            self.future.set_exception(exc)
            # The awaiting side may already be gone (timeout); do not warn "never retrieved".
            self.future.exception()

    def _resolve(self, result: AmiResult) -> None:
        if not self.future.done():
            self.future.set_result(result)

    def feed(self, msg: AmiMessage) -> bool:
        if msg.kind == "response":
            if self.response is not None:
                return False  # a second Response with our id: not ours to judge
            if msg.name in _ERRORS:
                self.fail(
                    AmiError(msg.get("Message") or msg.name, action=self.action, server=self.server)
                )
                return True
            self.response = msg
            if self.early_complete is not None:
                # the terminator overtook the Response (see below): the answer is complete now
                self._resolve(AmiResult(msg, self.items, complete=self.early_complete))
                return True
            if (msg.get("EventList") or "").lower() == "start" or self.wait_event:
                return True
            self._resolve(AmiResult(msg))
            return True
        # an event carrying our ActionID
        if self.response is None and self.wait_event is None:
            return False
        if self.wait_event and msg.name == self.wait_event:
            self._resolve(AmiResult(self.response or msg, self.items, event=msg))
            return False  # OriginateResponse is also a live event for everyone else
        if (msg.get("EventList") or "").lower() == "complete" or msg.name.endswith("Complete"):
            if self.response is None:
                # Only reachable for a ``wait_event`` action: a ``…Complete`` with our ActionID
                # arrived before the Response (a misbehaving proxy or module). Keep it and
                # resolve when the Response comes; never crash the reader on it.
                self.early_complete = msg
                return True
            self._resolve(AmiResult(self.response, self.items, complete=msg))
            return True
        self.items.append(msg)
        return True
