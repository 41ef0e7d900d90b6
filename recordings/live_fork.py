"""Forking an answered call's audio to the AudioSocket server for the live transcript.

When a queue call is answered, the backend originates a channel that needs no dialplan: the
AudioSocket channel driver (``AudioSocket/<host:port>/<uuid>``, Asterisk 18+) runs
``ChanSpy(<citizen channel>,qoE)``:

- ``q``: no beep and no channel name announced to anybody;
- ``o``: only the spied channel's own audio, i.e. what the citizen says (the agent's voice stays
  in the recording, not in the live line);
- ``E``: the spy ends when the citizen's channel hangs up.

ChanSpy only listens, so the call is not disturbed. The originated leg gets its own Linkedid
(traces README, observation 3), which is why the UUID is registered with
`LiveSessions.expect` before originating. Not exercised against a live Asterisk here (no
``asterisk`` test run in this environment); the AMI headers follow the Originate action.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import AsyncIterable, Collection
from typing import Any, Protocol

from recordings.live import LiveSessions

log = logging.getLogger(__name__)


class AmiSender(Protocol):
    """The part of ``pbx.calls.service.Telephony`` the forker uses."""

    async def send_action(self, server: str, action: str, headers: Any = (), *,
                          timeout: float | None = None,  # noqa: ASYNC109
                          wait_event: str | None = None) -> Any:
        """Send one AMI action."""


def fork_originate_headers(citizen_channel: str, call_uuid: uuid.UUID, host: str, port: int,
                           call_id: str) -> list[tuple[str, str]]:
    """AMI ``Originate`` headers of the listening fork."""
    if not citizen_channel or "," in citizen_channel:
        raise ValueError(f"invalid channel to spy on: {citizen_channel!r}")
    return [
        ("Channel", f"AudioSocket/{host}:{port}/{call_uuid}"),
        ("Application", "ChanSpy"),
        ("Data", f"{citizen_channel},qoE"),
        ("CallerID", "live-transcript <0>"),
        ("Async", "true"),
        # The dialplan's HOTLINE_CALLID is the Linkedid (the tracker joins legs on it); our
        # call id is "server:linkedid".
        ("Variable", f"HOTLINE_CALLID={call_id.rsplit(':', 1)[-1]}"),
    ]


class LiveForker:
    """Follows call events and forks every answered call (of ``queues``, or all) once."""

    def __init__(self, ami: AmiSender, sessions: LiveSessions, host: str, port: int,
                 queues: Collection[str] | None = None, timeout: float = 10.0) -> None:
        self.ami, self.sessions = ami, sessions
        self.host, self.port, self.queues, self.timeout = host, port, queues, timeout
        self._channels: dict[tuple[str, str], str] = {}
        self._forked: set[tuple[str, str]] = set()
        self.failures = 0

    async def run(self, events: AsyncIterable[Any]) -> None:
        """Consume ``CallStarted`` / ``CallAnswered`` / ``CallEnded`` until cancelled."""
        async for event in events:
            kind = type(event).__name__
            key = (event.server, event.linkedid)
            if kind == "CallStarted" and event.direction == "inbound":
                self._channels[key] = event.channel
            elif kind == "CallAnswered" and key not in self._forked:
                if self.queues is not None and event.queue not in self.queues:
                    continue
                channel = self._channels.get(key)
                if channel:
                    self._forked.add(key)
                    await self._fork(event.server, f"{event.server}:{event.linkedid}", channel)
            elif kind == "CallEnded":
                self._channels.pop(key, None)
                self._forked.discard(key)

    async def _fork(self, server: str, call_id: str, channel: str) -> None:
        fork = uuid.uuid4()
        self.sessions.expect(fork, call_id)
        try:
            await self.ami.send_action(
                server, "Originate",
                fork_originate_headers(channel, fork, self.host, self.port, call_id),
                timeout=self.timeout)
        except Exception as exc:  # the call goes on without a live transcript
            self.failures += 1
            log.warning("live transcript fork for call %s failed: %s", call_id, exc)
