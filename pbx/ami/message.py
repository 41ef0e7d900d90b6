"""AMI wire format: an incremental parser for what Asterisk sends and an encoder for actions.

The wire format (observed on Asterisk 22, AMI 11.0.0, see ``asterisk-traces/README.md`` obs. 16):

* a single banner line ``Asterisk Call Manager/11.0.0\\r\\n`` when the connection opens;
* then messages made of ``Key: Value\\r\\n`` lines, each message closed by an empty ``\\r\\n`` line;
* empty values are written ``Key: `` (with the space);
* a key may repeat (``Variable:`` in actions, UserEvent bodies appended after the channel
  snapshot), so every pair is kept in order;
* ``OriginateResponse`` is an *event* that also carries a ``Response:`` header: classify by
  ``Event:`` first.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping

log = logging.getLogger(__name__)

BANNER_PREFIX = "Asterisk Call Manager/"
EOM = b"\r\n\r\n"
DEFAULT_MAX_MESSAGE = 256 * 1024
"""Largest message accepted (bytes). A full CoreShowChannel item is ~1 KB; a UserEvent a few."""


class AmiMessage:
    """One parsed AMI message (event or response).

    ``kind`` is ``"event"`` or ``"response"``; ``name`` is the event name (``Hangup``) or the
    response status (``Success``, ``Error``, ``Goodbye``, ``Follows``). ``pairs`` keeps every
    header in wire order, duplicates included; ``fields`` maps each key to its *last* value.
    ``server`` is the id of the Asterisk server the message came from (set by the client).
    """

    __slots__ = ("fields", "kind", "name", "pairs", "server")

    def __init__(
        self, kind: str, name: str, pairs: list[tuple[str, str]], server: str = ""
    ) -> None:
        self.kind = kind
        self.name = name
        self.pairs = pairs
        self.fields: dict[str, str] = dict(pairs)
        self.server = server

    def get(self, key: str, default: str | None = None) -> str | None:
        """Value of ``key`` (exact case as Asterisk writes it, then case-insensitively)."""
        value = self.fields.get(key)
        if value is not None:
            return value
        low = key.lower()
        for k, v in reversed(self.pairs):
            if k.lower() == low:
                return v
        return default

    def getall(self, key: str) -> list[str]:
        """Every value of a repeated key, in wire order."""
        low = key.lower()
        return [v for k, v in self.pairs if k.lower() == low]

    def __getitem__(self, key: str) -> str:
        value = self.get(key)
        if value is None:
            raise KeyError(key)
        return value

    def __contains__(self, key: object) -> bool:
        return isinstance(key, str) and self.get(key) is not None

    @property
    def action_id(self) -> str | None:
        """``ActionID`` header, if any."""
        return self.fields.get("ActionID")

    @property
    def is_event(self) -> bool:
        return self.kind == "event"

    def __repr__(self) -> str:
        return f"<AmiMessage {self.kind} {self.name} server={self.server!r} {len(self.pairs)} keys>"


def parse_block(block: str) -> AmiMessage | None:
    """Parse one message (without its terminating blank line). ``None`` if it is not an AMI
    message (no ``Event:`` and no ``Response:`` header); malformed lines inside are skipped."""
    pairs: list[tuple[str, str]] = []
    bad = 0
    for line in block.split("\r\n"):
        k, sep, v = line.partition(": ")
        if not sep:
            # Tolerate "Key:" (no space) which some proxies write; anything else is garbage.
            k, sep, v = line.partition(":")
            if not sep or not k or " " in k:
                if line:
                    bad += 1
                continue
        pairs.append((k, v))
    if bad:
        log.warning("ami: skipped %d malformed line(s) in a message", bad)
    event = response = None
    for k, v in pairs:
        if k == "Event":
            event = v
            break
        if k == "Response" and response is None:
            response = v
    if event is not None:  # classify by Event first: OriginateResponse has Response: too
        return AmiMessage("event", event, pairs)
    if response is not None:
        return AmiMessage("response", response, pairs)
    # case-insensitive fallback for hand-written peers
    for k, v in pairs:
        kl = k.lower()
        if kl == "event":
            return AmiMessage("event", v, pairs)
    for k, v in pairs:
        if k.lower() == "response":
            return AmiMessage("response", v, pairs)
    return None


class AmiParser:
    """Incremental parser: ``feed(bytes)`` returns the complete messages found so far.

    Never raises on bad input. A message larger than ``max_message`` bytes is discarded up to
    its terminating blank line (``oversized`` counts them); blocks that are not AMI messages are
    dropped (``dropped`` counts them). The banner (``Asterisk Call Manager/x.y.z``) is stored in
    ``banner`` / ``version``.
    """

    def __init__(self, *, max_message: int = DEFAULT_MAX_MESSAGE, expect_banner: bool = True):
        self.max_message = max_message
        self._buf = b""
        self._expect_banner = expect_banner
        self._skipping = False
        self.banner: str | None = None
        self.oversized = 0
        self.dropped = 0

    @property
    def version(self) -> str | None:
        """AMI version from the banner (``11.0.0``), or ``None`` before it arrived."""
        if self.banner and self.banner.startswith(BANNER_PREFIX):
            return self.banner[len(BANNER_PREFIX) :].strip()
        return None

    def feed(self, data: bytes) -> list[AmiMessage]:
        """Add received bytes; return the messages completed by them."""
        buf = self._buf + data if self._buf else data
        if self._expect_banner:
            nl = buf.find(b"\r\n")
            if nl < 0:
                if len(buf) > self.max_message:
                    self._expect_banner = False
                    log.warning("ami: no banner line within %d bytes", self.max_message)
                else:
                    self._buf = buf
                    return []
            else:
                first = buf[:nl].decode("utf-8", "replace")
                if first.startswith(BANNER_PREFIX):
                    self.banner = first
                    buf = buf[nl + 2 :]
                self._expect_banner = False
        out: list[AmiMessage] = []
        pos = 0
        if self._skipping:
            end = buf.find(EOM)
            if end < 0:
                self._buf = buf[-3:]
                return out
            pos = end + 4
            self._skipping = False
        while True:
            end = buf.find(EOM, pos)
            if end < 0:
                break
            if end - pos > self.max_message:
                self.oversized += 1
                log.warning(
                    "ami: dropped a %d-byte message (limit %d)", end - pos, self.max_message
                )
            elif end > pos:
                msg = parse_block(buf[pos:end].decode("utf-8", "replace"))
                if msg is None:
                    self.dropped += 1
                    log.warning("ami: dropped a block that is not an AMI message")
                else:
                    out.append(msg)
            pos = end + 4
        rest = buf[pos:]
        if len(rest) > self.max_message:
            # Too long and still unterminated: discard it and skip up to the next blank line.
            self.oversized += 1
            self._skipping = True
            log.warning("ami: discarding an unterminated message over %d bytes", self.max_message)
            rest = rest[-3:]
            end = rest.find(EOM)
            if end >= 0:  # pragma: no cover - cannot hold 4 bytes in 3
                rest = rest[end + 4 :]
                self._skipping = False
        self._buf = rest
        return out


def _check(text: str, what: str) -> str:
    if "\r" in text or "\n" in text:
        raise ValueError(f"AMI {what} must not contain CR or LF: {text!r}")
    return text


def encode_action(
    action: str,
    headers: Mapping[str, object] | Iterable[tuple[str, object]] = (),
    action_id: str | None = None,
) -> bytes:
    """Encode an action. ``headers`` may be a mapping or pairs; a list/tuple value repeats the
    key (``Variable``). Values with CR/LF are refused (they would inject AMI headers)."""
    lines = [f"Action: {_check(action, 'action')}"]
    if action_id is not None:
        lines.append(f"ActionID: {_check(action_id, 'ActionID')}")
    items = headers.items() if isinstance(headers, Mapping) else headers
    for key, value in items:
        _check(key, "header name")
        values = value if isinstance(value, list | tuple) else [value]
        for v in values:
            if v is None:
                continue
            if isinstance(v, bool):
                v = "true" if v else "false"
            lines.append(f"{key}: {_check(str(v), 'header value')}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("utf-8")
