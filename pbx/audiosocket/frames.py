"""AudioSocket wire format (Asterisk ``res_audiosocket``).

A frame is ``kind (1 byte) + payload length (2 bytes, big-endian) + payload``. Kinds seen from a
real Asterisk 22 (asterisk-traces/12-audiosocket.frames.txt):

- ``0x01`` UUID: the first frame, 16 *raw* bytes (the ``AudioSocket(uuid,…)`` argument);
- ``0x03`` DTMF: one ASCII byte (``03 00 01 31`` is '1');
- ``0x10`` audio: signed linear 8 kHz 16-bit little-endian mono. The size follows the caller's
  RTP packetization (480 bytes = 30 ms in the trace), so it is not fixed at 320;
- ``0x00`` hangup: sent by *us* to end ``AudioSocket()``; Asterisk never sends it, it just
  closes the TCP connection when the caller hangs up;
- ``0xff`` error: one optional error-code byte.
"""

from __future__ import annotations

import enum
import struct
import uuid
from dataclasses import dataclass

HEADER = struct.Struct(">BH")
MAX_AUDIO_PAYLOAD = 8000  # 0.5 s of slin8k; real frames are 160-960 bytes.
SAMPLE_RATE = 8000


class Kind(enum.IntEnum):
    """Frame kinds of the AudioSocket protocol."""

    HANGUP = 0x00
    UUID = 0x01
    SILENCE = 0x02
    DTMF = 0x03
    AUDIO = 0x10
    ERROR = 0xFF


class FrameError(ValueError):
    """Bytes that are not a valid AudioSocket frame; the connection cannot be trusted after it."""


@dataclass(frozen=True)
class Frame:
    """One decoded frame."""

    kind: Kind
    payload: bytes

    @property
    def uuid(self) -> uuid.UUID:
        """The call UUID of a ``UUID`` frame."""
        return uuid.UUID(bytes=self.payload)

    @property
    def digit(self) -> str:
        """The DTMF digit of a ``DTMF`` frame."""
        return self.payload.decode("ascii")


def encode(kind: Kind, payload: bytes = b"") -> bytes:
    """Frame bytes for ``kind`` and ``payload``."""
    if len(payload) > 0xFFFF:
        raise ValueError(f"AudioSocket payload too long: {len(payload)} bytes")
    return HEADER.pack(int(kind), len(payload)) + payload


HANGUP_FRAME = encode(Kind.HANGUP)
"""``00 00 00``: ends AudioSocket() cleanly; the dialplan continues (channel Cause 16)."""


def audio_frame(pcm: bytes) -> bytes:
    """An audio frame (slin 8 kHz, 16-bit little-endian)."""
    return encode(Kind.AUDIO, pcm)


def uuid_frame(call_uuid: uuid.UUID) -> bytes:
    """The identification frame Asterisk sends first."""
    return encode(Kind.UUID, call_uuid.bytes)


# Newer AudioSocket peers can send slin at other rates (kinds 0x11-0x18) through the channel
# driver; the hotline uses the 8 kHz application form only, so those are refused by name.
HIGHER_RATE_KINDS = {0x11: 12000, 0x12: 16000, 0x13: 24000, 0x14: 32000, 0x15: 44100,
                     0x16: 48000, 0x17: 96000, 0x18: 192000}
# Error codes Asterisk puts in a 0xff frame (bit flags).
ASTERISK_ERRORS = {0x01: "hangup of calling party", 0x02: "frame forwarding error",
                   0x04: "memory (allocation) error"}


def unknown_kind(kind_byte: int) -> FrameError:
    """The error for a kind byte this server does not handle."""
    if kind_byte in HIGHER_RATE_KINDS:
        return FrameError(f"AudioSocket audio kind 0x{kind_byte:02x} "
                          f"(slin {HIGHER_RATE_KINDS[kind_byte]} Hz) is not supported: "
                          "use 8 kHz slin (kind 0x10)")
    return FrameError(f"unknown AudioSocket frame kind 0x{kind_byte:02x}")


def describe_error(payload: bytes) -> str:
    """Human text of an error frame's code."""
    if not payload:
        return "no error code"
    code = payload[0]
    names = [text for bit, text in ASTERISK_ERRORS.items() if code & bit]
    return f"0x{code:02x} ({', '.join(names) or 'application-specific'})"


def validate(kind_byte: int, payload: bytes) -> Frame:
    """Check a frame's kind and length rules and return it decoded, or raise FrameError."""
    try:
        kind = Kind(kind_byte)
    except ValueError:
        raise unknown_kind(kind_byte) from None
    n = len(payload)
    if kind is Kind.UUID and n != 16:
        raise FrameError(f"UUID frame must carry 16 bytes, got {n}")
    if kind is Kind.DTMF:
        if n != 1 or chr(payload[0]) not in "0123456789*#ABCD":
            raise FrameError(f"DTMF frame must carry one digit byte, got {payload!r}")
    if kind is Kind.AUDIO:
        if n == 0 or n % 2:
            raise FrameError(f"audio frame must carry whole 16-bit samples, got {n} bytes")
        if n > MAX_AUDIO_PAYLOAD:
            raise FrameError(f"audio frame of {n} bytes exceeds {MAX_AUDIO_PAYLOAD}")
    if kind is Kind.HANGUP and n:
        raise FrameError(f"hangup frame must be empty, got {n} bytes")
    if kind is Kind.ERROR and n > 1:
        raise FrameError(f"error frame carries at most one code byte, got {n}")
    return Frame(kind, bytes(payload))


class FrameDecoder:
    """Incremental decoder: feed bytes as they arrive, take complete frames out."""

    def __init__(self) -> None:
        self._buf = bytearray()

    def feed(self, data: bytes) -> list[Frame]:
        """Append ``data``; return every complete frame now available. Raises FrameError."""
        self._buf += data
        frames = []
        while len(self._buf) >= HEADER.size:
            kind, length = HEADER.unpack_from(self._buf)
            if kind not in Kind._value2member_map_:
                raise unknown_kind(kind)
            if kind == Kind.AUDIO and length > MAX_AUDIO_PAYLOAD:
                raise FrameError(f"audio frame of {length} bytes exceeds {MAX_AUDIO_PAYLOAD}")
            if len(self._buf) < HEADER.size + length:
                break
            payload = bytes(self._buf[HEADER.size : HEADER.size + length])
            del self._buf[: HEADER.size + length]
            frames.append(validate(kind, payload))
        return frames

    @property
    def pending(self) -> int:
        """Bytes of an incomplete frame still buffered."""
        return len(self._buf)
