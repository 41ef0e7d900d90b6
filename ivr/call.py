"""The per-call context flows run in, and the runner that always leaves a record.

A flow is ``async def flow(call: IvrCall) -> None``. It marks each step with ``call.enter(...)``;
if the caller hangs up, :class:`~pbx.agi.protocol.CallerHungUp` propagates out of the flow and
:func:`run_flow` records the hang-up at the current step (R2.5).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Collection
from dataclasses import dataclass, field
from datetime import UTC, date, datetime

from ivr.config import IvrConfig
from ivr.ports import OrderDirectory, Originator, QueueProbe
from ivr.prompts import P
from ivr.records import IvrCallRecord, Outcome
from ivr.store import IvrStore, JobSink
from pbx.agi.protocol import AgiError, CallerHungUp
from pbx.agi.session import AgiChannel

log = logging.getLogger(__name__)


@dataclass
class IvrDeps:
    """Everything flows use besides the channel; built once by the composition root."""

    store: IvrStore
    orders: OrderDirectory
    jobs: JobSink
    config: IvrConfig = field(default_factory=IvrConfig)
    originator: Originator | None = None
    queue_probe: QueueProbe | None = None
    clock: Callable[[], datetime] = field(default=lambda: datetime.now(UTC))
    holiday: Callable[[date], Awaitable[bool]] | None = None
    """Whether a local date is a statutory holiday (no 办结回访 calls then); None: never."""


class IvrCall:
    """A flow's handle on one call: the channel, its record, and input helpers."""

    def __init__(self, channel: AgiChannel, record: IvrCallRecord, deps: IvrDeps) -> None:
        self.channel = channel
        self.record = record
        self.deps = deps
        self.config = deps.config

    def enter(self, step: str) -> None:
        """Mark the start of a step (where a hang-up will be recorded)."""
        self.record.enter(step)

    async def play(self, prompt: str) -> None:
        """Play one prompt to the end."""
        await self.channel.stream_file(self.config.prompt(prompt))

    async def ask(self, prompt: str, valid: Collection[str], *, max_digits: int = 1,
                  timeout_ms: int | None = None) -> str | None:
        """Play ``prompt`` and read keys until a valid answer; ``None`` after
        ``max_attempts`` invalid or empty answers (R2.5: then the caller goes to an agent)."""
        return await self.ask_until(prompt, lambda d: d in valid, max_digits=max_digits,
                                    timeout_ms=timeout_ms)

    async def ask_until(self, prompt: str, accept: Callable[[str], bool], *,
                        max_digits: int = 1, timeout_ms: int | None = None,
                        rejected_prompt: str = P.INVALID_INPUT) -> str | None:
        """Like :meth:`ask` with a predicate; ``rejected_prompt`` is played for invalid keys."""
        timeout = timeout_ms or self.config.menu_timeout_ms
        for _ in range(self.config.max_attempts):
            digits = await self.channel.get_data(self.config.prompt(prompt), timeout, max_digits)
            self.record.note_input(digits or None)
            if digits and accept(digits):
                return digits
            await self.play(rejected_prompt if digits else P.NO_INPUT)
        return None

    async def set_vars(self, **variables: str) -> None:
        """Set channel variables for the dialplan (names as given)."""
        for name, value in variables.items():
            await self.channel.set_variable(name, value)


Flow = Callable[[IvrCall], Awaitable[None]]


async def run_flow(flow: Flow, name: str, channel: AgiChannel, deps: IvrDeps) -> IvrCallRecord:
    """Run ``flow`` on ``channel``; whatever happens, finish and save the call's record.

    A hang-up ends the session cleanly (outcome ``hangup``, ``step`` = where the caller left) and
    sets ``HOTLINE_IVR_ABANDONED=1`` — Asterisk still accepts SET VARIABLE on a dead channel
    (trace 11), and the AMI side sees it as a VarSet.
    """
    env = channel.env
    record = IvrCallRecord(
        call_id=env.uniqueid, flow=name,
        caller=(env.args[0] if env.args and name == "ivr" else "") or env.callerid,
        channel=env.channel, language=env.query.get("lang") or deps.config.language,
        started_at=deps.clock(),
    )
    call = IvrCall(channel, record, deps)
    try:
        await flow(call)
        if record.outcome is None:
            record.finish(Outcome.ERROR, "flow ended without an outcome")
    except CallerHungUp as exc:
        record.hung_up = True
        record.finish(Outcome.HANGUP)
        log.info("IVR %s: caller left at %s (%s)", name, record.step, exc.reason)
        if exc.reason != "connection closed":
            try:
                await channel.set_variable("HOTLINE_IVR_ABANDONED", "1")
            except AgiError:
                pass
    except asyncio.CancelledError:
        record.finish(Outcome.ERROR, "cancelled (server shutdown)")
        raise
    except AgiError as exc:
        record.finish(Outcome.ERROR, f"{type(exc).__name__}: {exc}")
        log.warning("IVR %s failed at %s: %s", name, record.step, exc)
    except Exception as exc:
        record.finish(Outcome.ERROR, f"{type(exc).__name__}: {exc}")
        log.exception("IVR %s crashed at %s", name, record.step)
    finally:
        record.ended_at = deps.clock()
        try:
            # Shielded: a server shutdown must not lose the record of a finished call.
            await asyncio.shield(deps.store.save_session(record))
        except Exception:
            log.exception("could not save IVR record of %s", record.call_id)
    return record
