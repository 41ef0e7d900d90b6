"""Error rendering, request logging and HTTP metrics."""

from __future__ import annotations

import logging
import time

from aiohttp import web

from kit.errors import ApiError
from kit.http import Handler, json_response
from kit.metrics import METRICS

log = logging.getLogger("hotline.http")


def _error(status: int, code: str, message: str, details: object = None) -> web.Response:
    return json_response(
        {"error": {"code": code, "message": message, "details": details}}, status=status
    )


_HTTP_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    413: "payload_too_large",
    415: "unsupported_media_type",
}


@web.middleware
async def errors_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Render every error in one JSON shape; log unexpected ones with their traceback."""
    started = time.perf_counter()
    status = 500
    try:
        resp = await handler(request)
        status = resp.status
        return resp
    except ApiError as exc:
        status = exc.status
        return json_response(exc.to_body(), status=exc.status)
    except web.HTTPException as exc:
        status = exc.status
        if exc.status < 400:
            raise
        if exc.status == 413:
            return _error(
                413,
                "payload_too_large",
                "请求体过大 (request body too large)",
                {"max_bytes": request.app._client_max_size},
            )
        return _error(exc.status, _HTTP_CODES.get(exc.status, "http_error"), exc.reason)
    except Exception:
        log.exception("unhandled error", extra={"path": request.path, "method": request.method})
        return _error(500, "internal_error", "服务器内部错误 (internal error)")
    finally:
        route = (
            request.match_info.route.resource.canonical
            if request.match_info.route.resource
            else "?"
        )
        metrics = request.app[METRICS]
        metrics.counter(
            "hotline_http_requests_total", "HTTP requests", ["method", "route", "status"]
        ).inc(method=request.method, route=route, status=str(status))
        metrics.histogram(
            "hotline_http_request_seconds", "HTTP request latency", ["route"]
        ).observe(time.perf_counter() - started, route=route)
