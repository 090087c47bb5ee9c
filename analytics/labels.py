"""Words and numbers for people, in Vietnamese (with English where an analyst may need it)."""

from __future__ import annotations

from chotdon.formatting import format_qty
from chotdon.records import Intent


def count(n: int | float) -> str:
    """2001 -> "2.001" (Vietnamese groups thousands with dots)."""
    return f"{round(n):,}".replace(",", ".")


def decimal(x: float, digits: int = 1) -> str:
    """0.456 -> "0,5" (decimal comma)."""
    return f"{x:,.{digits}f}".replace(",", " ").replace(".", ",").replace(" ", ".")


def percent(part: float, whole: float) -> str:
    return decimal(100 * part / whole) + " %" if whole else "–"


def describe(intent: Intent) -> str:
    """ "order: OI-HOP×2, OI-KG×1,5" (variants after a slash)."""
    items = ", ".join(
        f"{i.sku}{'/' + i.variant if i.variant else ''}×{format_qty(i.qty)}" for i in intent.items
    )
    return f"{intent.intent}: {items}" if items else intent.intent
