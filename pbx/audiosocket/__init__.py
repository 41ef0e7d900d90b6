"""Asterisk AudioSocket: frame codec and asyncio TCP server (SPEC R1.4)."""

from pbx.audiosocket.frames import Frame, FrameDecoder, FrameError, Kind, encode
from pbx.audiosocket.server import AudioSession, AudioSocketConnection, AudioSocketServer

__all__ = [
    "AudioSession",
    "AudioSocketConnection",
    "AudioSocketServer",
    "Frame",
    "FrameDecoder",
    "FrameError",
    "Kind",
    "encode",
]
