"""What to tell a buyer about their order, and how often: pure, no I/O, no clock of its own.

An order event caused by a buyer's comment on a platform that allows an answer becomes one
`Reply`: the text from the host's Vietnamese template for its kind, addressed to that comment.
Templates use the placeholders {ten} (the buyer's name), {hang} (the confirmed lines), {tong}
(the total), {cho} (the lines waiting for stock) and {thieu} (the detail the shop needs); the host
can edit them in a JSON file of the same keys. A reply never carries a phone number: it may be
public, so any number that slipped into a name is masked.
"""

from __future__ import annotations

import json
import string
from collections.abc import Mapping
from dataclasses import dataclass, field

from chotdon.catalog import Catalog
from chotdon.formatting import format_qty, format_vnd
from chotdon.phones import mask_phones_in
from chotdon.records import OrderEvent, OrderLine

DEFAULT_TEMPLATES: dict[str, str] = {
    "confirmed": "Cảm ơn {ten}! Shop đã chốt đơn: {hang}. Tổng {tong}.",
    "updated": "{ten} ơi, đơn của bạn đã cập nhật: {hang}. Tổng {tong}.",
    "waitlisted": "{ten} ơi, {cho} tạm hết hàng, shop giữ chỗ và báo bạn ngay khi có nhé.",
    "needs_review": "{ten} ơi, bạn cho shop xin thêm {thieu} để chốt đơn nhé.",
}
PLACEHOLDERS = frozenset({"ten", "hang", "tong", "cho", "thieu"})
MAX_TEMPLATE_CHARS = 300
MAX_REPLY_CHARS = 200  # YouTube chat messages are capped at 200 characters
MISSING = {  # what a line awaiting review lacks, as the shop asks for it
    "product": "tên sản phẩm",
    "sku": "mã sản phẩm",
    "variant": "size/màu",
    "qty": "số lượng",
    "line": "chi tiết",
}
ANSWERED_PLATFORMS = frozenset({"facebook", "youtube", "shopee"})  # TikTok has no reply API


class TemplateError(ValueError):
    """A template file the host wrote that cannot be used (said with the key and why)."""


@dataclass(frozen=True, slots=True)
class Reply:
    stream: str
    platform: str
    comment_id: str  # the platform's own id (without the "<platform>:" prefix)
    user_name: str
    text: str
    kind: str


def templates_from(text: str | None, path: str = "templates") -> dict[str, str]:
    """The default templates, with the host's (the text of a JSON file: kind -> template) over
    them; TemplateError names the file, the kind and what is wrong."""
    templates = dict(DEFAULT_TEMPLATES)
    if text is None:
        return templates
    try:
        given = json.loads(text)
    except ValueError as exc:
        raise TemplateError(f"{path}: {exc}") from exc
    if not isinstance(given, dict):
        raise TemplateError(f"{path}: expected an object of kind -> template")
    for kind, text in given.items():
        if kind not in DEFAULT_TEMPLATES:
            raise TemplateError(f"{path}: unknown kind {kind!r} ({', '.join(DEFAULT_TEMPLATES)})")
        if not isinstance(text, str) or not 0 < len(text) <= MAX_TEMPLATE_CHARS:
            raise TemplateError(f"{path}: {kind}: a text of 1 to {MAX_TEMPLATE_CHARS} characters")
        try:
            names = {name for _, name, _, _ in string.Formatter().parse(text) if name}
        except ValueError as exc:
            raise TemplateError(f"{path}: {kind}: {exc}") from exc
        if unknown := names - PLACEHOLDERS:
            raise TemplateError(
                f"{path}: {kind}: unknown placeholder {sorted(unknown)} "
                f"(use {', '.join('{' + p + '}' for p in sorted(PLACEHOLDERS))})"
            )
        templates[kind] = text
    return templates


def reply_for(event: OrderEvent, catalog: Catalog, templates: Mapping[str, str]) -> Reply | None:
    """The reply an order event calls for, or None (a host action, a cancel, no reply API)."""
    platform, sep, comment_id = event.comment_id.partition(":")
    if not sep or platform not in ANSWERED_PLATFORMS or event.kind not in templates:
        return None
    confirmed = [line for line in event.lines if line.status == "confirmed"]
    waiting = [line for line in event.lines if line.status == "waitlisted"]
    review = [line for line in event.lines if line.status == "review"]
    if event.kind == "needs_review" and not review:
        return None
    name = mask_phones_in(event.customer_name or "bạn")
    values = {
        "ten": name,
        "hang": ", ".join(_line(line, catalog) for line in confirmed) or "chưa có món nào",
        "tong": format_vnd(event.total),
        "cho": ", ".join(_line(line, catalog) for line in waiting) or "món bạn chọn",
        "thieu": " và ".join(
            dict.fromkeys(MISSING.get(line.missing or "", "chi tiết") for line in review)
        )
        or "chi tiết",
    }
    text = mask_phones_in(templates[event.kind].format_map(values))
    return Reply(event.stream, platform, comment_id, name, text[:MAX_REPLY_CHARS], event.kind)


def _line(line: OrderLine, catalog: Catalog) -> str:
    product = catalog.by_sku(line.sku)
    name = product.name if product else line.sku
    unit = f" {product.unit}" if product else ""
    variant = f" ({line.variant})" if line.variant else ""
    return f"{format_qty(line.qty)}{unit} {name}{variant}"


@dataclass
class RateLimit:
    """A token bucket: `rate` replies a second on average, bursts of `burst`."""

    rate: float
    burst: float = 3.0
    tokens: float = field(default=-1.0)
    at: float = 0.0

    def delay(self, now: float) -> float:
        """Seconds to wait before the next reply may go (0: now; the token is taken)."""
        if self.tokens < 0:
            self.tokens, self.at = self.burst, now
        self.tokens = min(self.burst, self.tokens + (now - self.at) * self.rate)
        self.at = now
        if self.tokens >= 1:
            self.tokens -= 1
            return 0.0
        return (1 - self.tokens) / self.rate
