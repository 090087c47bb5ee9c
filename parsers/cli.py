"""`chotdon parse`: the parser for people (`--text`, `--sample`) and for tools (JSON Lines on
stdin, one JSON line out per line in). The one module of `parsers` that reads and writes."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterable
from importlib import resources
from typing import IO, Any

import msgspec

from chotdon.catalog import Catalog, load_catalog, read_catalog_document
from chotdon.config import settings
from chotdon.formatting import INTENT_LABELS, format_qty, format_vnd
from chotdon.phones import mask_phone, mask_phones_in
from chotdon.records import MAX_TEXT_CHARS, Intent

from .catalog_check import check_catalog
from .parser import Parser

DESCRIPTION = (
    "Read JSON Lines {id, text, current} on stdin; write one JSON line per input "
    "{id, intent, items, phone, confidence, parser_version}."
)


def _parse_lines(catalog: Catalog, lines: Iterable[bytes], out: IO[str], explain: bool) -> int:
    """The JSON Lines contract: one output line of valid JSON per input line, errors included,
    whatever comes in (bad UTF-8, half an emoji, numbers beyond a double, deep nesting)."""
    parser = Parser(catalog)
    errors = 0
    for line in lines:
        if not line.strip():
            continue
        row = _parse_line(parser, line, explain)
        errors += "error" in row
        _emit(out, row)
    return errors


def _parse_line(parser: Parser, line: bytes, explain: bool) -> dict[str, Any]:
    try:
        record = msgspec.json.decode(line)
    except (msgspec.DecodeError, RecursionError) as exc:
        reason = "nested too deeply" if isinstance(exc, RecursionError) else str(exc)
        return {"id": None, "error": f"invalid JSON: {reason}"}
    if not isinstance(record, dict):
        return {"id": None, "error": "expected a JSON object"}
    cid = record.get("id")
    if not isinstance(cid, str | int | float | None) or isinstance(cid, bool):
        return {"id": None, "error": "field 'id' must be a string, a number or null"}
    text, current = record.get("text"), record.get("current")
    if not isinstance(text, str):
        return {"id": cid, "error": "field 'text' is missing or not a string"}
    if len(text) > MAX_TEXT_CHARS:
        return {"id": cid, "error": f"field 'text' is longer than {MAX_TEXT_CHARS} characters"}
    if current is not None and not isinstance(current, str):
        return {"id": cid, "error": "field 'current' must be a product code or null"}
    result = parser.parse(text, current)
    row: dict[str, Any] = {
        "id": cid,
        "intent": result.intent,
        "items": msgspec.to_builtins(result.items),
        "phone": result.phone,
        "confidence": result.confidence,
        "parser_version": result.parser_version,
    }
    if explain:
        row["explanation"] = msgspec.to_builtins(result.explanation)
    return row


def _emit(out: IO[str], row: dict[str, Any]) -> None:
    out.write(msgspec.json.encode(row).decode() + "\n")
    out.flush()


def describe(intent: Intent, catalog: Catalog, text: str, explain: bool) -> str:
    """A parse result for a person, in Vietnamese."""
    lines = [
        f"«{mask_phones_in(text)}»",
        f"  → {INTENT_LABELS[intent.intent]} ({intent.intent}), độ tin cậy {intent.confidence:.2f}",
    ]
    total = 0.0
    for item in intent.items:
        product = catalog.by_sku(item.sku)
        name = product.name if product else item.sku
        unit = product.unit if product else ""
        variant = f" [{item.variant}]" if item.variant else ""
        price = ""
        if product and item.qty is not None:
            amount = item.qty * product.price_of(item.variant)
            total += amount
            price = f" = {format_vnd(amount)}"
        lines.append(f"    • {item.sku} {name}{variant} × {format_qty(item.qty)} {unit}{price}")
    if total and intent.intent == "order":
        lines.append(f"    Tổng: {format_vnd(total)}")
    if intent.phone:
        lines.append(f"    SĐT: {mask_phone(intent.phone)}")
    if explain:
        lines.extend(
            f"    - {m.rule}: «{mask_phones_in(m.text)}» [{m.start}:{m.end}]"
            for m in intent.explanation
        )
    return "\n".join(lines)


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.description = DESCRIPTION
    p.add_argument(
        "--catalog",
        default=settings().catalog,
        help="catalog JSON file or bundled name (env CHOTDON_CATALOG; default %(default)s)",
    )
    p.add_argument("--text", help="parse this one comment and print it for a person")
    p.add_argument("--current", help="with --text: the product code the host is showing")
    p.add_argument("--sample", action="store_true", help="parse the bundled sample comments")
    p.add_argument("--explain", action="store_true", help="add which rule matched which span")


def cmd_parse(args: argparse.Namespace) -> int:
    catalog = load_catalog(args.catalog)
    parser = Parser(catalog)
    if args.text is not None:
        print(describe(parser.parse(args.text, args.current), catalog, args.text, args.explain))
        return 0
    if args.sample:
        sample = resources.files("chotdon") / "data" / "sample_comments.jsonl"
        print(f"Phiên: {catalog.title}\n")
        for line in sample.read_text(encoding="utf-8").splitlines():
            row = json.loads(line)
            text = row["text"]
            print(describe(parser.parse(text, row.get("current")), catalog, text, args.explain))
        return 0
    errors = _parse_lines(catalog, sys.stdin.buffer, sys.stdout, args.explain)
    if errors:
        print(f"chotdon parse: {errors} line(s) could not be read", file=sys.stderr)
    return 0


def add_check_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("catalog", help="the catalog file (JSON) to check, or a bundled one by name")


def cmd_check(args: argparse.Namespace) -> int:
    """`chotdon catalog check CATALOG.json`: 0 when the parser reads the catalog as written,
    1 with findings (each says what the parser will do and how to fix the catalog)."""
    findings = check_catalog(read_catalog_document(args.catalog))
    for finding in findings:
        print(finding.line())
    print(f"{args.catalog}: {len(findings) or 'no'} finding{'s' * (len(findings) != 1)}")
    return 1 if findings else 0
