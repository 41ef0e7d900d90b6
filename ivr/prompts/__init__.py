"""IVR prompt ids and the manifest that gives each its Chinese text.

Flows refer to prompts only through the constants of :class:`P`, so a test can check that every
prompt a flow can play exists in ``manifest.toml`` (and therefore gets a sound file).
"""

from __future__ import annotations

import functools
import tomllib
from collections.abc import Iterable
from pathlib import Path

MANIFEST_PATH = Path(__file__).with_name("manifest.toml")


class P:
    """Prompt ids (file names without extension)."""

    GREETING = "greeting"
    EMERGENCY_NOTICE = "emergency-notice"
    EMERGENCY_MENU = "emergency-menu"
    EMERGENCY_TRANSFER = "emergency-transfer"
    MAIN_MENU = "main-menu"
    INVALID_INPUT = "invalid-input"
    NO_INPUT = "no-input"
    TO_AGENT = "to-agent"
    QUEUE_TRANSFER = "queue-transfer"
    KNOWN_CALLER_OFFER = "known-caller-offer"
    ENTER_ORDER_NUMBER = "enter-order-number"
    ORDER_NOT_FOUND = "order-not-found"
    ORDER_INTRO = "order-intro"
    DEADLINE_INTRO = "deadline-intro"
    MONTH = "month"
    DAY = "day"
    STATUS_AFTER = "status-after"
    GOODBYE = "goodbye"
    CALLBACK_OFFER = "callback-offer"
    CALLBACK_NUMBER_IS = "callback-number-is"
    CALLBACK_CONFIRM = "callback-confirm"
    ENTER_PHONE_NUMBER = "enter-phone-number"
    CALLBACK_REGISTERED = "callback-registered"
    KEEP_WAITING = "keep-waiting"
    CALLBACK_GREETING = "callback-greeting"
    SURVEY_INTRO = "survey-intro"
    SURVEY_QUESTION = "survey-question"
    SURVEY_THANKS = "survey-thanks"
    POST_CALL_INTRO = "post-call-intro"
    ALREADY_RATED = "already-rated"

    @staticmethod
    def status(value: str) -> str:
        """Prompt id for an :class:`~ivr.ports.OrderStatus` value (``status-processing``)."""
        return f"status-{value}"


def all_ids() -> list[str]:
    """Every constant of :class:`P` (status prompts included, one per OrderStatus)."""
    from ivr.ports import OrderStatus

    ids = [v for k, v in vars(P).items() if k.isupper() and isinstance(v, str)]
    return ids + [P.status(s.value) for s in OrderStatus]


@functools.cache
def load_manifest(path: Path = MANIFEST_PATH) -> dict[str, str]:
    """``{prompt id: Chinese text}`` from the manifest; ValueError if it is malformed."""
    with path.open("rb") as f:
        data = tomllib.load(f)
    prompts = data.get("prompts")
    if not isinstance(prompts, dict) or not all(
        isinstance(k, str) and isinstance(v, str) and v.strip() for k, v in prompts.items()
    ):
        raise ValueError(f"{path}: [prompts] must map ids to non-empty text")
    return dict(prompts)


def build_prompts(out_dir: str | Path, ids: Iterable[str] | None = None, *,
                  force: bool = False) -> list[Path]:
    """Synthesize placeholder WAVs (see :func:`ivr.prompts.build.build_prompts`)."""
    from ivr.prompts.build import build_prompts as build

    return build(out_dir, ids, force=force)
