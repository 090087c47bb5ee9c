"""How numbers are shown to people."""

from __future__ import annotations


def format_vnd(amount: int | float) -> str:
    """160000 -> "160.000 ₫" (Vietnamese groups thousands with dots)."""
    return f"{round(amount):,}".replace(",", ".") + " ₫"


def format_qty(qty: int | float | None) -> str:
    """2 -> "2", 1.5 -> "1,5" (decimal comma), None -> "?"."""
    if qty is None:
        return "?"
    if qty == int(qty):
        return str(int(qty))
    return f"{qty:g}".replace(".", ",")
