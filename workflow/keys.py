"""Application keys of the workflow feature (set by ``hotline/features/workflow.py``)."""

from __future__ import annotations

from aiohttp import web

from workflow.api import WorkflowApi
from workflow.kb import KnowledgeBase
from workflow.service import CalendarProvider, OrderService

ORDER_SERVICE: web.AppKey[OrderService] = web.AppKey("workflow.orders", OrderService)
KNOWLEDGE_BASE: web.AppKey[KnowledgeBase] = web.AppKey("workflow.kb", KnowledgeBase)
CALENDARS: web.AppKey[CalendarProvider] = web.AppKey("workflow.calendars", CalendarProvider)
WORKFLOW_API: web.AppKey[WorkflowApi] = web.AppKey("workflow.api", WorkflowApi)
"""The small interface other features call (screen-pop, IVR, recordings)."""
