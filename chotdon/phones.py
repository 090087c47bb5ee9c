"""Vietnamese mobile numbers: found once here for the parser, and masked for anything public.

Phone numbers are personal data: the public feed and the logs only ever show them masked.
"""

from __future__ import annotations

from collections.abc import Iterator

import regex

# 0 or (+)84, then 3/5/7/8/9 and eight more digits, any of them separated by a space, dot or dash.
PHONE_RE = regex.compile(
    r"(?<![\d+])(?:\+\s?84|\(\+?84\)|84|0)[\s.\-]?([35789](?:[\s.\-]?\d){8})(?![\d])"
)


def find_phones(text: str) -> Iterator[tuple[str, int, int]]:
    """(national 10-digit form, start, end) for each mobile number in the text."""
    for m in PHONE_RE.finditer(text):
        yield "0" + "".join(ch for ch in m.group(1) if ch.isdigit()), m.start(), m.end()


def mask_phone(phone: str | None) -> str | None:
    """0912345678 -> 0912***678: enough for a host to recognise, not to call."""
    if not phone:
        return phone
    digits = "".join(ch for ch in phone if ch.isdigit())
    if len(digits) < 7:
        return "***"
    return f"{digits[:4]}***{digits[-3:]}"


def mask_phones_in(text: str) -> str:
    """The text with every mobile number in it masked (comment text on the feed, log lines)."""
    masked: str = PHONE_RE.sub(
        lambda m: mask_phone("0" + regex.sub(r"\D", "", m.group(1))) or "", text
    )
    return masked
