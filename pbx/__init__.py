"""Asterisk edge: AMI client (``pbx.ami``), call tracking (``pbx.calls``), dialplan names
(``pbx.dialplan``), FastAGI (``pbx.agi``) and AudioSocket (``pbx.audiosocket``) servers.
Knows Asterisk; knows nothing of work orders."""
