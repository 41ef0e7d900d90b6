"""FastAGI: our own asyncio server, the wire protocol, and the per-call session API."""

from pbx.agi.protocol import (
    AgiCommandError,
    AgiEnvironment,
    AgiError,
    AgiProtocolError,
    AgiReply,
    AgiUsageError,
    CallerHungUp,
    parse_environment,
)
from pbx.agi.server import AgiServerConfig, AgiServerStats, FastAgiServer, Handler, routes_from
from pbx.agi.session import AgiChannel, AgiSession

__all__ = [
    "AgiChannel",
    "AgiCommandError",
    "AgiEnvironment",
    "AgiError",
    "AgiProtocolError",
    "AgiReply",
    "AgiServerConfig",
    "AgiServerStats",
    "AgiSession",
    "AgiUsageError",
    "CallerHungUp",
    "FastAgiServer",
    "Handler",
    "parse_environment",
    "routes_from",
]
