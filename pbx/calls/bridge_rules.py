"""Tracker rules for transfers, conferences (三方通话) and recording announcements."""

from __future__ import annotations

from pbx import dialplan
from pbx.ami.message import AmiMessage
from pbx.calls.events import (
    CallKey,
    CallTransferred,
    ConferenceJoined,
    ConferenceLeft,
    DomainEvent,
    RecordingAnnounced,
)
from pbx.calls.state import TrackerState, cid_num, local_target, to_int


class BridgeRules(TrackerState):
    """Blind/attended transfer, ConfBridge participants, ``UserEvent HotlineRecording``."""

    def _register_bridge_rules(self) -> None:
        self._handlers.update(
            {
                "BlindTransfer": self._on_blind_transfer,
                "AttendedTransfer": self._on_attended_transfer,
                "ConfbridgeJoin": self._on_conf_join,
                "ConfbridgeLeave": self._on_conf_leave,
                "UserEvent": self._on_user_event,
            }
        )

    def _on_blind_transfer(self, msg: AmiMessage, at: float) -> list[DomainEvent]:
        found = self._call(msg, "Transferee")
        if found is None:
            return []
        _, call = found
        f = msg.fields
        item = (
            "blind",
            f.get("TransfererChannel", ""),
            f"{f.get('Extension', '')}@{f.get('Context', '')}",
        )
        if item in call.transfers:
            return []
        call.transfers.append(item)
        return [CallTransferred(call.server, at, call.linkedid, *item, f.get("Result", ""))]

    def _on_attended_transfer(self, msg: AmiMessage, at: float) -> list[DomainEvent]:
        found = self._call(msg, "Transferee")
        if found is None:
            return []
        _, call = found
        f = msg.fields
        target = f.get("TransferTargetChannel", "")
        if f.get("TransferTargetExten") and f.get("TransferTargetContext"):
            target = local_target(target) if target.startswith("Local/") else target
        item = ("attended", f.get("OrigTransfererChannel", ""), target)
        if item in call.transfers:
            return []
        call.transfers.append(item)
        return [CallTransferred(call.server, at, call.linkedid, *item, f.get("Result", ""))]

    def _on_conf_join(self, msg: AmiMessage, at: float) -> list[DomainEvent]:
        conf = msg.fields["Conference"]
        ch = self._channel(msg)
        if ch is None:
            return []
        if ch.call is None:  # an originated leg without HOTLINE_CALLID: map by room name
            key = self._conferences.get((msg.server, conf))
            call = self._calls.get(key) if key else None
            if call is None:
                return []
            self._aliases[CallKey(msg.server, ch.linkedid)] = call.key
            self._attach(ch, call)
        call = self._calls.get(ch.call) if ch.call else None
        if call is None:
            return []
        call.epoch = self._epoch.get(call.server, 0)
        if call.conference is None:
            call.conference = conf
            self._conferences[(msg.server, conf)] = call.key
        if ch.uniqueid in call.participant_ids:
            return []
        call.participant_ids.add(ch.uniqueid)
        call.participants.append(ch.name)
        return [
            ConferenceJoined(
                call.server,
                at,
                call.linkedid,
                conf,
                ch.name,
                cid_num(msg.fields.get("CallerIDNum")),
            )
        ]

    def _on_conf_leave(self, msg: AmiMessage, at: float) -> list[DomainEvent]:
        found = self._call(msg)
        if found is None:
            return []
        ch, call = found
        return [
            ConferenceLeft(
                call.server, at, call.linkedid, msg.fields.get("Conference", ""), ch.name
            )
        ]

    def _on_user_event(self, msg: AmiMessage, at: float) -> list[DomainEvent]:
        if msg.fields.get("UserEvent") != dialplan.USER_EVENT_RECORDING:
            return []
        found = self._call(msg)
        if found is None:
            return []
        _, call = found
        f = msg.fields
        files = [
            (d, f[k]) for d, k in (("mixed", "Mixed"), ("in", "In"), ("out", "Out")) if f.get(k)
        ]
        if not files:
            return []
        if call.recordings_announced:
            new = [x for x in files if x not in call.recordings]
            if not new:
                return []  # a duplicate
            call.recordings.extend(new)
        else:
            # authoritative: replaces the names VarSet HOTLINE_REC gave (RecordingExpected)
            call.recordings[:] = files
            call.recordings_announced = True
        if call.hangup_cause is None:
            call.hangup_cause = to_int(f.get("HangupCause"))
        return [
            RecordingAnnounced(
                call.server, at, call.linkedid, f.get("Mixed"), f.get("In"), f.get("Out")
            )
        ]
