"""The order book as CSV for packing and delivery: one row per order line, then a total row.

UTF-8 with a BOM, because Excel reads a CSV without one in the machine's legacy code page and
garbles Vietnamese. Money is whole VND and quantities plain numbers, so a spreadsheet can sum them.
"""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, timedelta, timezone

from chotdon.phones import mask_phone
from chotdon.records import OrderLine

from .view import OrderRow, StreamView

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
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


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
    phone = mask_phone(order.phone) if masked else order.phone
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
    """A viewer's name could be "=HYPERLINK(...)": a leading quote keeps a spreadsheet from
    running it as a formula (CSV injection)."""
    return "'" + value if value.startswith(FORMULA_START) else value
