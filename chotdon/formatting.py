"""How numbers are shown to people."""

from __future__ import annotations

INTENT_LABELS = {  # what each intent is called on the host's page and in reports
    "order": "đặt hàng",
    "change": "sửa đơn",
    "cancel": "huỷ",
    "question": "câu hỏi",
    "contact": "liên hệ",
    "other": "khác",
}


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
