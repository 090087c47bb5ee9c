"""The host's actions the order book takes (records defined in `chotdon.records`), and the error
for one it refuses."""

from __future__ import annotations

from chotdon.records import AdjustStock, Approve, Reject

Action = Approve | Reject | AdjustStock


class ActionError(ValueError):
    """An action that cannot apply (unknown review item or sku, a detail still missing, too
    little unreserved stock to remove); the book is left unchanged."""
