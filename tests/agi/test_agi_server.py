"""FastAGI server over real TCP: captured traces replayed, and hostile clients.

After every hostile case a normal call must still be served.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable

import pytest

from pbx.agi import (
    AgiCommandError,
    AgiServerConfig,
    AgiSession,
    AgiUsageError,
    CallerHungUp,
    FastAgiServer,
    Handler,
)
from tests.fakes.fake_agi import FakeCaller, environment, load_sessions, replay

HOST = "127.0.0.1"
Start = Callable[..., Awaitable[FastAgiServer]]


@pytest.fixture
async def serve() -> AsyncIterator[Start]:
    servers: list[FastAgiServer] = []

    async def start(routes: dict[str, Handler], **config: object) -> FastAgiServer:
        server = FastAgiServer(routes, AgiServerConfig(host=HOST, port=0, **config))  # type: ignore[arg-type]
        await server.start()
        servers.append(server)
        return server

    yield start
    for server in servers:
        await server.close()


async def simple_ivr(s: AgiSession) -> None:
    await s.answer()
    choice = await s.get_data("menu", 3000, 1)
    await s.set_variable("HOTLINE_CHOICE", choice)


async def wait_idle(server: FastAgiServer) -> None:
    """The server finishes a call after the client left (it drains the trailing HANGUP)."""
    for _ in range(200):
        if server.stats.active == 0:
            return
        await asyncio.sleep(0.01)
    raise AssertionError(f"server still has {server.stats.active} active calls")


async def assert_still_serving(server: FastAgiServer) -> None:
    caller = await FakeCaller(["2"]).call(HOST, server.port)
    assert caller.variables["HOTLINE_CHOICE"] == "2"


# -- captured sessions ---------------------------------------------------------------------------

IVR_TRACES = ["02-inbound-answered", "03-inbound-abandoned", "04-ring-no-answer",
              "05-agent-hangs-up-first", "06-blind-transfer", "07-attended-transfer",
              "08-three-way", "09-queue-members", "13-chanspy"]


@pytest.mark.parametrize("trace", IVR_TRACES)
async def test_replay_inbound_ivr_sessions(serve: Start, trace: str) -> None:
    seen: list[str] = []

    async def handler(s: AgiSession) -> None:
        await s.answer()
        await s.verbose(f"12345 IVR: call from {s.env.callerid}")
        assert await s.stream_file("hello-world", "0123456789") is None
        digits = await s.get_data("dir-pls-enter", 5000, 1)
        seen.append(digits)
        await s.set_variable("HOTLINE_CHOICE", digits)
        await s.set_variable("HOTLINE_QUEUE", "hotline-general")
        await s.verbose(f"12345 IVR: choice {digits} -> queue hotline-general")

    server = await serve({"ivr": handler})
    for session in load_sessions(trace):
        await replay(HOST, server.port, session)
    assert seen and set(seen) == {"1"}
    assert server.stats.completed == len(seen)


async def test_replay_survey_callback(serve: Start) -> None:
    seen: list[object] = []

    async def handler(s: AgiSession) -> None:
        await s.verbose(f"survey callback for work order {s.env.args[0]}")
        await s.stream_file("hello-world")
        key = await s.wait_for_digit(10000)  # reply is "200 result=49", ASCII of '1'
        seen.append(key)
        await s.set_variable("SURVEY_RESULT", key or "")
        await s.stream_file("auth-thankyou")
        await s.hangup()
        seen.append(s.hung_up)

    server = await serve({"survey": handler})
    (session,) = load_sessions("10-callback-survey")
    await replay(HOST, server.port, session)
    assert seen == ["1", True]


async def test_replay_hangup_probe_session(serve: Start) -> None:
    """Trace 11 call (a): 510, multi-line 520, hang-up during STREAM FILE, then the unsolicited
    HANGUP before VERBOSE's 200, working variable commands and 511 for media."""
    outcome: dict[str, object] = {}

    async def handler(s: AgiSession) -> None:
        await s.answer()
        assert (await s.command("NOOP")).result == 0
        with pytest.raises(AgiCommandError) as unknown:
            await s.command("FOO BAR")
        outcome["510"] = unknown.value.code
        with pytest.raises(AgiUsageError) as usage:
            await s.command("GET DATA")
        outcome["usage"] = usage.value.usage
        with pytest.raises(CallerHungUp) as gone:
            await s.stream_file("demo-congrats", "0123456789")
        outcome["reason"] = gone.value.reason
        await s.verbose("ivr: caller gone, probing dead channel")
        outcome["callid"] = await s.get_variable("HOTLINE_CALLID")
        await s.set_variable("HOTLINE_IVR_ABANDONED", "1")
        dead: list[str] = []
        for probe in (s.command("CHANNEL STATUS"), s.stream_file("beep"),
                      s.get_data("beep", 1000, 1), s.wait_for_digit(1000)):
            with pytest.raises(CallerHungUp) as exc:
                await probe
            dead.append(exc.value.reason)
        outcome["dead"] = dead

    server = await serve({"ivr": handler})
    session = load_sessions("11-agi-hangup")[0]
    await replay(HOST, server.port, session)
    assert outcome["510"] == 510
    assert str(outcome["usage"]).startswith("Stream the given <replaceable>file</replaceable>")
    assert outcome["reason"] == "result=-1"
    assert outcome["callid"] == "pbx1-1795838224.27"
    assert outcome["dead"] == ["511 dead channel"] * 4
    assert server.stats.completed == 1


async def test_replay_hangup_during_get_data_ends_handler(serve: Start) -> None:
    """Trace 11 call (b): GET DATA returns -1 → CallerHungUp reaches the server, which still
    performs the cleanup commands the flow sends in its `except` block."""
    cleaned: list[str | None] = []

    async def handler(s: AgiSession) -> None:
        await s.answer()
        await s.verbose(f"12345 IVR: call from {s.env.callerid}")
        await s.stream_file("hello-world", "0123456789")
        try:
            await s.get_data("dir-pls-enter", 8000, 1)
        except CallerHungUp:
            await s.verbose("ivr: caller gone, probing dead channel")
            cleaned.append(await s.get_variable("HOTLINE_CALLID"))
            await s.set_variable("HOTLINE_IVR_ABANDONED", "1")
            await s.command("CHANNEL STATUS")  # 511 → CallerHungUp propagates to the server
        raise AssertionError("not reached")

    server = await serve({"ivr": handler})
    session = load_sessions("11-agi-hangup")[1]
    # Only replay up to CHANNEL STATUS: the handler stops there (the trace went on probing).
    session.steps = session.steps[:8]
    await replay(HOST, server.port, session)
    assert cleaned == ["pbx1-1795838231.28"]
    assert server.stats.hung_up == 1


# -- hostile clients -----------------------------------------------------------------------------

async def raw_exchange(port: int, payload: bytes, *, close: bool = True,
                       wait: float = 3.0) -> bytes:
    reader, writer = await asyncio.open_connection(HOST, port)
    writer.write(payload)
    await writer.drain()
    if close:
        writer.write_eof()
    try:
        return await asyncio.wait_for(reader.read(), wait)
    finally:
        writer.close()


@pytest.mark.parametrize(
    "garbage",
    [
        b"\x00\xff\xfe garbage \x80\x81\n\n",
        b"GET / HTTP/1.1\r\nHost: x\r\n\r\n",
        b"agi_network: yes\nno colon here\n\n",
        b"\n",  # empty environment: no script
        bytes(range(256)) * 4,
    ],
)
async def test_garbage_is_dropped_and_others_served(serve: Start, garbage: bytes) -> None:
    server = await serve({"ivr": simple_ivr})
    assert await raw_exchange(server.port, garbage) == b""
    await assert_still_serving(server)
    assert server.stats.bad_environment == 1


async def test_garbage_reply_mid_call_ends_that_call_only(serve: Start) -> None:
    server = await serve({"ivr": simple_ivr})
    reader, writer = await asyncio.open_connection(HOST, server.port)
    writer.write(environment())
    assert await reader.readline() == b"ANSWER\n"
    writer.write(b"\xde\xad\xbe\xef nonsense\n")
    assert await asyncio.wait_for(reader.read(), 3) == b""
    writer.close()
    await assert_still_serving(server)
    assert server.stats.failed == 1


async def test_environment_that_never_ends_is_closed_after_timeout(serve: Start) -> None:
    server = await serve({"ivr": simple_ivr}, env_timeout=0.3)
    reader, writer = await asyncio.open_connection(HOST, server.port)
    writer.write(b"agi_network: yes\nagi_network_script: ivr\n")  # no blank line, ever
    started = time.monotonic()
    await assert_still_serving(server)  # served while the slow one is pending
    assert await asyncio.wait_for(reader.read(), 3) == b""
    assert 0.25 < time.monotonic() - started < 2.0
    writer.close()
    assert server.stats.bad_environment == 1


async def test_oversized_environment_is_refused(serve: Start) -> None:
    server = await serve({"ivr": simple_ivr}, env_max_bytes=2048)
    huge = b"".join(f"agi_var_{i}: {'x' * 50}\n".encode() for i in range(100)) + b"\n"
    assert await raw_exchange(server.port, huge, close=False) == b""
    line = b"agi_network_script: " + b"i" * 20_000 + b"\n\n"  # one line past the line limit
    assert await raw_exchange(server.port, line, close=False) == b""
    await assert_still_serving(server)
    assert server.stats.bad_environment == 2


async def test_connect_and_close_health_check(serve: Start) -> None:
    server = await serve({"ivr": simple_ivr})
    for _ in range(50):
        _reader, writer = await asyncio.open_connection(HOST, server.port)
        writer.close()
        await writer.wait_closed()
    # The loop is not spinning (panoramisk's failure mode): a short sleep stays short.
    started = time.monotonic()
    await asyncio.sleep(0.05)
    assert time.monotonic() - started < 0.5
    await assert_still_serving(server)
    for _ in range(50):
        if server.stats.bad_environment == 50:
            break
        await asyncio.sleep(0.02)
    assert server.stats.bad_environment == 50
    await wait_idle(server)


async def test_thousand_connections_at_once(serve: Start) -> None:
    server = await serve({"ivr": simple_ivr})
    callers = [FakeCaller([str(i % 10)]) for i in range(1000)]
    done = await asyncio.gather(*(c.call(HOST, server.port, wait=30) for c in callers))
    assert [c.variables.get("HOTLINE_CHOICE") for c in done] == [str(i % 10) for i in range(1000)]
    await wait_idle(server)
    assert server.stats.completed == 1000


async def test_unknown_route_and_query_arguments(serve: Start) -> None:
    seen: list[dict[str, str]] = []

    async def handler(s: AgiSession) -> None:
        seen.append(s.env.query)
        await s.set_variable("OK", "1")

    server = await serve({"/ivr": handler})
    caller = await FakeCaller().call(HOST, server.port, script="ivr?lang=zh&x=1")
    assert caller.variables == {"OK": "1"}
    assert seen == [{"lang": "zh", "x": "1"}]
    stray = await FakeCaller().call(HOST, server.port, script="nowhere")
    assert stray.commands == []
    assert server.stats.unrouted == 1


async def test_allow_list(serve: Start) -> None:
    closed = await serve({"ivr": simple_ivr}, allow=("10.0.0.0/8",))
    caller = await FakeCaller(["1"]).call(HOST, closed.port)
    assert caller.commands == []
    assert closed.stats.rejected == 1
    opened = await serve({"ivr": simple_ivr}, allow=("10.0.0.0/8", "127.0.0.1"))
    await assert_still_serving(opened)
    with pytest.raises(ValueError, match="allow-list"):
        AgiServerConfig(allow=("not-an-address",))


async def test_crashing_handler_and_caller_hangup(serve: Start) -> None:
    async def crash(s: AgiSession) -> None:
        await s.answer()
        raise RuntimeError("bug in a flow")

    server = await serve({"crash": crash, "ivr": simple_ivr})
    await FakeCaller().call(HOST, server.port, script="crash")
    hung = await FakeCaller(["1"], hang_up_at=1).call(HOST, server.port)
    assert hung.commands == ["ANSWER", "GET DATA menu 3000 1"]
    await assert_still_serving(server)
    assert (server.stats.failed, server.stats.hung_up, server.stats.completed) == (1, 1, 1)


async def test_graceful_close_cancels_stuck_calls(serve: Start) -> None:
    async def slow(s: AgiSession) -> None:
        await s.answer()
        await asyncio.sleep(30)

    server = await serve({"ivr": slow}, shutdown_grace=0.2)
    port = server.port
    reader, writer = await asyncio.open_connection(HOST, server.port)
    writer.write(environment())
    assert await reader.readline() == b"ANSWER\n"
    writer.write(b"200 result=0\n")
    await asyncio.sleep(0.05)
    started = time.monotonic()
    await server.close()
    assert time.monotonic() - started < 2
    assert await asyncio.wait_for(reader.read(), 2) == b""
    writer.close()
    with pytest.raises(OSError):
        await asyncio.open_connection(HOST, port)


async def test_call_logs_carry_the_call_id(serve: Start) -> None:
    from kit import logctx

    seen: list[dict[str, object]] = []

    async def handler(s: AgiSession) -> None:
        seen.append(dict(logctx.current()))

    server = await serve({"ivr": handler})
    await FakeCaller().call(HOST, server.port, agi_uniqueid="pbx1-1795837952.99")
    assert seen[0]["call_id"] == "pbx1-1795837952.99"
    assert seen[0]["agi_script"] == "ivr"
