"""Call tracking: normalized domain events and the pure in-memory tracker keyed by Linkedid."""

from pbx.calls.events import CallKey, CallRecordView, DomainEvent
from pbx.calls.record import CallRecord
from pbx.calls.tracker import CallTracker

__all__ = ["CallKey", "CallRecord", "CallRecordView", "CallTracker", "DomainEvent"]
