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
