"""What the host can do to a stream's book: settle a review item, or add or remove stock.

Actions are records like comments: tagged, serialisable, and carrying an `action_id` unique in the
stream, so a redelivered action is applied once. `ts` comes from the shell (the core has no clock).
"""

from __future__ import annotations

import msgspec

from .quantities import Qty


class ActionError(ValueError):
    """An action that cannot apply (unknown review or sku, missing detail, too little stock);
    the book is left unchanged."""


class Approve(msgspec.Struct, frozen=True, kw_only=True, tag_field="type", tag="approve"):
    """Settle a review item with the detail it lacked: the line becomes an order of `qty` of
    `sku`/`variant` (for a review raised by a change, that line is set to `qty`)."""

    action_id: str
    review_id: str
    sku: str
    variant: str | None = None
    qty: Qty
    ts: float = 0.0


class Reject(msgspec.Struct, frozen=True, kw_only=True, tag_field="type", tag="reject"):
    action_id: str
    review_id: str
    ts: float = 0.0


class AdjustStock(msgspec.Struct, frozen=True, kw_only=True, tag_field="type", tag="stock"):
    """Add (`delta` > 0) or remove stock of a sku. Only unreserved stock can be removed."""

    action_id: str
    sku: str
    delta: Qty
    ts: float = 0.0


Action = Approve | Reject | AdjustStock
