"""Names the backend relies on in ``asterisk-config/`` (contexts, queues, AGI URLs, variables).

One place for both sides: the backend builds AMI actions from these constants, and
``tests/pbx/test_asterisk_config.py`` parses the shipped configuration and checks that every
name here exists there. Change a name in both places or the test fails.
"""

from __future__ import annotations

from typing import Final

# --- contexts -------------------------------------------------------------------------------
CTX_INBOUND: Final = "from-trunk"
"""Calls from the carrier trunk; 12345 enters here (第八条: the phone channel)."""
CTX_AGENTS: Final = "from-agents"
"""Context of the agents' softphones (PJSIP endpoints)."""
CTX_INTERNAL: Final = "hotline-internal"
"""Transfer targets: member units' desk phones, agents (``1001``), supervisors."""
CTX_CONFERENCE: Final = "hotline-conf"
"""Three-way calls (三方通话, 第十一条(二)): ``room-<name>`` enters ConfBridge ``<name>``."""
CTX_OUTBOUND: Final = "hotline-outbound"
"""Callbacks and satisfaction surveys (办结回访, 第十一条(五)) originated by the backend."""
CTX_SUPERVISOR: Final = "hotline-supervisor"
"""Supervisor legs: ``listen`` / ``whisper`` / ``barge`` on ``SPY_TARGET``."""
CTX_EMERGENCY: Final = "hotline-emergency"
"""Hand-over of 110/119/120 matters (第九条(五)): ``110``, ``119``, ``120``."""
CTX_HANGUP: Final = "hotline-hangup"
"""Hangup handler: StopMixMonitor + ``UserEvent HotlineRecording``."""
CTX_QUEUE_EXIT: Final = "hotline-queue-exit"
"""Where a caller goes when the queue times out: callback offer, then back or hang up."""
CTX_POST_CALL: Final = "hotline-post-call"
"""After-call satisfaction survey (好差评 “一事一评”) for the citizen when the agent hangs up."""

CTX_RECORD: Final = "hotline-record"
"""Gosub that starts MixMonitor on the citizen's channel and pushes the hangup handler."""

INBOUND_CONTEXTS: Final = frozenset({CTX_INBOUND})
"""Where a new inbound call rings (its ``Newchannel`` opens the call)."""
INBOUND_PATH_CONTEXTS: Final = frozenset(
    {
        CTX_INBOUND,
        CTX_RECORD,
        CTX_HANGUP,
        CTX_QUEUE_EXIT,
        CTX_POST_CALL,
        CTX_EMERGENCY,
        CTX_CONFERENCE,
        CTX_INTERNAL,
    }
)
"""Every context the citizen's own channel passes through on an inbound hotline call: the IVR
and the queue (``from-trunk``), recording (``hotline-record``, ``hotline-hangup``), the
queue-exit callback offer, the post-call survey, the emergency hand-over (第九条(五)), a
three-way call (``hotline-conf``, 第十一条(二)) and a blind transfer (``hotline-internal``).
A resync adopts a root channel found in any of them (``pbx.calls.adopt_rules``)."""
OUTBOUND_CONTEXTS: Final = frozenset({CTX_OUTBOUND})
"""Where our callbacks and surveys run once the citizen answered (办结回访, 第十一条(五))."""

# --- extensions -----------------------------------------------------------------------------
EXTEN_HOTLINE: Final = "12345"
EXTEN_SURVEY: Final = "survey"
"""``survey@hotline-outbound``: outbound callback survey for a closed work order."""
EXTEN_CALLBACK: Final = "callback"
"""``callback@hotline-outbound``: connect an agent to a citizen who asked for a callback."""
CONFERENCE_PREFIX: Final = "room-"
"""``_room-.``: N, X and Z are pattern wildcards in either case, so ``_conf-.`` never matches."""
SUPERVISOR_EXTENS: Final = ("listen", "whisper", "barge")
EMERGENCY_EXTENS: Final = ("110", "119", "120")

# --- queues ---------------------------------------------------------------------------------
QUEUE_GENERAL: Final = "hotline-general"
QUEUES_BY_CHOICE: Final = {
    "1": "hotline-consult",  # 咨询
    "2": "hotline-complaint",  # 投诉
    "3": "hotline-report",  # 举报
    "4": "hotline-help",  # 求助
    "5": "hotline-suggest",  # 建议
    "6": "hotline-bizenv",  # 营商环境专席 (第十五条)
    "0": QUEUE_GENERAL,  # 人工服务
}
ALL_QUEUES: Final = frozenset({QUEUE_GENERAL, *QUEUES_BY_CHOICE.values()})
SERVICE_LEVEL_SECONDS: Final = 15
"""Answer within 15 s: the national 12345 target, ``servicelevel=15`` in queues.conf."""

# --- FastAGI --------------------------------------------------------------------------------
AGI_HOST_DEFAULT: Final = "127.0.0.1:4573"
AGI_SCRIPTS: Final = ("ivr", "survey", "callback-offer", "post-call-survey")
AGI_URLS: Final = tuple(f"agi://{AGI_HOST_DEFAULT}/{s}" for s in AGI_SCRIPTS)

# --- channel variables ----------------------------------------------------------------------
VAR_CHOICE: Final = "HOTLINE_CHOICE"
"""Set by the IVR: the menu key the caller pressed."""
VAR_QUEUE: Final = "HOTLINE_QUEUE"
"""Set by the IVR: the queue to join (default ``hotline-general``)."""
VAR_CALLBACK: Final = "HOTLINE_CALLBACK"
"""Set to ``1`` by the callback-offer AGI when the caller asks to be called back."""
VAR_CALLBACK_NUMBER: Final = "HOTLINE_CALLBACK_NUMBER"
VAR_CALLID: Final = "HOTLINE_CALLID"
"""The citizen's Uniqueid; pass it on every Originate that belongs to a call (三方 unit leg,
supervisor legs) so the tracker can attach legs that get their own Linkedid."""
VAR_REC: Final = "HOTLINE_REC"
VAR_SURVEY_ORDER: Final = "SURVEY_ORDER"
"""Work-order number for an outbound survey; marks the channel as an outbound hotline call."""
VAR_OUTBOUND: Final = "HOTLINE_OUTBOUND"
"""Any value marks an originated channel as an outbound hotline call (callbacks)."""
VAR_SPY_TARGET: Final = "SPY_TARGET"

RECORDED_VARS: Final = (
    "HOTLINE_CATEGORY",
    "HOTLINE_LANG",
    "HOTLINE_EMERGENCY",
    "HOTLINE_DONE",
    "HOTLINE_IVR_ABANDONED",
    "HOTLINE_CALLBACK_FOR",
    "HOTLINE_CALLBACK_ID",
    "SURVEY_ID",
)
"""Further variables the IVR and the backend set; the tracker keeps them in ``record.extra``."""

USER_EVENT_RECORDING: Final = "HotlineRecording"
"""``UserEvent`` sent by the hangup handler with ``Mixed``, ``In``, ``Out``, ``HangupCause``."""

# --- AMI ------------------------------------------------------------------------------------
AMI_USER: Final = "hotline"
FEATURE_ATXFER: Final = "*2"
FEATURE_BLINDXFER: Final = "#1"


def conference_exten(name: str) -> str:
    """Extension in ``hotline-conf`` that joins ConfBridge ``name``. Dots are not allowed in
    ConfBridge names used here, so ``pbx1-1795838130.18`` becomes ``pbx1-1795838130_18``."""
    return CONFERENCE_PREFIX + name.replace(".", "_")
