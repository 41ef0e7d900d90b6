"""Errors raised by the AMI client. Every failure of an action maps to one of these."""

from __future__ import annotations


class AmiError(Exception):
    """Asterisk refused an action (``Response: Error``) or the protocol broke.

    ``action`` is the AMI action name, ``message`` the ``Message:`` Asterisk answered with
    (e.g. ``Interface not found``), ``server`` the id of the Asterisk server.
    """

    def __init__(self, message: str, *, action: str = "", server: str = "") -> None:
        self.message = message
        self.action = action
        self.server = server
        where = f"[{server}] " if server else ""
        what = f"{action}: " if action else ""
        super().__init__(f"{where}{what}{message}")


class AmiTimeout(AmiError):
    """No complete answer to an action within its timeout."""


class AmiNotConnected(AmiError):
    """The connection to that Asterisk server is down (or dropped while the action waited)."""


class AmiAuthError(AmiError):
    """Login refused (wrong username or secret, or the source address is not permitted)."""


class OriginateFailed(AmiError):
    """An ``Originate`` whose ``OriginateResponse`` was a failure; ``reason`` is Asterisk's
    ``Reason`` (the dial result of the first leg): 3 no answer, 5 busy, 8 congestion, 0 / 1
    failure or no such device; None when absent or not a number."""

    def __init__(self, reason: int | None, *, action: str = "Originate",
                 server: str = "") -> None:
        super().__init__(f"originate failed (reason {reason})", action=action, server=server)
        self.reason = reason
