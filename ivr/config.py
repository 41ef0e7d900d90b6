"""IVR settings: menu keys, queues, retry limits, timeouts, survey rules."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import time, timedelta

from pbx.dialplan import CTX_OUTBOUND, EXTEN_CALLBACK, EXTEN_SURVEY, QUEUES_BY_CHOICE


@dataclass(frozen=True)
class MenuChoice:
    """One main-menu key."""

    key: str
    category: str
    """Stable English id stored on the call (``complaint``)."""
    label: str
    """Chinese label shown to agents (投诉)."""
    queue: str


def default_menu(queues: dict[str, str] | None = None) -> dict[str, MenuChoice]:
    """The 12345 main menu (SPEC R2.1). Key 6 is the 营商环境投诉举报专席 (第十五条).

    Queue names default to ``pbx.dialplan.QUEUES_BY_CHOICE`` (the queues of asterisk-config/).
    """
    queues = queues or QUEUES_BY_CHOICE
    rows = [
        ("1", "consultation", "咨询"),
        ("2", "complaint", "投诉"),
        ("3", "report", "举报"),
        ("4", "help", "求助"),
        ("5", "suggestion", "建议"),
        ("6", "business-environment", "营商环境专席"),
        ("0", "agent", "人工服务"),
    ]
    return {k: MenuChoice(k, c, lbl, queues[k]) for k, c, lbl in rows}


STATUS_KEY = "8"
"""Main-menu key for self-service order status (一号答)."""
EMERGENCY_KEY = "9"
"""Key pressed during the emergency notice to be transferred (第九条(五))."""
EMERGENCY_SERVICES = {"1": "110", "2": "119", "3": "120"}


@dataclass(frozen=True)
class IvrConfig:
    """Everything tunable about the flows; defaults fit the lab dialplan."""

    menu: dict[str, MenuChoice] = field(default_factory=default_menu)
    max_attempts: int = 3
    """Invalid / missing input is repeated this many times in all, then → agent (R2.5)."""
    menu_timeout_ms: int = 6000
    notice_timeout_ms: int = 1500
    number_timeout_ms: int = 15000
    prompt_prefix: str = ""
    """Prefix Asterisk needs before prompt ids, e.g. ``hotline/`` for a sounds sub-directory."""
    language: str = "zh"
    # Callback offer and dial-back.
    callback_trunk: str = "PJSIP/{number}@carrier-trunk"
    """Dial string for callbacks and surveys (``TRUNK`` global of asterisk-config/)."""
    callback_context: str = CTX_OUTBOUND
    callback_exten: str = EXTEN_CALLBACK
    callback_retry_delay: timedelta = timedelta(minutes=5)
    callback_max_attempts: int = 3
    # Outbound satisfaction survey (办结回访, 第十一条(五)).
    survey_context: str = CTX_OUTBOUND
    survey_exten: str = EXTEN_SURVEY
    survey_max_attempts: int = 3
    survey_retry_delay: timedelta = timedelta(hours=2)
    survey_hours: tuple[tuple[time, time], ...] = ((time(9, 0), time(12, 0)),
                                                   (time(14, 0), time(20, 0)))
    """Local (Asia/Shanghai) windows in which citizens may be called."""
    survey_on_holidays: bool = False
    """Whether 办结回访 calls are made on statutory holidays (法定节假日); by default they wait for
    the next day that is not one (a citizen is not asked about an order on Spring Festival)."""
    timezone: str = "Asia/Shanghai"
    originate_timeout_s: int = 30
    dial_stale_margin: timedelta = timedelta(seconds=60)
    """A callback / survey row still ``dialling`` this long after ``originate_timeout_s`` was
    left by a worker that died (SIGKILL, crash) mid-Originate: the next run reclaims it as a
    failed attempt. The AMI originator waits ``timeout_s + 10`` s, so 60 s leaves room."""
    survey_answered_stale_after: timedelta = timedelta(minutes=10)
    """An ``answered`` survey with no result after this long (the survey AGI never ran or
    died) is retried or given up under the retry rules."""

    @property
    def dial_stale_after(self) -> timedelta:
        """How long a row may stay ``dialling`` before it counts as abandoned."""
        return timedelta(seconds=self.originate_timeout_s) + self.dial_stale_margin

    def prompt(self, prompt_id: str) -> str:
        """The file name Asterisk plays for ``prompt_id``."""
        return f"{self.prompt_prefix}{prompt_id}"
