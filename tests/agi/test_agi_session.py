"""AgiSession command encoding and reply edge cases, over a real socket."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

import pytest

from pbx.agi import (
    AgiCommandError,
    AgiProtocolError,
    AgiServerConfig,
    AgiSession,
    AgiUsageError,
    CallerHungUp,
    FastAgiServer,
)
from tests.fakes.fake_agi import environment

HOST = "127.0.0.1"


async def exchange(handler: Callable[[AgiSession], Awaitable[None]],
                   replies: list[bytes], **config: object) -> list[str]:
    """Run ``handler`` against a client answering each command with the next of ``replies``;
    returns the commands the server sent."""
    async with FastAgiServer({"t": handler},
                             AgiServerConfig(host=HOST, port=0, **config)) as server:  # type: ignore[arg-type]
        reader, writer = await asyncio.open_connection(HOST, server.port)
        writer.write(environment("t"))
        sent: list[str] = []
        for reply in replies:
            line = await asyncio.wait_for(reader.readline(), 5)
            if not line:
                break
            sent.append(line.decode().rstrip("\n"))
            writer.write(reply)
        assert await asyncio.wait_for(reader.read(), 5) == b""
        writer.close()
        return sent


async def test_typed_commands_encode_like_asterisk_expects() -> None:
    got: dict[str, object] = {}

    async def handler(s: AgiSession) -> None:
        got["digits"] = await s.get_data("menu", 5000, 4)
        got["timeout"] = await s.get_data("menu", 5000, 4)
        got["partial"] = await s.get_data("menu", 5000, 4)
        got["escape"] = await s.stream_file("greeting", "12#")
        got["none"] = await s.wait_for_digit(100)
        got["star"] = await s.say_digits("12345", "*")
        await s.say_number(1024)
        await s.set_variable("HOTLINE_NOTE", '投诉 "加急"')
        got["unset"] = await s.get_variable("NOPE")
        got["exec"] = await s.exec("Playback", "beep", "noanswer")
        await s.verbose("hello", 3)

    sent = await exchange(handler, [
        b"200 result=0072\n", b"200 result= (timeout)\n", b"200 result=12 (timeout)\n",
        b"200 result=35 endpos=1600\n", b"200 result=0\n", b"200 result=42\n",
        b"200 result=0\n", b"200 result=1\n", b"200 result=0\n", b"200 result=0\n",
        b"200 result=1\n"])
    assert sent == [
        "GET DATA menu 5000 4", "GET DATA menu 5000 4", "GET DATA menu 5000 4",
        'STREAM FILE greeting "12#"', "WAIT FOR DIGIT 100", 'SAY DIGITS 12345 "*"',
        'SAY NUMBER 1024 ""', 'SET VARIABLE HOTLINE_NOTE "投诉 \\"加急\\""', "GET VARIABLE NOPE",
        'EXEC Playback "beep,noanswer"', 'VERBOSE "hello" 3']
    assert got == {"digits": "0072", "timeout": "", "partial": "12", "escape": "#",
                   "none": None, "star": "*", "unset": None, "exec": 0}


async def test_bad_arguments_are_refused_before_sending() -> None:
    errors: list[str] = []

    async def handler(s: AgiSession) -> None:
        for call in (lambda: s.stream_file("bad name"), lambda: s.stream_file("x", "1x"),
                     lambda: s.set_variable("A", "1\nHANGUP"), lambda: s.say_digits("12a"),
                     lambda: s.get_data("menu", 0, 1), lambda: s.command("NOOP\nHANGUP")):
            with pytest.raises(ValueError) as exc:
                await call()
            errors.append(str(exc.value))
        await s.verbose("still fine")

    assert await exchange(handler, [b"200 result=1\n"]) == ['VERBOSE "still fine" 1']
    assert len(errors) == 6


async def test_error_replies() -> None:
    seen: list[type] = []

    async def handler(s: AgiSession) -> None:
        for cmd in ("EXEC Nope", "GET DATA", "WEIRD", "STREAM FILE x \"\"", "ANSWER"):
            try:
                if cmd.startswith("EXEC"):
                    await s.exec("Nope")
                else:
                    await s.command(cmd)
            except (AgiCommandError, AgiProtocolError, CallerHungUp) as exc:
                seen.append(type(exc))

    await exchange(handler, [b"200 result=-2\n", b"520 Invalid command syntax.\n",
                             b"404 who knows\n", b"200 bogus\n", b"HANGUP\n511 dead\n"])
    assert seen == [AgiCommandError, AgiUsageError, AgiCommandError, AgiProtocolError,
                    CallerHungUp]


async def test_reply_timeout_ends_the_call() -> None:
    outcome: list[str] = []

    async def handler(s: AgiSession) -> None:
        try:
            await s.answer()
        except AgiProtocolError as exc:
            outcome.append(str(exc))

    async with FastAgiServer({"t": handler}, AgiServerConfig(
            host=HOST, port=0, reply_timeout=0.2)) as server:
        reader, writer = await asyncio.open_connection(HOST, server.port)
        writer.write(environment("t"))
        assert await reader.readline() == b"ANSWER\n"
        # never answer: the server gives up and closes
        assert await asyncio.wait_for(reader.read(), 3) == b""
        writer.close()
    assert outcome and "no AGI reply" in outcome[0]
