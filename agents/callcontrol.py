"""Call control for the agent's current call (第十一条: 转接、三方通话) and supervisor
listen / whisper / barge, as AMI actions (traces 06, 07, 08, 13).

* Blind transfer: ``BlindTransfer`` with the *agent* channel (the transferer) as ``Channel``;
  the citizen continues in ``<exten>@hotline-internal`` (obs. 13).
* Attended transfer: ``Atxfer`` on the agent channel (Asterisk injects the ``atxfer`` feature
  code and the digits as DTMF; needs ``features.conf`` and Queue option ``t``). The answer is
  only "queued". **Complete** = hang up the agent channel: Asterisk then joins citizen and
  target (``AttendedTransfer DestType: Bridge``, trace 07). **Cancel** = hang up the consult
  leg (the ``Local/<exten>@hotline-internal-…;1`` channel Atxfer created): the transferer is
  put back with the citizen, as when the target hangs up during the consultation.
* Three-way: ``Redirect`` the citizen with ``ExtraChannel`` = agent into
  ``room-<call>@hotline-conf`` (ConfBridge), then ``Originate`` the unit's number into the same
  room. The agent may leave (hang up); the citizen and the unit stay; MixMonitor on the
  citizen's channel keeps recording (trace 08: 13.34 s through the conference).
* Supervisor (listen / whisper / barge): ``Originate`` the supervisor's phone into
  ``<mode>@hotline-supervisor``, where the dialplan runs ``ChanSpy(${SPY_TARGET},q|qw|qB)``.
  Whisper legs end only when the spied call ends (obs. 19).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Protocol

from agents.amierrors import ami
from agents.screenpop import record_for
from agents.states import ActiveCall, AgentBoard, AgentLive
from kit.errors import Conflict, NotFound, Unprocessable
from pbx import dialplan

from .ports import Pbx

EXTEN_RE = re.compile(r"^[0-9A-Za-z+*#]{1,32}$")


class UnitDirectory(Protocol):
    """Phone numbers of member units (成员单位) for transfers and three-way calls."""

    def number_for(self, unit_code: str) -> str | None:
        """The dialable number (extension in ``hotline-internal``) of a unit, or None."""
        ...


class StaticUnits:
    """``UnitDirectory`` from a mapping unit code → number."""

    def __init__(self, numbers: dict[str, str] | None = None) -> None:
        self.numbers = dict(numbers or {})

    def number_for(self, unit_code: str) -> str | None:
        return self.numbers.get(unit_code)


@dataclass(frozen=True, slots=True)
class Target:
    """Where a transfer or three-way call goes."""

    exten: str
    unit_code: str | None


class CallControl:
    """AMI call control, looked up by the acting user."""

    def __init__(self, pbx: Pbx, board: AgentBoard, units: UnitDirectory, *,
                 timeout: float = 5.0, originate_timeout: float = 30.0) -> None:
        self.pbx = pbx
        self.board = board
        self.units = units
        self.timeout = timeout
        self.originate_timeout = originate_timeout
        self.consults: dict[str, str] = {}  # call id -> exten of a running attended transfer

    # ------------------------------------------------------------------ helpers
    def target(self, body: dict[str, Any]) -> Target:
        """``{"exten": "2001"}`` or ``{"unit_code": "CZ-ZJJ"}``; 422 malformed, 404 unknown."""
        unit = body.get("unit_code")
        exten = body.get("exten")
        if unit:
            number = self.units.number_for(str(unit))
            if number is None:
                raise NotFound(f"成员单位 {unit} 不存在或未登记电话", code="unknown_target")
            exten = number
        if not isinstance(exten, str) or not EXTEN_RE.match(exten):
            raise Unprocessable("转接目标号码格式错误 (exten or unit_code)", code="bad_target",
                                details={"exten": exten})
        return Target(exten, str(unit) if unit else None)

    def current(self, user_id: int) -> tuple[AgentLive, ActiveCall]:
        """The user's agent and its current call; 404 not an agent, 409 no active call."""
        agent = self.board.by_user.get(user_id)
        if agent is None:
            raise NotFound("当前用户不是坐席", code="not_an_agent")
        if agent.call is None:
            raise Conflict("当前没有通话", code="no_active_call")
        return agent, agent.call

    async def _act(self, server: str, action: str, headers: dict[str, object], what: str) -> str:
        res = await ami(self.pbx.send_action(server, action, headers, timeout=self.timeout), what)
        return res.message

    # ------------------------------------------------------------------ transfers
    async def blind_transfer(self, user_id: int, target: Target) -> dict[str, Any]:
        """Transfer the citizen to ``target`` and release the agent."""
        _, call = self.current(user_id)
        msg = await self._act(
            call.server, "BlindTransfer",
            {"Channel": call.agent_channel, "Context": dialplan.CTX_INTERNAL,
             "Exten": target.exten},
            "转接",
        )
        return {"call_id": call.call_id, "status": "transferred", "target": target.exten,
                "asterisk": msg}

    async def attended_start(self, user_id: int, target: Target) -> dict[str, Any]:
        """Start a consultation with ``target`` (citizen on hold)."""
        _, call = self.current(user_id)
        if call.call_id in self.consults:
            raise Conflict("已有进行中的咨询转接", code="transfer_in_progress")
        msg = await self._act(
            call.server, "Atxfer",
            {"Channel": call.agent_channel, "Context": dialplan.CTX_INTERNAL,
             "Exten": target.exten},
            "咨询转接",
        )
        self.consults[call.call_id] = target.exten
        return {"call_id": call.call_id, "status": "consulting", "target": target.exten,
                "asterisk": msg}

    def _consult_channel(self, call: ActiveCall, exten: str) -> str | None:
        rec = record_for(self.pbx.tracker, call.server, call.linkedid)
        if rec is None:
            return None
        prefix = f"Local/{exten}@{dialplan.CTX_INTERNAL}-"
        legs = [c for c in rec.channels if c.startswith(prefix) and c.endswith(";1")]
        return legs[-1] if legs else None

    async def attended_cancel(self, user_id: int) -> dict[str, Any]:
        """Abort the consultation: hang up the consult leg; the agent is back with the citizen."""
        _, call = self.current(user_id)
        exten = self.consults.get(call.call_id)
        if exten is None:
            raise Conflict("没有进行中的咨询转接", code="no_transfer")
        channel = self._consult_channel(call, exten)
        if channel is None:
            raise Conflict("咨询通话尚未建立，请稍后重试", code="consult_not_ready")
        await self._act(call.server, "Hangup", {"Channel": channel, "Cause": 16}, "取消转接")
        self.consults.pop(call.call_id, None)
        return {"call_id": call.call_id, "status": "cancelled", "hungup": channel}

    async def attended_complete(self, user_id: int) -> dict[str, Any]:
        """Complete: the agent leaves, Asterisk bridges the citizen with the target."""
        _, call = self.current(user_id)
        if call.call_id not in self.consults:
            raise Conflict("没有进行中的咨询转接", code="no_transfer")
        await self._act(call.server, "Hangup", {"Channel": call.agent_channel, "Cause": 16},
                        "完成转接")
        self.consults.pop(call.call_id, None)
        return {"call_id": call.call_id, "status": "transferred"}

    # ------------------------------------------------------------------ three-way
    async def three_way(self, user_id: int, target: Target) -> dict[str, Any]:
        """Citizen + agent into a ConfBridge, then dial the unit into it (三方通话)."""
        _, call = self.current(user_id)
        rec = record_for(self.pbx.tracker, call.server, call.linkedid)
        if rec is None:
            raise Conflict("通话已结束", code="no_active_call")
        room = dialplan.conference_exten(call.linkedid)
        await self._act(
            call.server, "Redirect",
            {"Channel": rec.root_channel, "ExtraChannel": call.agent_channel,
             "Context": dialplan.CTX_CONFERENCE, "Exten": room, "Priority": 1,
             "ExtraContext": dialplan.CTX_CONFERENCE, "ExtraExten": room, "ExtraPriority": 1},
            "三方通话",
        )
        # The unit's leg gets its own Linkedid (obs. 3): HOTLINE_CALLID ties it to the call.
        resp = await ami(
            self.pbx.originate(
                call.server,
                [("Channel", f"Local/{target.exten}@{dialplan.CTX_INTERNAL}"),
                 ("Context", dialplan.CTX_CONFERENCE), ("Exten", room), ("Priority", 1),
                 ("CallerID", f'"12345" <{rec.caller or "12345"}>'),
                 ("Variable", f"{dialplan.VAR_CALLID}={rec.root_uniqueid}"),
                 ("Timeout", int(self.originate_timeout * 1000))],
                timeout=self.originate_timeout * 1.2 + 0.5,
            ),
            "呼叫成员单位",
        )
        return {"call_id": call.call_id, "status": "conference", "room": room,
                "target": target.exten, "unit_channel": resp.get("Channel")}

    async def leave(self, user_id: int) -> dict[str, Any]:
        """The agent hangs up its own leg (e.g. leaving a three-way call)."""
        _, call = self.current(user_id)
        await self._act(call.server, "Hangup", {"Channel": call.agent_channel, "Cause": 16},
                        "挂机")
        return {"call_id": call.call_id, "status": "left"}

    # ------------------------------------------------------------------ supervisor
    async def spy(self, supervisor_phone: str, server: str, agent_id: int, mode: str,
                  call_owner: int | None = None) -> dict[str, Any]:
        """Ring ``supervisor_phone`` and connect it to ChanSpy on the agent's channel."""
        if mode not in dialplan.SUPERVISOR_EXTENS:
            raise Unprocessable("mode 应为 listen / whisper / barge", code="bad_mode")
        agent = next((a for a in self.board.agents.values() if a.agent_id == agent_id), None)
        if agent is None:
            raise NotFound(f"坐席 {agent_id} 不存在", code="unknown_agent")
        if agent.call is None:
            raise Conflict("该坐席当前没有通话", code="no_active_call")
        call = agent.call
        # Through the dialplan's [hotline-supervisor] (listen / whisper / barge run ChanSpy with
        # q / qw / qB there), so a site tunes the spy options in one place. Originate's Variable
        # takes comma-separated pairs; channel names and Uniqueids hold no commas.
        # HOTLINE_CALLID ties the supervisor's leg (its own Linkedid) to the call spied on.
        variables = [f"{dialplan.VAR_SPY_TARGET}={call.agent_channel}"]
        rec = record_for(self.pbx.tracker, call.server, call.linkedid)
        if rec is not None and rec.root_uniqueid:
            variables.append(f"{dialplan.VAR_CALLID}={rec.root_uniqueid}")
        resp = await ami(
            self.pbx.originate(
                call.server,
                [("Channel", supervisor_phone), ("Context", dialplan.CTX_SUPERVISOR),
                 ("Exten", mode), ("Priority", 1),
                 ("CallerID", f'"{mode}" <{agent.extension}>'),
                 ("Variable", ",".join(variables)),
                 ("Timeout", int(self.originate_timeout * 1000))],
                timeout=self.originate_timeout * 1.2 + 0.5,
            ),
            {"listen": "监听", "whisper": "耳语", "barge": "强插"}[mode],
        )
        return {"call_id": call.call_id, "agent_id": agent_id, "mode": mode,
                "spy_channel": resp.get("Channel")}
