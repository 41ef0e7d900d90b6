"""API errors rendered as ``{"error": {"code", "message", "details"}}`` by the web layer."""

from __future__ import annotations

from typing import Any


class ApiError(Exception):
    """An error with an HTTP status, a stable machine code and a human message."""

    status: int = 500
    default_code: str = "internal_error"

    def __init__(self, message: str, *, code: str | None = None, details: Any = None) -> None:
        super().__init__(message)
        self.message = message
        self.code = code or self.default_code
        self.details = details

    def to_body(self) -> dict[str, Any]:
        """The JSON body of this error."""
        return {"error": {"code": self.code, "message": self.message, "details": self.details}}


class BadRequest(ApiError):
    status, default_code = 400, "bad_request"


class Unauthorized(ApiError):
    status, default_code = 401, "unauthorized"


class Forbidden(ApiError):
    status, default_code = 403, "forbidden"


class NotFound(ApiError):
    status, default_code = 404, "not_found"


class Conflict(ApiError):
    status, default_code = 409, "conflict"


class PayloadTooLarge(ApiError):
    status, default_code = 413, "payload_too_large"


class Unprocessable(ApiError):
    status, default_code = 422, "unprocessable"


class TooManyRequests(ApiError):
    status, default_code = 429, "too_many_requests"


class UpstreamError(ApiError):
    """A dependency (Asterisk, a worker) refused the request."""

    status, default_code = 502, "upstream_error"


class ServiceUnavailable(ApiError):
    status, default_code = 503, "unavailable"


class UpstreamTimeout(ApiError):
    status, default_code = 504, "upstream_timeout"
