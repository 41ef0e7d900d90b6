"""What each audience may see of an order (SPEC R5.9), as pure functions.

* Platform staff see everything.
* Everyone outside the platform (member-unit staff, auditors) sees phone numbers masked
  (``138****5678``).
* Confidential orders (保密) hide the citizen's name and phone from member units entirely.
"""

from __future__ import annotations

from typing import Any

from workflow.codec import order_to_dict
from workflow.machine import STATE_LABELS
from workflow.model import CATEGORY_LABELS, Category, Order, State

CONFIDENTIAL_NAME = "(保密)"


def mask_phone(phone: str | None) -> str | None:
    """Keep the first 3 and last 4 digits of a phone number: ``13812345678`` -> ``138****5678``.

    Short numbers keep only their last 2 characters visible.
    """
    if not phone:
        return phone
    if len(phone) >= 8:
        return phone[:3] + "*" * (len(phone) - 7) + phone[-4:]
    return "*" * max(len(phone) - 2, 1) + phone[-2:]


def order_view(order: Order, *, platform: bool) -> dict[str, Any]:
    """The order as the API shows it to platform staff (``platform=True``) or to others."""
    return doc_view(order_to_dict(order), platform=platform)


def doc_view(d: dict[str, Any], *, platform: bool) -> dict[str, Any]:
    """Same as :func:`order_view` for an order already in its JSON form (``order_to_dict``,
    the stored ``doc``): lists render rows without decoding them into :class:`Order`."""
    state = State(d["state"])
    d["state_label"] = STATE_LABELS[state]
    d["category_label"] = CATEGORY_LABELS[Category(d["category"])]
    d["lead_unit"] = next((a["unit"] for a in d.get("assignments") or ()
                           if a["role"] == "lead"), None)  # fmt: skip
    if not platform:
        cit = dict(d.get("citizen") or {})
        if cit.get("confidential"):
            cit["name"] = CONFIDENTIAL_NAME
            cit["phone"] = None
        else:
            cit["phone"] = mask_phone(cit.get("phone"))
        d["citizen"] = cit
        d.pop("extra", None)
    return d
