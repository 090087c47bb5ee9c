"""Vietnamese mobile numbers: found once here for the parser, and masked for anything public.

Phone numbers are personal data: the public feed, exports for viewers and the logs only ever
show them masked, through `mask_phones_in` — the one scrubber of every public path. It is looser
than the parser's `find_phones`: any separators a person types (spaces, dots, dashes, commas,
brackets), full-width or other Unicode digits, and a number written without its leading 0.
"""

from __future__ import annotations

import unicodedata
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


# A run of digits and separators: the run is scrubbed when its digits make a mobile number.
_SEP = r"[\s.,\-()/]{0,3}"
_DIGIT_RUN = regex.compile(rf"(?<!\d{_SEP})\+?\(?\d(?:{_SEP}\d)*(?!{_SEP}\d)")


def _is_mobile(digits: str) -> bool:
    if digits.startswith("84") and len(digits) == 11:
        digits = digits[2:]
    elif digits.startswith("0") and len(digits) == 10:
        digits = digits[1:]
    return len(digits) == 9 and digits[0] in "35789"


def mask_phones_in(text: str) -> str:
    """The text with every mobile number in it masked, however it is written (comment text and
    names on the feed, log lines, exports for others)."""
    result: str = _DIGIT_RUN.sub(lambda m: _mask_run(m.group()), text)
    return result


def _mask_run(run: str) -> str:
    """Mask each stretch of consecutive digit groups of a run that makes a mobile number (a run
    may hold a quantity or a price next to the number: "2 0912 345 678")."""
    groups = [(g.start(), g.end(), _ascii(g.group())) for g in _GROUP.finditer(run)]
    out, done, i = [], 0, 0
    while i < len(groups):
        digits = ""
        for j in range(i, len(groups)):
            digits += groups[j][2]
            if len(digits) > 11:
                break
            if _is_mobile(digits):
                start = 0 if i == 0 else groups[i][0]  # with a leading + or ( of the run
                out += [run[done:start], mask_phone(_national(digits)) or ""]
                done, i = groups[j][1], j
                break
        i += 1
    return "".join(out) + run[done:]


_GROUP = regex.compile(r"\d+")


def _ascii(digits: str) -> str:
    return "".join(str(unicodedata.digit(ch)) for ch in digits)


def _national(digits: str) -> str:
    return digits if digits.startswith("0") else "0" + digits.removeprefix("84")
