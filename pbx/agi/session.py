"""One FastAGI call: typed commands over the TCP stream Asterisk opened.

`AgiChannel` is the interface IVR flows are written against; `AgiSession` implements it over a
socket, and tests implement it in memory.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Protocol

from pbx.agi.protocol import (
    HANGUP_LINE,
    AgiCommandError,
    AgiEnvironment,
    AgiProtocolError,
    AgiReply,
    AgiUsageError,
    CallerHungUp,
    bare_arg,
    parse_success,
    quote_arg,
    reply_code,
    value_arg,
)

log = logging.getLogger(__name__)

DTMF_KEYS = frozenset("0123456789*#ABCD")


class AgiChannel(Protocol):
    """What an IVR flow may do with a call. Every media command raises
    :class:`~pbx.agi.protocol.CallerHungUp` once the caller is gone."""

    env: AgiEnvironment

    async def answer(self) -> None:
        """Answer the channel."""

    async def stream_file(self, name: str, escape_digits: str = "") -> str | None:
        """Play a sound file; return the escape digit pressed, or ``None`` if it played out."""

    async def get_data(self, prompt: str, timeout_ms: int, max_digits: int) -> str:
        """Play ``prompt`` and collect up to ``max_digits`` DTMF digits; ``""`` on timeout."""

    async def wait_for_digit(self, timeout_ms: int) -> str | None:
        """Wait for one DTMF digit; ``None`` on timeout."""

    async def say_digits(self, digits: str, escape_digits: str = "") -> str | None:
        """Speak a digit string one digit at a time."""

    async def say_number(self, number: int, escape_digits: str = "") -> str | None:
        """Speak an integer."""

    async def set_variable(self, name: str, value: str) -> None:
        """Set a channel variable (e.g. ``HOTLINE_QUEUE``) for the dialplan."""

    async def get_variable(self, name: str) -> str | None:
        """Read a channel variable; ``None`` if it is not set."""

    async def exec(self, application: str, *args: str) -> int:
        """Run a dialplan application; return its result code."""

    async def verbose(self, message: str, level: int = 1) -> None:
        """Write to the Asterisk console / log."""

    async def hangup(self) -> None:
        """Hang the channel up."""


class AgiSession:
    """`AgiChannel` over a FastAGI connection.

    Only one command is in flight at a time (AGI is strictly request/reply); a lock enforces it
    so that a flow and a cleanup path cannot interleave their bytes.
    """

    def __init__(
        self,
        env: AgiEnvironment,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        *,
        reply_timeout: float = 600.0,
        max_usage_lines: int = 200,
    ) -> None:
        self.env = env
        self._reader = reader
        self._writer = writer
        self._reply_timeout = reply_timeout
        self._max_usage_lines = max_usage_lines
        self._lock = asyncio.Lock()
        self.hung_up = False
        """True once Asterisk said ``HANGUP`` (or an equivalent) on this connection."""
        self.commands_sent = 0

    # -- low level -------------------------------------------------------------------------------

    async def _readline(self) -> str:
        try:
            # asyncio.timeout() rather than wait_for(): no extra task per reply line.
            async with asyncio.timeout(self._reply_timeout):
                raw = await self._reader.readuntil(b"\n")
        except TimeoutError as exc:
            raise AgiProtocolError(f"no AGI reply within {self._reply_timeout} s") from exc
        except asyncio.IncompleteReadError as exc:
            self.hung_up = True
            raise CallerHungUp("connection closed") from exc
        except asyncio.LimitOverrunError as exc:
            raise AgiProtocolError("AGI reply line too long") from exc
        except (ConnectionError, OSError) as exc:
            self.hung_up = True
            raise CallerHungUp(f"connection error: {exc}") from exc
        return raw.decode("utf-8", "replace").rstrip("\r\n")

    async def command(self, line: str) -> AgiReply:
        """Send one raw command line and return its parsed ``200`` reply.

        After a hang-up Asterisk still runs VERBOSE and GET/SET VARIABLE (so a flow may record
        why it ended) and answers media commands with ``511`` (trace 11); we always ask rather
        than guess. Raises :class:`CallerHungUp` for ``511``, ``result=-1`` or a closed socket;
        :class:`AgiUsageError` for ``520``;
        :class:`AgiCommandError` for ``510`` and other codes.
        """
        if "\n" in line or "\r" in line:
            raise ValueError("AGI command must be one line")
        async with self._lock:
            try:
                self._writer.write(line.encode() + b"\n")
                await self._writer.drain()
            except (ConnectionError, OSError) as exc:
                self.hung_up = True
                raise CallerHungUp(f"connection error: {exc}", line) from exc
            self.commands_sent += 1
            return await self._read_reply(line)

    async def _read_reply(self, command: str) -> AgiReply:
        while True:
            text = await self._readline()
            if text == HANGUP_LINE:
                # Unsolicited: the caller hung up; the real reply still follows (trace 11).
                self.hung_up = True
                continue
            if not text:
                continue
            code, more, rest = reply_code(text)
            if code == 200:
                reply = parse_success(text, command)
                if reply.result == -1:
                    self.hung_up = True
                    raise CallerHungUp("result=-1", command)
                return reply
            if code == 511:
                self.hung_up = True
                raise CallerHungUp("511 dead channel", command)
            if code == 520 and more:
                usage: list[str] = []
                while True:
                    line = await self._readline()
                    if line.startswith("520 "):
                        break
                    usage.append(line)
                    if len(usage) > self._max_usage_lines:
                        raise AgiProtocolError("520 usage reply never ended")
                raise AgiUsageError("\n".join(usage), command)
            if code == 520:
                raise AgiUsageError(rest, command)
            raise AgiCommandError(code, rest, command)

    # -- typed commands --------------------------------------------------------------------------

    async def answer(self) -> None:
        """``ANSWER``."""
        await self.command("ANSWER")

    @staticmethod
    def _escape(digits: str) -> str:
        if any(d not in DTMF_KEYS for d in digits):
            raise ValueError(f"escape digits must be DTMF keys: {digits!r}")
        return quote_arg(digits)

    @staticmethod
    def _digit(reply: AgiReply) -> str | None:
        # STREAM FILE / WAIT FOR DIGIT / SAY * return the ASCII code of the key, 0 for none.
        if not reply.result:
            return None
        key = chr(reply.result)
        if key not in DTMF_KEYS:
            raise AgiProtocolError(f"unexpected digit code {reply.result}")
        return key

    async def stream_file(self, name: str, escape_digits: str = "") -> str | None:
        """``STREAM FILE <name> "<escape>"``: the pressed escape key or ``None``.

        Asterisk answers ``200 result=0 endpos=N`` when the file played out; a missing file also
        gives ``result=0`` but ``endpos=0`` — logged so a forgotten prompt build is visible.
        """
        reply = await self.command(f"STREAM FILE {bare_arg(name)} {self._escape(escape_digits)}")
        if reply.result == 0 and reply.extras.get("endpos") == "0":
            log.warning("prompt %s played nothing (missing sound file?)", name)
        return self._digit(reply)

    async def get_data(self, prompt: str, timeout_ms: int, max_digits: int) -> str:
        """``GET DATA <prompt> <timeout> <max>``: the digit string (``result`` is the digits).

        A timeout answers ``200 result= (timeout)`` or, with partial input,
        ``200 result=12 (timeout)``; both return what was keyed.
        """
        if timeout_ms <= 0 or max_digits <= 0:
            raise ValueError("timeout_ms and max_digits must be positive")
        line = f"GET DATA {bare_arg(prompt)} {int(timeout_ms)} {int(max_digits)}"
        reply = await self.command(line)
        digits = reply.raw_result
        if any(d not in DTMF_KEYS for d in digits):
            raise AgiProtocolError(f"GET DATA returned non-DTMF {digits!r}")
        return digits

    async def wait_for_digit(self, timeout_ms: int) -> str | None:
        """``WAIT FOR DIGIT <timeout>``: the key (reply is its ASCII code) or ``None``."""
        return self._digit(await self.command(f"WAIT FOR DIGIT {int(timeout_ms)}"))

    async def say_digits(self, digits: str, escape_digits: str = "") -> str | None:
        """``SAY DIGITS <digits> "<escape>"``."""
        if not digits.isdigit():
            raise ValueError(f"SAY DIGITS needs digits: {digits!r}")
        return self._digit(await self.command(f"SAY DIGITS {digits} {self._escape(escape_digits)}"))

    async def say_number(self, number: int, escape_digits: str = "") -> str | None:
        """``SAY NUMBER <n> "<escape>"``."""
        return self._digit(
            await self.command(f"SAY NUMBER {int(number)} {self._escape(escape_digits)}")
        )

    async def set_variable(self, name: str, value: str) -> None:
        """``SET VARIABLE <name> <value>`` (value quoted when it is not one plain word)."""
        await self.command(f"SET VARIABLE {bare_arg(name)} {value_arg(value)}")

    async def get_variable(self, name: str) -> str | None:
        """``GET VARIABLE <name>``: ``200 result=1 (value)`` or ``200 result=0`` when unset."""
        reply = await self.command(f"GET VARIABLE {bare_arg(name)}")
        return reply.data if reply.result == 1 else None

    async def exec(self, application: str, *args: str) -> int:
        """``EXEC <app> "<a,b,...>"``; ``-2`` means the application does not exist."""
        options = ",".join(args)
        line = f"EXEC {bare_arg(application)}" + (f" {quote_arg(options)}" if args else "")
        reply = await self.command(line)
        if reply.result == -2:
            raise AgiCommandError(200, f"no such application {application}", line)
        return reply.result or 0

    async def verbose(self, message: str, level: int = 1) -> None:
        """``VERBOSE "<message>" <level>``."""
        await self.command(f"VERBOSE {quote_arg(message)} {int(level)}")

    async def hangup(self) -> None:
        """``HANGUP``; Asterisk answers ``200 result=1`` then sends ``HANGUP`` lines (trace 10)."""
        await self.command("HANGUP")
        self.hung_up = True
