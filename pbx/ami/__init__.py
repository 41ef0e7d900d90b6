"""AMI (Asterisk Manager Interface) edge: wire parser, errors and the long-lived client.

Public names::

    from pbx.ami import AmiMessage, AmiParser, AmiClient, AmiServerConfig
    from pbx.ami import AmiError, AmiTimeout, AmiNotConnected, AmiAuthError, OriginateFailed
"""

from pbx.ami.actions import AmiResult
from pbx.ami.client import AmiClient, AmiServerConfig, ResyncSnapshot
from pbx.ami.errors import AmiAuthError, AmiError, AmiNotConnected, AmiTimeout, OriginateFailed
from pbx.ami.message import AmiMessage, AmiParser, encode_action

__all__ = [
    "AmiAuthError",
    "AmiClient",
    "AmiError",
    "AmiMessage",
    "AmiNotConnected",
    "AmiParser",
    "AmiResult",
    "AmiServerConfig",
    "AmiTimeout",
    "OriginateFailed",
    "ResyncSnapshot",
    "encode_action",
]
