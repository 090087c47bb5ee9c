"""The parser: comment text + catalog + current product -> one Intent record."""

from __future__ import annotations

import logging
from collections import OrderedDict
from typing import Final

from chotdon.catalog import Catalog, Product
from chotdon.phones import mask_phones_in
from chotdon.records import PARSE_ERROR, Intent, IntentKind, Item, Match

from . import tags
from .catalog_index import CatalogIndex
from .grammar import Element, Grammar, Qty, Reading, Ref, Variant, canonical_words
from .intents import Clause, Cues, analyse
from .items import Draft, assemble, axes, resolve
from .text import Text, tokenise

PARSER_VERSION: Final = "1.0.0"
CACHE_SIZE: Final = 4096  # livestream comments repeat a lot ("chốt", "+1"): parse each text once

log = logging.getLogger(__name__)


class Parser:
    """A parser for one catalog. Cheap to call, safe on any input, deterministic."""

    def __init__(self, catalog: Catalog, cache_size: int = CACHE_SIZE) -> None:
        self.catalog = catalog
        self.index = CatalogIndex.build(catalog)
        self.grammar = Grammar(self.index)
        self._cache: OrderedDict[tuple[str, str | None], Intent] = OrderedDict()
        self._cache_size = cache_size
        self.errors = 0  # comments the parser failed on since it was built

    def parse(self, text: str, current: str | None = None) -> Intent:
        key = (text, current)
        hit = self._cache.get(key)
        if hit is not None:
            self._cache.move_to_end(key)
            return hit
        try:
            result = self.parse_uncached(text, current)
        except Exception as exc:
            # a bug, never the viewer's fault: the comment still flows (as "other"), the failure
            # is logged with the comment's phone numbers masked and counted by the shell's metrics
            self.errors += 1
            log.exception(
                "parser %s failed on comment %r (current %r): read as 'other'",
                PARSER_VERSION,
                mask_phones_in(str(text)[:200]),
                current,
            )
            result = Intent(
                intent="other",
                parser_version=PARSER_VERSION,
                explanation=[Match(f"{PARSE_ERROR}{type(exc).__name__}", 0, 0, "")],
            )
        self._cache[key] = result
        if len(self._cache) > self._cache_size:
            self._cache.popitem(last=False)
        return result

    def parse_uncached(self, text: str, current: str | None = None) -> Intent:
        """Parse without the cache or the last-resort guard (what the fuzz tests exercise)."""
        t = tokenise(text if isinstance(text, str) else str(text))
        words = canonical_words(t.tokens)
        reading = self.grammar.read(words)
        cues = analyse(reading)
        now = self.catalog.by_code(current)
        kind, items, confidence = _decide(reading, cues, self.catalog, now)
        return Intent(
            intent=kind,
            items=items,
            phone=t.phones[0][0] if t.phones else None,
            confidence=confidence,
            explanation=_explain(t, reading, cues),
            parser_version=PARSER_VERSION,
        )


def _elements_of(reading: Reading, clauses: list[Clause]) -> list[Element]:
    ranges = [(c.start, c.end) for c in clauses]
    return [e for e in reading.elements if any(s <= e.start < end for s, end in ranges)]


def _drafts(reading: Reading, clauses: list[Clause]) -> list[Draft]:
    clause_of = {e.start: reading.words[e.start].clause for e in reading.elements}
    return assemble(_elements_of(reading, clauses), clause_of)


def _context(reading: Reading, before: int, current: Product | None) -> list[Product]:
    refs = [e.product for e in reading.elements if isinstance(e, Ref) and e.start < before]
    return [p for p in (refs[-1] if refs else None, current) if p is not None]


def _resolve(
    reading: Reading,
    drafts: list[Draft],
    catalog: Catalog,
    current: Product | None,
    default_qty: int | None,
) -> list[Item]:
    start = min((e.start for d in drafts for e in (d.ref, d.qty, *d.variants) if e), default=0)
    return resolve(drafts, catalog, _context(reading, start, current), default_qty)


def _decide(
    reading: Reading, cues: Cues, catalog: Catalog, current: Product | None
) -> tuple[IntentKind, list[Item], float]:
    clauses = cues.clauses
    asks = any(c.question == 2 for c in clauses)
    if not cues.mention:
        cancels = [c for c in clauses if c.cancel >= 0 and c.question < 2 and not c.polite]
        if cancels:
            drafts = [d for d in _drafts(reading, cancels) if d.ref or d.qty or d.variants]
            items = _resolve(reading, drafts, catalog, current, None) if drafts else []
            return "cancel", [i for i in items if _named_in(reading, cancels) or i.qty], 0.9
        changes = [c for c in clauses if c.change >= 0]
        if changes:
            if any(c.question == 2 or c.polite for c in changes):
                return "question", [], 0.8
            return "change", _change_items(reading, changes[0], catalog, current), 0.85
        orders = [c for c in clauses if (c.live_verbs or c.bare) and c.question < 2]
        if orders and not cues.complaint:
            items = _order_items(reading, clauses, orders, catalog, current)
            verb = any(c.live_verbs for c in orders)
            wants_more = any(c.more for c in orders)
            has_qty = any(isinstance(e, Qty) for e in _elements_of(reading, orders))
            if items or (verb and (has_qty or wants_more or current is not None)):
                confidence = 0.95 if verb and items else 0.8 if items else 0.6
                return "order", items, confidence
    if asks and not (cues.mention and _asks_viewer_to_buy(reading, cues)):
        return "question", [], 0.9
    if any(w.tok.kind == "phone" for w in reading.words):
        return "contact", [], 0.95
    if any(c.question == 1 for c in clauses) and not cues.complaint:
        return "question", [], 0.6
    return "other", [], 0.7 if not reading.elements else 0.55


def _asks_viewer_to_buy(reading: Reading, cues: Cues) -> bool:
    """ "@Lan mua ko bà": asking another viewer whether they buy is chatter, not a question."""
    words = reading.words
    return any(
        rule == "question:final" and i > 0 and words[i - 1].in_(tags.ORDER_VERBS)
        for rule, i, _ in cues.matches
    )


def _named_in(reading: Reading, clauses: list[Clause]) -> bool:
    return any(isinstance(e, Ref | Variant) for e in _elements_of(reading, clauses))


def _order_items(
    reading: Reading,
    clauses: list[Clause],
    orders: list[Clause],
    catalog: Catalog,
    current: Product | None,
) -> list[Item]:
    chosen: list[Clause] = []
    for c in orders:
        if c.content or c.bare:
            chosen.append(c)
            continue
        # "2 hộp 160k đúng ko shop, chốt luôn": a bare "chốt" takes what was said just before
        before = clauses[c.index - 1] if c.index > 0 else None
        if before is not None and before.content and not before.dead_verbs and before not in chosen:
            chosen.append(before)
    drafts = _drafts(reading, chosen)
    if not drafts:
        return [Item(current.sku, 1, None)] if current is not None else []
    # "ck e đi 41, chốt 1 đôi nhé", "ck e mặc L, lấy 2 áo đen": the size said before
    filled = axes(drafts[0].variants)
    said = [v for v in _values_said_before(reading, clauses, chosen[0]) if not axes([v]) & filled]
    drafts[0].variants = said + drafts[0].variants
    return _resolve(reading, drafts, catalog, current, 1)


def _values_said_before(reading: Reading, clauses: list[Clause], first: Clause) -> list[Variant]:
    """The values of the clause just before an order when that clause says only values."""
    before = clauses[first.index - 1] if first.index > 0 else None
    if before is None or before.dead_verbs or before.question or before.live_verbs:
        return []
    said = _elements_of(reading, [before])
    if said and all(isinstance(e, Variant) for e in said):
        return [e for e in said if isinstance(e, Variant)]
    return []


def _change_items(
    reading: Reading, clause: Clause, catalog: Catalog, current: Product | None
) -> list[Item]:
    """What the change asks for: the product named (after the verb, else before, else the
    current one), the quantity and variant after "thành/sang/lên/xuống" (else the last ones)."""
    verb, target = clause.change, clause.change_target
    after = [e for e in reading.elements if e.start > verb]
    refs = [e for e in after if isinstance(e, Ref)]
    before = [e for e in reading.elements if isinstance(e, Ref) and e.start < verb]
    ref = refs[0] if refs else before[-1] if before else None
    pivot = target if target >= 0 else verb
    qtys = [e for e in after if isinstance(e, Qty) and e.start > pivot] or [
        e for e in after if isinstance(e, Qty)
    ]
    variants = [e for e in after if isinstance(e, Variant) and e.start > pivot] or [
        e for e in after if isinstance(e, Variant)
    ]
    qty = qtys[0] if target >= 0 and qtys else qtys[-1] if qtys else None
    draft = Draft(ref, qty, _adjacent(variants, first=target >= 0))
    return resolve([draft], catalog, [current] if current else [], None)


def _adjacent(variants: list[Variant], first: bool) -> list[Variant]:
    """The first (or last) run of values said together: "sang L đen" is one size and colour."""
    ordered = variants if first else variants[::-1]
    run = ordered[:1]
    filled = axes(run)
    for v in ordered[1:]:
        prev = run[-1]
        more = axes([v])
        if ((v.start != prev.end) if first else (v.end != prev.start)) or more & filled:
            break  # not said together, or another value of the same axis ("42 -> 43")
        run.append(v)
        filled |= more
    return run if first else run[::-1]


def _explain(t: Text, reading: Reading, cues: Cues) -> list[Match]:
    words = reading.words
    out: list[Match] = []

    def span(rule: str, i: int, j: int) -> None:
        if i < j <= len(words):
            start, end = words[i].tok.start, words[j - 1].tok.end
            out.append(Match(rule, start, end, t.norm[start:end]))

    for e in reading.elements:
        if isinstance(e, Qty):
            span(f"quantity:{e.rule}", e.start, e.end)
        elif isinstance(e, Ref):
            span(f"product:{e.rule}:{e.product.sku}", e.start, e.end)
        elif isinstance(e, Variant):
            span("variant", e.start, e.end)
    for rule, i, j in cues.matches:
        span(rule, i, j)
    for w in words:
        if w.tok.kind in ("phone", "money", "measure"):
            out.append(Match(f"not-quantity:{w.tok.kind}", w.tok.start, w.tok.end, w.raw))
    out.sort(key=lambda m: (m.start, m.end, m.rule))
    return out
