"""FastAGI wire format: the environment block, command encoding and reply parsing.

Pure functions and value types, no I/O, so that every quirk seen in the Asterisk 22 traces
(`../shared/asterisk-traces/*.agi.txt`) can be tested byte by byte.

Wire facts (observation 20 of the traces README):

* The environment is ``key: value\\n`` lines ended by an empty line; values may be empty and
  keep a trailing space (``agi_accountcode: ``).
* A reply is ``200 result=<n> [(data)] [key=value ...]``; ``510 Invalid or unknown command``;
  ``511 Command Not Permitted on a dead channel or intercept routine``; and a multi-line
  ``520-Invalid command syntax.  Proper usage follows:`` … ``520 End of proper usage.``.
* A lone ``HANGUP`` line is sent by Asterisk, unsolicited, when the caller hangs up; it can arrive
  between a command and that command's ``200`` reply.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from urllib.parse import parse_qsl

ENV_TERMINATOR = b"\n"
HANGUP_LINE = "HANGUP"


class AgiError(Exception):
    """Base class of every FastAGI error raised by this package."""


class AgiProtocolError(AgiError):
    """The peer sent bytes that are not valid FastAGI (bad environment, unparsable reply)."""


class CallerHungUp(AgiError):
    """The channel is gone: a ``HANGUP`` line, a ``511`` reply, ``result=-1`` or a closed socket.

    Flows let it propagate; the server and the IVR runner treat it as a normal end of call.
    """

    def __init__(self, reason: str, command: str | None = None) -> None:
        super().__init__(f"caller hung up ({reason})" + (f" during {command!r}" if command else ""))
        self.reason = reason
        self.command = command


class AgiCommandError(AgiError):
    """Asterisk rejected a command (``510`` unknown command or any other non-200 code)."""

    def __init__(self, code: int, message: str, command: str) -> None:
        super().__init__(f"AGI {code} for {command!r}: {message}")
        self.code = code
        self.message = message
        self.command = command


class AgiUsageError(AgiCommandError):
    """``520`` reply: the command's syntax was wrong; ``usage`` holds Asterisk's usage text."""

    def __init__(self, usage: str, command: str) -> None:
        super().__init__(520, "Invalid command syntax", command)
        self.usage = usage


@dataclass(frozen=True)
class AgiEnvironment:
    """The ``agi_*`` variables Asterisk sends when a FastAGI call starts.

    ``script`` is ``agi_network_script`` without leading slashes and without its query string;
    ``query`` holds the parsed query arguments (``ivr?lang=zh`` → ``{"lang": "zh"}``);
    ``args`` are ``agi_arg_1``, ``agi_arg_2``, … in order.
    """

    values: dict[str, str]
    script: str
    query: dict[str, str] = field(default_factory=dict)
    args: tuple[str, ...] = ()

    def get(self, key: str, default: str = "") -> str:
        """Value of ``agi_<key>`` (or of ``key`` when it already starts with ``agi_``)."""
        name = key if key.startswith("agi_") else f"agi_{key}"
        return self.values.get(name, default)

    @property
    def uniqueid(self) -> str:
        """The channel's Uniqueid (``pbx1-1795837952.0`` when ``systemname`` is set)."""
        return self.get("uniqueid")

    @property
    def channel(self) -> str:
        """Channel name, e.g. ``PJSIP/citizen-trunk-00000000``."""
        return self.get("channel")

    @property
    def callerid(self) -> str:
        """Caller number as Asterisk knows it; ``unknown`` is normalised to an empty string."""
        value = self.get("callerid")
        return "" if value == "unknown" else value

    @property
    def language(self) -> str:
        """Channel language (``agi_language``)."""
        return self.get("language")


def _split_script(raw: str) -> tuple[str, dict[str, str]]:
    path, _, query = raw.partition("?")
    params = dict(parse_qsl(query, keep_blank_values=True)) if query else {}
    return path.strip().strip("/"), params


def parse_environment(lines: list[str]) -> AgiEnvironment:
    """Build an :class:`AgiEnvironment` from the decoded environment lines (without the blank line).

    Raises :class:`AgiProtocolError` for a line without ``:`` or a key that is not ``agi_*``, and
    when ``agi_network_script`` is missing (nothing to route on).
    """
    values: dict[str, str] = {}
    for line in lines:
        key, sep, value = line.partition(":")
        key = key.strip()
        if not sep or not key.startswith("agi_") or not re.fullmatch(r"agi_\w+", key):
            raise AgiProtocolError(f"bad AGI environment line: {line[:80]!r}")
        # One optional space after the colon; a trailing space is kept (agi_accountcode: ).
        values[key] = value[1:] if value.startswith(" ") else value
    raw_script = values.get("agi_network_script")
    if raw_script is None:
        raise AgiProtocolError("AGI environment has no agi_network_script")
    script, query = _split_script(raw_script)
    args: list[str] = []
    n = 1
    while f"agi_arg_{n}" in values:
        args.append(values[f"agi_arg_{n}"])
        n += 1
    return AgiEnvironment(values=values, script=script, query=query, args=tuple(args))


def quote_arg(value: str) -> str:
    """Quote one command argument the way Asterisk's AGI argument parser reads it.

    Newlines would end the command and let an argument inject another one, so they are refused.
    """
    if "\n" in value or "\r" in value or "\0" in value:
        raise ValueError(f"AGI argument must not contain line breaks or NUL: {value!r}")
    escaped = value.replace("\\", "\\\\").replace('"', '\\"')
    return f'"{escaped}"'


def value_arg(value: str) -> str:
    """A value argument: sent bare when it is one plain word (as Asterisk's own examples and the
    traces do: ``SET VARIABLE HOTLINE_CHOICE 1``), quoted otherwise."""
    if re.fullmatch(r"[\w.@:/+-]+", value):
        return value
    return quote_arg(value)


def bare_arg(value: str) -> str:
    """An argument sent unquoted (file names, numbers, variable names): no blanks, no quotes."""
    if not value or re.search(r"[\s\"\\]", value):
        raise ValueError(f"AGI argument must be a non-empty word: {value!r}")
    return value


_REPLY_RE = re.compile(r"^200 result=([^\s(]*)(?: \((.*)\))?((?: [\w-]+=\S*)*)\s*$")


@dataclass(frozen=True)
class AgiReply:
    """A parsed ``200`` reply: ``result`` (``None`` when empty, as in ``result= (timeout)``),
    the parenthesised ``data`` and any ``key=value`` extras such as ``endpos``."""

    result: int | None
    data: str | None = None
    extras: dict[str, str] = field(default_factory=dict)
    raw_result: str = ""
    """The result exactly as sent; GET DATA's digit string lives here (``"007"``, ``"12*"``)."""


def parse_success(line: str, command: str) -> AgiReply:
    """Parse one ``200 result=...`` line; :class:`AgiProtocolError` if it does not match."""
    m = _REPLY_RE.match(line)
    if not m:
        raise AgiProtocolError(f"unparsable AGI reply to {command!r}: {line[:120]!r}")
    raw = m.group(1)
    result = int(raw) if re.fullmatch(r"-?\d+", raw) else None
    extras = dict(item.split("=", 1) for item in m.group(3).split())
    return AgiReply(result=result, data=m.group(2), extras=extras, raw_result=raw)


def reply_code(line: str) -> tuple[int, bool, str]:
    """Split a reply line into (code, is_continuation, text): ``520-...`` → (520, True, ...).

    Raises :class:`AgiProtocolError` if the line does not start with a three-digit code.
    """
    m = re.match(r"^(\d{3})([ -]?)(.*)$", line)
    if not m:
        raise AgiProtocolError(f"AGI reply without a status code: {line[:120]!r}")
    return int(m.group(1)), m.group(2) == "-", m.group(3)
