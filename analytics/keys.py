"""Application keys of the analytics feature (set by ``hotline/features/analytics.py``)."""

from __future__ import annotations

from aiohttp import web

from analytics.call_stats import CallStatsService
from analytics.evaluation import EvaluationService

EVALUATION: web.AppKey[EvaluationService] = web.AppKey("analytics.evaluation", EvaluationService)
CALL_STATS: web.AppKey[CallStatsService] = web.AppKey("analytics.call_stats", CallStatsService)
