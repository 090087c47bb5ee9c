"""The order book as CSV for packing and delivery: one row per order line, then a total row.

UTF-8 with a BOM, because Excel reads a CSV without one in the machine's legacy code page and
garbles Vietnamese. Money is whole VND and quantities plain numbers, so a spreadsheet can sum them.
Phones are text ("0912 345 678"): as a bare number Excel would drop the leading 0. Text a viewer
typed (names, products, variants) is guarded against CSV injection as OWASP advises, in every
piece a spreadsheet may split it into (Excel in vi-VN splits on ";").
"""

from __future__ import annotations

import csv
import io
import re
from datetime import UTC, datetime, timedelta, timezone

from chotdon.records import OrderLine

from .view import OrderRow, StreamView, masked_order

HEADER = (
    "Mã đơn",
    "Khách hàng",
    "SĐT",
    "Sản phẩm",
    "Phân loại",
    "Số lượng",
    "Đơn vị",
    "Đơn giá",
    "Thành tiền",
    "Trạng thái",
    "Thời gian",
)
LINE_STATUS = {"confirmed": "Đã chốt", "waitlisted": "Chờ hàng", "review": "Cần duyệt"}
VIETNAM = timezone(timedelta(hours=7), "ICT")  # no daylight saving: a fixed offset is exact
# A formula character at the start of a cell, or of a piece after a "," or ";" separator (and
# any blanks): a leading quote makes it text.
FORMULA = re.compile(r"(^|[,;])(\s*)(?=[=+\-@\t\r])")


def orders_csv(view: StreamView, masked: bool) -> bytes:
    """The CSV file's bytes; phones masked unless the host asked with the token."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")  # RFC 4180, what Excel writes
    writer.writerow(HEADER)
    total = 0
    for order in sorted(view.orders.values(), key=lambda o: o.seq):
        for line in order.lines:
            amount = round(line.qty * line.unit_price)
            if line.status == "confirmed":
                total += amount
            writer.writerow(_row(view, order, line, amount, masked))
    writer.writerow(["Tổng cộng (đã chốt)", "", "", "", "", "", "", "", total, "", ""])
    return b"\xef\xbb\xbf" + out.getvalue().encode("utf-8")


def _row(
    view: StreamView, order: OrderRow, line: OrderLine, amount: int, masked: bool
) -> list[str | int | float]:
    product = view.products.get(line.sku)
    if masked:
        order = masked_order(order)
    phone = order.phone if masked else _phone_text(order.phone)
    return [
        order.order_id,
        _text(order.customer_name or order.customer),
        phone or "",
        _text(product.name if product else line.sku),
        _text(line.variant or ""),
        line.qty,
        product.unit if product else "",
        line.unit_price,
        amount,
        LINE_STATUS.get(line.status, line.status),
        datetime.fromtimestamp(order.ts, UTC).astimezone(VIETNAM).strftime("%Y-%m-%d %H:%M:%S"),
    ]


def _text(value: str) -> str:
    """A viewer's name could be "=HYPERLINK(...)", or "Lan;=HYPERLINK(...)": a quote before each
    formula start keeps a spreadsheet from running it (CSV injection)."""
    return FORMULA.sub(r"\1\2'", value.replace("\x00", ""))  # a NUL hides what follows


def _phone_text(phone: str | None) -> str:
    """0912345678 -> "0912 345 678": a spreadsheet keeps it as written, leading 0 included."""
    if not phone:
        return ""
    return f"{phone[:4]} {phone[4:7]} {phone[7:]}" if len(phone) == 10 else phone
